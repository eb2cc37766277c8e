/**
 * What a REPL line leaves behind may fail after the line has ended: a timer's callback that
 * throws, a promise rejected with no one waiting for it, a watcher that throws. Without a
 * listener, Deno ends the process on either. While a session runs, {@linkcode catchLater}
 * takes them instead (the global `error` and `unhandledrejection` events, their default
 * prevented) and hands each to a report; the session goes on.
 *
 * @module
 */

/** What failed later: a thrown error (`uncaught`) or a rejected promise (`rejection`). */
export type LaterKind = "uncaught" | "rejection";

/**
 * Takes uncaught errors and unhandled rejections until the returned function is called, and
 * hands each to `report` (which must not throw: what it throws is dropped).
 *
 * @example
 * ```ts
 * import { catchLater } from "./uncaught.ts";
 * const release = catchLater((kind, reason) => console.error(kind, reason));
 * try {
 *   setTimeout(() => {
 *     throw new Error("later");
 *   }, 0); // reported as "uncaught", the process goes on
 * } finally {
 *   setTimeout(release, 10);
 * }
 * ```
 */
export function catchLater(report: (kind: LaterKind, reason: unknown) => void): () => void {
  const tell = (kind: LaterKind, reason: unknown) => {
    try {
      report(kind, reason);
    } catch {
      // A report that fails must not become an uncaught error of its own.
    }
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    tell("uncaught", e.error !== undefined ? e.error : e.message);
  };
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    tell("rejection", e.reason);
  };
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  };
}
