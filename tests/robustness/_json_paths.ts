/**
 * Paths into JSON values, for the property suites that mutate real data (snapshots, export
 * records): every path, breadth first, up to a bound, and the value at a path.
 *
 * @module
 */

/** A path into a JSON value: object keys and array indexes from the root. */
export type JsonPath = (string | number)[];

/**
 * Paths into `value`, breadth first: at most `limit` of them, and at most `width` items of an
 * array or keys of an object followed.
 */
export function pathsOf(value: unknown, limit = 300, width = 30): JsonPath[] {
  const out: JsonPath[] = [];
  const queue: { v: unknown; p: JsonPath }[] = [{ v: value, p: [] }];
  for (let head = 0; head < queue.length && out.length < limit; head++) {
    const { v, p } = queue[head];
    if (p.length > 0) out.push(p);
    if (Array.isArray(v)) v.slice(0, width).forEach((x, i) => queue.push({ v: x, p: [...p, i] }));
    else if (typeof v === "object" && v !== null) {
      for (const k of Object.keys(v).slice(0, width)) {
        queue.push({ v: (v as Record<string, unknown>)[k], p: [...p, k] });
      }
    }
  }
  return out;
}

/** The value at `path` in `root` (undefined where the path leaves the value). */
export function valueAt(root: unknown, path: JsonPath): unknown {
  let v = root;
  for (const k of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}
