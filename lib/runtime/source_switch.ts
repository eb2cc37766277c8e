/**
 * Whether machine scripts are imported from their source text (inside a compiled binary, or
 * with `STATECRAFT_SOURCE_IMPORT=1`). Apart from `script_source.ts` so that deciding costs
 * nothing: the transpiler loads only when the switch is on.
 *
 * @module
 */

/** The variable that turns source import on under `deno run` (the binary needs none). */
export const SOURCE_IMPORT_ENV = "STATECRAFT_SOURCE_IMPORT";

/** True inside a compiled binary, or when `STATECRAFT_SOURCE_IMPORT=1` (and env is granted). */
export function sourceImportEnabled(): boolean {
  if ((Deno.build as { standalone?: boolean }).standalone === true) return true;
  const env = { name: "env", variable: SOURCE_IMPORT_ENV } as const;
  if (Deno.permissions.querySync(env).state !== "granted") return false;
  return Deno.env.get(SOURCE_IMPORT_ENV) === "1";
}
