/**
 * SCXML event descriptors (section 3.12.1): a descriptor matches an event name when it equals
 * the name or is a prefix of it at a dot boundary; `"*"` matches every event; a trailing `.*`
 * is allowed and ignored; several descriptors separated by spaces match if any does.
 *
 * @module
 */

/** Splits and normalises a descriptor string (`"error.* done"` -> `["error", "done"]`). */
export function parseDescriptors(descriptor: string): string[] {
  const out: string[] = [];
  for (const raw of descriptor.split(/\s+/)) {
    if (raw === "") continue;
    let token = raw;
    while (token.endsWith(".*")) token = token.slice(0, -2);
    if (token.endsWith(".")) token = token.slice(0, -1);
    out.push(token === "" ? "*" : token);
  }
  return out;
}

/** Whether one normalised descriptor token matches an event name. */
export function tokenMatches(token: string, name: string): boolean {
  if (token === "*" || token === name) return true;
  return name.length > token.length && name.charCodeAt(token.length) === 46 /* . */ &&
    name.startsWith(token);
}

/** Whether any of the normalised tokens matches the event name. */
export function matchesAny(tokens: readonly string[], name: string): boolean {
  for (let i = 0; i < tokens.length; i++) if (tokenMatches(tokens[i], name)) return true;
  return false;
}

/** Why a descriptor is not valid, or `undefined` when it is. */
export function descriptorProblem(descriptor: string): string | undefined {
  if (descriptor.trim() === "") return "an event descriptor must not be empty";
  for (const token of descriptor.split(/\s+/)) {
    if (token === "") continue;
    if (token !== "*" && !/^[^\s.*][^\s*]*?(\.\*)?$/.test(token)) {
      return `"${token}" is not a valid event descriptor (names are dot-separated, "*" only as a ` +
        `whole descriptor or a trailing ".*")`;
    }
    if (token.includes("..")) return `"${token}" has an empty segment`;
  }
  return undefined;
}
