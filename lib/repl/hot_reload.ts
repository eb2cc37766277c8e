/**
 * `--watch`: reloads machine scripts when they change. Watches the directories of the
 * scripts the machines came from (editors often replace a file rather than write it), waits
 * for the changes to settle, then runs the session's reload, which prints each outcome.
 *
 * @module
 */
import type { ReplSession } from "./session.ts";

/** Quiet time after the last change before reloading. */
export const SETTLE_MS = 150;

/**
 * Starts watching; returns a function that stops. Changes to `.ts`/`.js` files in the
 * watched directories trigger `session.reload("reload: ")`.
 *
 * @example
 * ```ts ignore
 * const stop = watchScripts(session);
 * // ... edit examples/door.ts: "reload: updated door (examples/door.ts)"
 * stop();
 * ```
 */
export function watchScripts(session: ReplSession): () => void {
  const dirs = [...new Set(session.scriptFiles().map((f) => f.slice(0, f.lastIndexOf("/"))))];
  if (dirs.length === 0) return () => {};
  const watcher = Deno.watchFs(dirs, { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const fire = () => {
    timer = undefined;
    running = running.then(() => session.reload("reload: ")).catch((e) => session.printError(e));
  };
  (async () => {
    try {
      for await (const event of watcher) {
        if (event.kind === "access") continue;
        if (!event.paths.some((p) => /\.(m?[jt]sx?)$/.test(p))) continue;
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(fire, SETTLE_MS);
      }
    } catch {
      // Closed.
    }
  })();
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    try {
      watcher.close();
    } catch {
      // Already closed.
    }
  };
}
