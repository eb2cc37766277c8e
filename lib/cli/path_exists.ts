/**
 * Whether something is at a path, for commands that must not write over it. Links are not
 * followed; for what a path leads to (a plugin folder through a link), see `targetKind` in
 * `lib/plugins/target_kind.ts`.
 *
 * @module
 */

/**
 * True when anything is at `path`: a file, a folder, or a symbolic link, even a dangling one
 * (`lstat`, so a link is never followed to a place the command would then write through).
 *
 * @example
 * ```ts ignore
 * import { pathExists } from "./path_exists.ts";
 * if (await pathExists("team.key")) console.error("team.key exists");
 * ```
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
