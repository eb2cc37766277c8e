/**
 * Where `plugin keygen` may put a private key: not where `git add .` would pick it up. Inside a
 * git work tree, the key file must be covered by a `.gitignore` (of its folder or one above,
 * up to the work tree's root); outside any work tree, anywhere will do. The default folder,
 * `.statecraft/keys/`, carries its own `.gitignore` (`*`).
 *
 * Only the plain `.gitignore` patterns are understood (`*.key`, `name.key`, `dir/`, `/dir`,
 * `a/b/`, with `*` and `?`): a key covered only by something fancier is refused, and the
 * message says how to place it.
 *
 * @module
 */
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathExists } from "./path_exists.ts";

/** The folder private keys go to by default (relative to the working directory). */
export const KEYS_DIR = ".statecraft/keys";

/**
 * Creates `dir` (mode 0700) with a `.gitignore` of `*` when it is a `.statecraft/keys` folder
 * that does not exist yet, so the keys in it are never committed whatever the project's own
 * `.gitignore` says. Other folders are left alone.
 */
export async function prepareKeysDir(dir: string): Promise<void> {
  if (!resolve(dir).endsWith(`${sep}${join(".statecraft", "keys")}`) || await pathExists(dir)) {
    return;
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(
    join(dir, ".gitignore"),
    "# Private signing keys (statecraft plugin keygen): never committed.\n*\n",
  );
}

/**
 * Why writing the private key `keyFile` could get it committed, or `undefined` when it is
 * safe: outside any git work tree, or covered by a `.gitignore`.
 */
export async function committablePrivateKey(keyFile: string): Promise<string | undefined> {
  const abs = resolve(keyFile);
  const root = await workTreeRoot(dirname(abs));
  if (root === undefined || await ignored(abs, root)) return undefined;
  const shown = relative(Deno.cwd(), abs) || abs;
  return `refusing to write the private key ${shown}: it is inside the git work tree ${root} ` +
    `and no .gitignore covers it, so it could be committed. Leave out --out (keys go to ` +
    `${KEYS_DIR}/, which is git-ignored), choose --out ${KEYS_DIR}/<name> or a path outside ` +
    `the repository, or add "*.key" to .gitignore`;
}

/** The nearest folder at or above `dir` holding `.git` (a folder, or a file in a worktree). */
async function workTreeRoot(dir: string): Promise<string | undefined> {
  for (let at = dir;; at = dirname(at)) {
    if (await pathExists(join(at, ".git"))) return at;
    if (dirname(at) === at) return undefined;
  }
}

/** Whether a `.gitignore` between `file`'s folder and `root` (both included) covers `file`. */
async function ignored(file: string, root: string): Promise<boolean> {
  for (let dir = dirname(file);; dir = dirname(dir)) {
    const text = await Deno.readTextFile(join(dir, ".gitignore")).catch(() => "");
    const segments = relative(dir, file).split(sep);
    if (text.split("\n").some((line) => covers(line.trim(), segments))) return true;
    if (dir === root || dirname(dir) === dir) return false;
  }
}

/** Whether one `.gitignore` line covers the path `segments` (relative to that file's folder). */
function covers(line: string, segments: string[]): boolean {
  if (line === "" || line.startsWith("#") || line.startsWith("!")) return false;
  const dirOnly = line.endsWith("/");
  const pattern = line.replace(/^\//, "").replace(/\/$/, "");
  if (pattern === "") return false;
  const anchored = line.slice(0, -1).includes("/");
  const last = segments.length - 1;
  if (anchored) {
    // `a/b` or `/a`: matches that path from this folder, or a folder above the file.
    const parts = pattern.split("/");
    if (parts.length > segments.length || (dirOnly && parts.length === segments.length)) {
      return false;
    }
    return parts.every((p, i) => glob(p).test(segments[i]));
  }
  // `name`: any folder on the way, or (not `name/`) the file itself.
  const re = glob(pattern);
  return segments.some((s, i) => (i < last || !dirOnly) && re.test(s));
}

function glob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*+/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${body}$`);
}
