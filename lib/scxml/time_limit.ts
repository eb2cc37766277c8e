/**
 * Where a document's code is running, for a watchdog in another thread. A same-realm call
 * cannot be interrupted, and `Worker.terminate()` does not stop a Worker stuck in a busy loop,
 * so the time limit of untrusted documents (`statecraft run doc.scxml`) is kept from outside:
 * the Worker running the document shares a small `Int32Array` with the thread that started it;
 * the Worker's event loop ticks a heartbeat into it, and every element whose scripts or
 * expressions run writes its line and column there while it runs (the innermost one wins).
 * When the heartbeat stops for longer than the limit, the watcher knows the document is stuck
 * and where.
 *
 * Nothing is written until `watchDocuments` is called: then each element costs two stores on
 * entry and two on exit.
 *
 * @module
 */

/** The cells of the shared array: heartbeat, line, column. */
export const WATCH_CELLS = 3;
const BEAT = 0;
const LINE = 1;
const COLUMN = 2;

let cells: Int32Array | null = null;

/** Makes the shared array a watchdog reads (`WATCH_CELLS` 32-bit cells). */
export function watchBuffer(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(WATCH_CELLS * 4));
}

/**
 * From now on, this thread records in `shared` the element whose code is running, and ticks
 * its heartbeat every `beatMs` while its event loop is free. Returns a function that stops.
 */
export function watchDocuments(shared: Int32Array, beatMs: number): () => void {
  cells = shared;
  Atomics.add(shared, BEAT, 1);
  const timer = setInterval(() => Atomics.add(shared, BEAT, 1), beatMs);
  return () => {
    clearInterval(timer);
    if (cells === shared) cells = null;
    outer.length = 0;
  };
}

/** A place in a document: 1-based line and column. */
export interface Site {
  line: number;
  column: number;
}

/** The enclosing elements' places (line, column pairs), restored as each one ends. */
const outer: number[] = [];

/** Records that the code of the element at `site` starts running (call `leaveSite` after). */
export function enterSite(site: Site): void {
  const c = cells;
  if (c === null) return;
  outer.push(c[LINE], c[COLUMN]);
  c[LINE] = site.line;
  c[COLUMN] = site.column;
}

/** Records that the element's code ended: the enclosing element's place is current again. */
export function leaveSite(): void {
  const c = cells;
  if (c === null || outer.length === 0) return;
  c[COLUMN] = outer.pop()!;
  c[LINE] = outer.pop()!;
}

/** What a watchdog reads: the heartbeat and the place of the running element (0: none). */
export function readWatch(shared: Int32Array): { beat: number; line: number; column: number } {
  return {
    beat: Atomics.load(shared, BEAT),
    line: Atomics.load(shared, LINE),
    column: Atomics.load(shared, COLUMN),
  };
}
