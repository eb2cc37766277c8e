/**
 * `statecraft plugin new <name>`: a new plugin folder with a `plugin.yaml` (worker isolation,
 * no permissions, one action `hello`) and a `mod.ts` that passes `plugin check` and answers
 * `plugin call <name> hello '{"name":"x"}'` as it is.
 *
 * The module imports the SDK (`lib/plugins/sdk.ts`) by a relative path when the new folder is
 * inside the Statecraft checkout the command runs from (`../../lib/plugins/sdk.ts` for
 * `plugins/<name>`), so the folder can move with the repository; outside it, by the SDK's
 * absolute `file:` URL, the only specifier that stays right wherever that folder is.
 *
 * @module
 */
import { isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ManifestError, parseManifest } from "../plugins/manifest.ts";
import { CliError } from "./cli_error.ts";
import {
  CONSOLE,
  displayPath,
  pluginDirs,
  type PluginDirsOptions,
  type PluginOutput,
} from "./plugin_common.ts";

/** The SDK module a plugin imports (`definePlugin`), as a URL. */
const SDK_URL = new URL("../plugins/sdk.ts", import.meta.url);
/** The root of the Statecraft checkout this module belongs to. */
const ROOT_URL = new URL("../../", import.meta.url);

/**
 * The specifier a plugin module in `pluginDir` imports the SDK by: a relative path (with `/`)
 * when `pluginDir` is inside `root`, else the SDK's `file:` URL. All paths absolute.
 *
 * @example
 * ```ts
 * import { sdkSpecifier } from "./plugin_scaffold.ts";
 * sdkSpecifier("/repo/plugins/greeter", "/repo/lib/plugins/sdk.ts", "/repo");
 * // "../../lib/plugins/sdk.ts"
 * sdkSpecifier("/srv/plugins/greeter", "/repo/lib/plugins/sdk.ts", "/repo");
 * // "file:///repo/lib/plugins/sdk.ts"
 * ```
 */
export function sdkSpecifier(pluginDir: string, sdkPath: string, root: string): string {
  const inRoot = relative(root, pluginDir);
  if (/^\.\.([\\/]|$)/.test(inRoot) || isAbsolute(inRoot)) return pathToFileURL(sdkPath).href;
  const rel = relative(pluginDir, sdkPath).replaceAll("\\", "/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/**
 * `plugin new <name>`: creates `<dir>/<name>/plugin.yaml` and `mod.ts` in the (one) plugin
 * directory, which is created if missing. Refuses an invalid name and an existing folder.
 * Returns the exit code.
 *
 * @throws {CliError} for an invalid name, several `--plugins`, or a folder that exists
 *
 * @example
 * ```ts ignore
 * import { pluginNewCommand } from "./plugin_scaffold.ts";
 * await pluginNewCommand("greeter", { plugins: ["plugins"] });
 * ```
 */
export async function pluginNewCommand(
  name: string,
  options: PluginDirsOptions,
  out: PluginOutput = CONSOLE,
): Promise<number> {
  const dirs = pluginDirs(options);
  if (dirs.length > 1) {
    throw new CliError(
      `plugin new writes into one plugin directory, not ${dirs.length}: give one --plugins`,
    );
  }
  const manifest = pluginManifestText(name);
  try {
    parseManifest(manifest, "plugin.yaml", { env: () => undefined });
  } catch (e) {
    if (!(e instanceof ManifestError)) throw e;
    throw new CliError(e.problems.map((p) => p.message).join("; "));
  }
  const parent = dirs[0];
  const folder = `${parent.replace(/\/+$/, "")}/${name}`;
  await Deno.mkdir(parent, { recursive: true });
  try {
    await Deno.mkdir(folder);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new CliError(`${displayPath(folder)} already exists: choose another name or remove it`);
    }
    throw e;
  }
  const real = await Deno.realPath(folder);
  const specifier = SDK_URL.protocol === "file:"
    ? sdkSpecifier(
      real,
      await Deno.realPath(fileURLToPath(SDK_URL)),
      await Deno.realPath(fileURLToPath(ROOT_URL)),
    )
    : SDK_URL.href;
  const files: [string, string][] = [
    ["plugin.yaml", manifest],
    ["mod.ts", pluginModuleText(name, specifier)],
  ];
  for (const [file, text] of files) {
    await Deno.writeTextFile(`${folder}/${file}`, text, { createNew: true });
    out.line(`created ${displayPath(`${folder}/${file}`)}`);
  }
  const where = resolve(parent) === resolve("plugins") ? "" : ` --plugins ${parent}`;
  out.line(`try it: statecraft plugin call ${name} hello '{"name":"x"}'${where}`);
  return 0;
}

/**
 * The `plugin.yaml` of a new plugin: worker isolation, no permissions, one action `hello`
 * (also what `statecraft init` puts in a new project's `plugins/`).
 *
 * @example
 * ```ts
 * import { pluginManifestText } from "./plugin_scaffold.ts";
 * const yaml: string = pluginManifestText("greeter"); // "# The manifest of the greeter plugin..."
 * ```
 */
export function pluginManifestText(name: string): string {
  return `# The manifest of the ${name} plugin (every key: schemas/plugin.schema.json).
name: ${name}
version: 0.1.0
description: What ${name} does, in one line
# worker: a Web Worker with only the permissions below (process: a subprocess with CPU and
# memory limits; trusted: in the runtime's own process, signed plugins only).
isolation: worker
# Nothing is granted: list exactly what the plugin needs, for example
#   read: [./data]   write: [./data]   net: [api.example.com:443]   env: [API_TOKEN]
permissions: {}
# The actions mod.ts exports; idempotent ones (safe to retry) also go under idempotent.
provides: [hello]
idempotent: [hello]
# subscribes: ["machine.*"]   hooks: [afterTransition]
`;
}

/**
 * The `mod.ts` of a new plugin, importing `definePlugin` from `sdk` (a specifier).
 *
 * @example
 * ```ts
 * import { pluginModuleText } from "./plugin_scaffold.ts";
 * const code: string = pluginModuleText("greeter", "@statecraft/statecraft/plugin");
 * ```
 */
export function pluginModuleText(name: string, sdk: string): string {
  return `/**
 * The ${name} plugin: its actions (listed under \`provides\` in plugin.yaml), and, when the
 * manifest declares them, handlers of bus events (\`events\`), hooks and \`onLoad\`.
 *
 * Try it: \`statecraft plugin call ${name} hello '{"name":"x"}'\`
 *
 * @module
 */
import { definePlugin } from "${sdk}";

export default definePlugin({
  actions: {
    hello: (payload, ctx) => {
      const name = (payload as { name?: unknown } | null | undefined)?.name;
      return {
        greeting: \`hello, \${typeof name === "string" ? name : "world"}\`,
        from: \`\${ctx.name} \${ctx.version}\`,
      };
    },
  },
});
`;
}
