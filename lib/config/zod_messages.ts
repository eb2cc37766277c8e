/**
 * zod's issues in words a YAML author reads: "must be a list, not the string "x"", "is
 * required", "must be one of allow, deny, not maybe". Issues with their own message (custom
 * refinements) keep it.
 *
 * @module
 */

const KIND_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
};

function describeValue(value: unknown): string {
  if (value === null) return "empty (null)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value === "boolean" ? "" : `the ${typeof value} `}${String(value)}`;
}

/** The message of one zod issue (zod's `error` map), or `undefined` for zod's own. */
// deno-lint-ignore no-explicit-any
export function zodIssueMessage(iss: any): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return "is required";
      if (iss.input === null) {
        return `is empty (expected ${KIND_NAMES[iss.expected] ?? iss.expected})`;
      }
      if (Number.isFinite(iss.input) && iss.expected === "int") {
        return `must be an integer, not ${iss.input}`;
      }
      return `must be ${KIND_NAMES[iss.expected] ?? iss.expected}, not ${describeValue(iss.input)}`;
    case "too_small":
      if (iss.origin === "string" && iss.minimum === 1) return "must not be empty";
      return iss.inclusive === false
        ? `must be greater than ${iss.minimum}`
        : `must be at least ${iss.minimum}`;
    case "too_big":
      return iss.inclusive === false
        ? `must be less than ${iss.maximum}`
        : `must be at most ${iss.maximum}`;
    case "invalid_value":
      return `must be one of ${iss.values.join(", ")}, not ${describeValue(iss.input)}`;
    default:
      return undefined;
  }
}
