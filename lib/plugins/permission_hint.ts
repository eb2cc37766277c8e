/**
 * What a plugin refused by Deno's permissions should be told. Deno says `Requires write access
 * to "/data/x", run again with the --allow-write flag`, which is right for a program and wrong
 * for a plugin: its permissions come from its manifest, not from flags. The rewrite names the
 * permission and the `plugin.yaml` key to add it under:
 *
 * ```text
 * plugin "audit-log" needs write access to "/data/x": add it under permissions.write in plugins/audit-log/plugin.yaml
 * ```
 *
 * @module
 */
import { isAbsolute, relative } from "node:path";
import type { PluginPermissions } from "./manifest.ts";

/** The permission kinds a manifest grants (the keys of `permissions`). */
type Kind = keyof PluginPermissions;

const KINDS: readonly Kind[] = ["read", "write", "net", "env", "run", "ffi", "sys"];

/**
 * Deno's refusal: `Requires <kind> access to "<what>", run again with the --allow-<kind> flag`,
 * or without `to "<what>"` when the operation needs all of it (`Deno.env.toObject()`).
 */
const REFUSAL = /Requires (\w+) access(?: to "([^"]*)")?, run again with the --allow-\w+ flag/;

/**
 * What a plugin that Deno refused an operation needs, and what to add to which `plugin.yaml`
 * (`needs write access to "/data/x": add it under permissions.write in plugins/x/plugin.yaml`);
 * `undefined` when `message` holds no permission refusal of a kind a manifest grants.
 *
 * @param message the error's message or the plugin's stderr (Deno's text may be anywhere in it)
 * @param manifestPath the plugin's `plugin.yaml` (shown relative to the working directory when
 *   inside it)
 */
export function permissionHint(message: string, manifestPath: string): string | undefined {
  const m = REFUSAL.exec(message);
  if (m === null || !(KINDS as readonly string[]).includes(m[1])) return undefined;
  const kind = m[1] as Kind;
  const file = displayPath(manifestPath);
  const where = `permissions.${kind} in ${file}`;
  if (m[2] === undefined) {
    return kind === "env"
      ? `needs env access to every environment variable (it read the whole environment): ` +
        `list the variables it uses under ${where}`
      : `needs ${kind} access: add what it uses under ${where}`;
  }
  const target = m[2];
  // A listener on port 0 asks for "host:0"; the manifest grants the host (any port).
  const entry = kind === "net" && target.endsWith(":0") ? target.slice(0, -2) : target;
  return `needs ${kind} access to "${target}": add ` +
    `${entry === target ? "it" : `"${entry}"`} under ${where}`;
}

function displayPath(path: string): string {
  try {
    const rel = relative(Deno.cwd(), path);
    return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
  } catch {
    return path;
  }
}
