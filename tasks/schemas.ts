/**
 * `deno task schemas`: writes the JSON Schemas in `schemas/` from the zod schemas the files are
 * validated with: `plugin.schema.json` (plugin manifests, `lib/plugins/manifest.ts`) and
 * `statecraft.schema.json` (`statecraft.yaml`, `lib/runtime/config.ts`). With `--check`, writes
 * nothing and exits 1 when a committed schema differs from what would be written.
 *
 * @module
 */
import { manifestJsonSchema } from "../lib/plugins/manifest.ts";
import { configJsonSchema } from "../lib/runtime/config.ts";

/** The folder the schemas are written to. */
export const SCHEMAS_DIR: URL = new URL("../schemas/", import.meta.url);

/**
 * Every schema file, by name inside `schemas/`, with the text the task writes.
 *
 * @example
 * ```ts
 * import { generateSchemas } from "./schemas.ts";
 * const files = generateSchemas();
 * console.log(Object.keys(files)); // ["plugin.schema.json", "statecraft.schema.json"]
 * ```
 */
export function generateSchemas(): Record<string, string> {
  const text = (schema: Record<string, unknown>) => `${JSON.stringify(schema, null, 2)}\n`;
  return {
    "plugin.schema.json": text(manifestJsonSchema()),
    "statecraft.schema.json": text(configJsonSchema()),
  };
}

/**
 * The schema files in `dir` (default `schemas/`) whose text differs from what the task writes,
 * or that are missing.
 */
export async function staleSchemas(dir: URL = SCHEMAS_DIR): Promise<string[]> {
  const stale: string[] = [];
  for (const [name, text] of Object.entries(generateSchemas())) {
    const committed = await Deno.readTextFile(new URL(name, dir)).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    });
    if (committed !== text) stale.push(name);
  }
  return stale;
}

if (import.meta.main) {
  if (Deno.args.includes("--check")) {
    const stale = await staleSchemas();
    for (const name of stale) {
      console.error(`schemas/${name} is out of date: run deno task schemas`);
    }
    Deno.exit(stale.length === 0 ? 0 : 1);
  }
  for (const [name, text] of Object.entries(generateSchemas())) {
    await Deno.writeTextFile(new URL(name, SCHEMAS_DIR), text);
    console.log(`wrote schemas/${name}`);
  }
}
