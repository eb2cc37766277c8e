/**
 * `statecraft init [dir]`: writes a ready project (lib/cli/init_templates.ts) into a folder,
 * which is created if missing. Nothing is overwritten without `--force`: when any of the files
 * exists, none is written and every one in the way is named.
 *
 * Until `@statecraft/statecraft` is on JSR, the project's `deno.json` links that name to a local
 * copy: the Statecraft checkout this command runs from (or `--link <dir>`). Deno's `"links"` is
 * the one way measured to serve `deno run`, `deno test`, `deno check`, the REPL and the tasks
 * with no file copied; `--no-link` writes the published package's import alone.
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import denoJson from "../../deno.json" with { type: "json" };
import { CliError } from "./cli_error.ts";
import { pathExists } from "./path_exists.ts";
import { projectFiles } from "./init_templates.ts";

/** The root of the Statecraft copy this module belongs to (`file:` in a checkout). */
const LIBRARY_ROOT = new URL("../../", import.meta.url);

/** Options of `statecraft init`. */
export interface InitOptions {
  /** Overwrite files that exist. */
  force?: boolean;
  /** The Statecraft folder to link; `false` for none (the published package). */
  link?: string | boolean;
}

/** Where `init` reports what it did. */
export interface InitOutput {
  /** Prints one line. */
  line(text: string): void;
}

const CONSOLE: InitOutput = { line: (text) => console.log(text) };

/**
 * Writes the project into `dir` (default: the working folder) and returns the exit code.
 *
 * @throws {CliError} when files exist (without `force`), or the link is not a Statecraft copy
 *
 * @example
 * ```ts ignore
 * import { initCommand } from "./init.ts";
 * await initCommand("my-project", {});
 * ```
 */
export async function initCommand(
  dir = ".",
  options: InitOptions = {},
  out: InitOutput = CONSOLE,
): Promise<number> {
  const root = resolve(dir);
  const link = await linkTarget(options.link);
  const files = projectFiles({ version: denoJson.version, link });
  if (!options.force) {
    const inTheWay: string[] = [];
    for (const file of files) {
      if (await pathExists(join(root, file.path))) inTheWay.push(file.path);
    }
    if (inTheWay.length > 0) {
      throw new CliError(
        `${shown(root)} already has ${inTheWay.join(", ")}: nothing was written ` +
          `(--force overwrites them)`,
      );
    }
  }
  for (const file of files) {
    const path = join(root, file.path);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, file.text);
    out.line(`created ${shown(path)}`);
  }
  const cd = resolve(".") === root ? "" : `cd ${shown(root)} && `;
  out.line("");
  out.line(`next: ${cd}deno task start    (the REPL; then: spawn order o1, send o1 ADD)`);
  out.line(`      ${cd}deno task test     (the tests, with chart coverage)`);
  if (link === undefined) {
    out.line("the project imports the published jsr:@statecraft/statecraft");
  } else {
    out.line(`the project links @statecraft/statecraft to ${link} (see its README)`);
  }
  return 0;
}

/** The folder to link: `--link <dir>` (checked), else this checkout, else none. */
async function linkTarget(option: string | boolean | undefined): Promise<string | undefined> {
  if (option === false) return undefined;
  if (typeof option === "string") {
    const dir = resolve(option);
    const config = await Deno.readTextFile(join(dir, "deno.json")).catch(() => null);
    let name: unknown;
    try {
      name = config === null ? undefined : JSON.parse(config).name;
    } catch {
      name = undefined;
    }
    if (name !== denoJson.name) {
      throw new CliError(
        `--link ${option}: no deno.json naming ${denoJson.name} there; give the folder of a ` +
          `Statecraft checkout`,
      );
    }
    return await Deno.realPath(dir);
  }
  // A compiled binary or the published package has no folder to link: the published package.
  if (LIBRARY_ROOT.protocol !== "file:" || Deno.build.standalone) return undefined;
  return await Deno.realPath(fileURLToPath(LIBRARY_ROOT));
}

/** A path as the user sees it: relative to the working folder when inside it. */
function shown(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
}
