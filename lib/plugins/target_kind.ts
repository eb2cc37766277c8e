/**
 * What a path leads to, following symbolic links: where plugins are found on disk, a linked
 * plugin folder counts as the folder it points to. Its counterpart `pathExists`
 * (`lib/cli/path_exists.ts`) answers the other question, "is anything at this path, links not
 * followed", for commands that must not write through a link.
 *
 * @module
 */

/** What a path leads to: a file, a folder, something else (a socket, a device). */
export type TargetKind = "file" | "directory" | "other";

/**
 * The kind of what `path` leads to after following symbolic links (`stat`), or `undefined`
 * when nothing is there: no such path, a dangling link, a file where a folder was expected on
 * the way. Other errors (permission refused) are thrown.
 *
 * @example
 * ```ts ignore
 * import { targetKind } from "./target_kind.ts";
 * if (await targetKind("plugins/audit-log") === "directory") console.log("a plugin folder");
 * ```
 */
export async function targetKind(path: string): Promise<TargetKind | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? "file" : info.isDirectory ? "directory" : "other";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw e;
  }
}
