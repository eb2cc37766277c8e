/**
 * What the `statecraft plugin ...` commands share: where output goes, the plugin directories,
 * the signing policy options, reading public key files, and paths shown relative to the
 * working directory.
 *
 * @module
 */
import { isAbsolute, relative, resolve } from "node:path";
import { targetKind } from "../plugins/target_kind.ts";
import { CliError } from "./cli_error.ts";

/** The plugin directory when `--plugins` is not given. */
export const DEFAULT_PLUGIN_DIR = "plugins";

/** Where the plugin commands write: results to `line` (stdout), notes to `warn` (stderr). */
export interface PluginOutput {
  /** Receives a line for stdout. */
  line(text: string): void;
  /** Receives a warning, a note or a plugin's log line for stderr. */
  warn(text: string): void;
}

/** The console: `line` to stdout, `warn` to stderr. */
export const CONSOLE: PluginOutput = {
  line: (text) => console.log(text),
  warn: (text) => console.error(text),
};

/** `--plugins <dir>` (repeatable): the directories holding plugin folders. */
export interface PluginDirsOptions {
  /** Plugin directories (default `plugins`). */
  plugins?: string[];
}

/** The signing policy options of `list`, `call` and `check`. */
export interface PolicyOptions {
  /** `allow` (default): unsigned plugins load (not in trusted isolation); `deny`: they do not. */
  unsigned?: "allow" | "deny";
  /** Public key files (`.pub`, written by `plugin keygen`) whose signatures are trusted. */
  trustedKey?: string[];
}

/** The plugin directories to use: `--plugins` or the default. */
export function pluginDirs(options: PluginDirsOptions): string[] {
  return options.plugins === undefined || options.plugins.length === 0
    ? [DEFAULT_PLUGIN_DIR]
    : options.plugins;
}

/** A path as shown to the user: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const abs = resolve(path);
  const rel = relative(Deno.cwd(), abs);
  if (rel === "") return ".";
  return rel.startsWith("..") || isAbsolute(rel) ? abs : rel;
}

/** A message with absolute paths under the working directory made relative. */
export function relativeMessage(message: string): string {
  const cwd = Deno.cwd().replace(/\/$/, "");
  return message.replaceAll(`${cwd}/`, "");
}

/** A message on one line: line breaks and the indentation after them become one space. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * Reads public key files (`<prefix>.pub` as `plugin keygen` writes them: the base64 of the
 * raw 32-byte Ed25519 key on one line).
 *
 * @throws {CliError} for a file that cannot be read or does not hold a public key
 */
export async function readPublicKeys(files: readonly string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const file of files) {
    const text = await readKeyFile(file, "public key");
    if (decodedLength(text) !== 32) {
      throw new CliError(
        `${file} is not a plugin public key (the base64 of 32 bytes, as written by ` +
          "statecraft plugin keygen to <prefix>.pub)",
      );
    }
    keys.push(text);
  }
  return keys;
}

/** The trimmed text of a key file, or a `CliError` saying why it cannot be read. */
export async function readKeyFile(file: string, what: string): Promise<string> {
  try {
    return (await Deno.readTextFile(file)).trim();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`${what} file ${file} does not exist (make one with plugin keygen)`);
    }
    throw new CliError(`cannot read ${what} file ${file}: ${(e as Error).message}`);
  }
}

/** The number of bytes `text` decodes to as base64, or -1 when it is not base64. */
export function decodedLength(text: string): number {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return -1;
  try {
    return atob(text).length;
  } catch {
    return -1;
  }
}

/**
 * Pads columns to a common width, two spaces apart (the last column is not padded).
 *
 * @example
 * ```ts
 * import { formatTable } from "./plugin_common.ts";
 * formatTable(["NAME", "STATE"], [["metrics", "active"]]); // ["NAME     STATE", "metrics  active"]
 * ```
 */
export function formatTable(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths: number[] = [];
  for (const row of all) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return all.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ")
      .trimEnd()
  );
}

/** `1 plugin`, `2 plugins`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The plugin folder a `sign` or `verify` argument names: a directory, or the name of a plugin
 * in one of the plugin directories.
 *
 * @throws {CliError} when it is neither
 */
export async function resolvePluginDir(arg: string, options: PluginDirsOptions): Promise<string> {
  if (await isDirectory(arg)) {
    if (!(await isFile(`${arg}/plugin.yaml`))) {
      throw new CliError(`${arg} is not a plugin folder (it has no plugin.yaml)`);
    }
    return arg;
  }
  if (/^[a-z][a-z0-9-]*$/.test(arg)) {
    for (const dir of pluginDirs(options)) {
      const folder = `${dir.replace(/\/+$/, "")}/${arg}`;
      if (await isFile(`${folder}/plugin.yaml`)) return folder;
    }
  }
  throw new CliError(
    `no plugin folder ${arg}: give a folder with a plugin.yaml, or the name of a plugin in ` +
      pluginDirs(options).join(", "),
  );
}

/** Whether `path` leads to a directory, links followed (false when nothing is there). */
export async function isDirectory(path: string): Promise<boolean> {
  return await targetKind(path) === "directory";
}

async function isFile(path: string): Promise<boolean> {
  return await targetKind(path) === "file";
}
