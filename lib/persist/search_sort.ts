/**
 * Sorted `list`: `sort: { by, order }` by a declared search field, `id`, `updatedAt` or
 * `createdAt`, ascending or descending, ties by id in the same direction, paged with keyset
 * cursors (the sort key and id of the page's last item), so a cursor stays right whichever
 * index a page is read from and when instances come or go between pages.
 *
 * Where an index gives the order, it is read in that order and the read stops after the page:
 * a field's index (`["sc", "ixf", machine, field, value, id]`, then the machine's instances
 * without a value, last in both directions), an index ending in the id for `id`, the
 * updated-at index (by second; each second's instances sorted by their time) for `updatedAt`.
 * Otherwise — `createdAt`, which has no index, or a filter with a more selective index (a field
 * equality or a tag on another field, a state; for `updatedAt` any filter) — the matches of the
 * filter's index are read, sorted in memory and the page kept; past `MAX_SORT_IN_MEMORY`
 * matches the order's index is read instead, or the list is refused when there is none.
 * See docs/operations.md, "Search".
 *
 * @module
 */
import type { KvKey, KvSelector } from "./backend.ts";
import { listSource, matchesList } from "./indexes.ts";
import { compareBytes, encodeKey } from "./key_codec.ts";
import { K } from "./keys.ts";
import type { InstanceRecord } from "./records.ts";
import { compareValues, fieldBounds, type SearchValue } from "./search.ts";
import type { StoreContext } from "./store_context.ts";
import {
  type InstanceInfo,
  type ListOptions,
  type ListPage,
  type ListSort,
  StoreError,
} from "./types.ts";

/** Matches sorted in memory at most (past it, the order's index is read, or the list refused). */
export const MAX_SORT_IN_MEMORY = 10_000;

/** The keys every machine's instances can be sorted by. */
const BUILTIN = ["id", "updatedAt", "createdAt"] as const;

/**
 * Reads the text form of a sort: `field`, `field:asc` or `field:desc`.
 *
 * @example
 * ```ts
 * import { parseSort } from "./search_sort.ts";
 * console.log(parseSort("total:desc")); // { by: "total", order: "desc" }
 * ```
 *
 * @throws {StoreError} code `invalid`, naming the bad text.
 */
export function parseSort(text: string): ListSort {
  const m = /^\s*([A-Za-z_$][\w$.-]*)\s*(?::\s*(asc|desc)\s*)?$/.exec(text);
  if (m === null) {
    throw new StoreError(
      "invalid",
      `sort "${text}": expected field, field:asc or field:desc (e.g. total:desc, updatedAt:desc)`,
    );
  }
  return { by: m[1], order: (m[2] ?? "asc") as "asc" | "desc" };
}

/** Where an item stands in the order: its value (absent: after every value), then its id. */
interface SortKey {
  v?: SearchValue;
  id: string;
}

/** A sort checked against the store: what it reads and how it compares. */
interface Plan {
  sort: Required<ListSort>;
  desc: boolean;
  /** The search field sorted by (undefined: a built-in key). */
  field?: string;
  keyOf(rec: InstanceRecord): SortKey;
}

/** Compares two keys in ascending order: values, absent last; then ids (by UTF-8). */
function compareAsc(a: SortKey, b: SortKey): number {
  if (a.v === undefined || b.v === undefined) {
    if (a.v !== b.v) return a.v === undefined ? 1 : -1;
  } else {
    const c = compareValues(a.v, b.v);
    if (c !== 0) return c;
  }
  return compareValues(a.id, b.id);
}

/** Compares in the plan's order; instances without a value come last in both directions. */
function compare(plan: Plan, a: SortKey, b: SortKey): number {
  if (!plan.desc) return compareAsc(a, b);
  if ((a.v === undefined) !== (b.v === undefined)) return a.v === undefined ? 1 : -1;
  return -compareAsc(a, b);
}

/** The cursor of a sorted page: the sort and the last item's key, base64url JSON. */
function encodeCursor(plan: Plan, key: SortKey): string {
  const v = key.v;
  const body = {
    s: `${plan.sort.by}:${plan.sort.order}`,
    id: key.id,
    // Infinity has no JSON: numbers travel as text when they are not finite.
    ...(v === undefined
      ? {}
      : typeof v === "number" && !Number.isFinite(v)
      ? { n: String(v) }
      : { v }),
  };
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

function decodeCursor(plan: Plan, cursor: string): SortKey {
  const bad = (why: string) =>
    new StoreError("invalid", `cursor: ${why} (pass back the cursor of the previous page)`);
  let body: { s?: unknown; id?: unknown; v?: unknown; n?: unknown };
  try {
    const bin = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    body = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    throw bad("not a cursor of a sorted list");
  }
  const sort = `${plan.sort.by}:${plan.sort.order}`;
  if (body === null || typeof body !== "object" || typeof body.id !== "string") {
    throw bad("not a cursor of a sorted list");
  }
  if (body.s !== sort) throw bad(`made for sort ${JSON.stringify(body.s)}, not ${sort}`);
  if (typeof body.n === "string") return { id: body.id, v: Number(body.n) };
  const v = body.v;
  if (v === undefined) return { id: body.id };
  if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
    throw bad("not a cursor of a sorted list");
  }
  return { id: body.id, v };
}

/** The fields `machine` declares searchable: the definition here, or the one recorded. */
async function declaredFields(ctx: StoreContext, machine: string): Promise<string[] | null> {
  const def = ctx.machines.get(machine);
  if (def !== undefined) return [...(def.config.search?.context ?? [])];
  const recorded = (await ctx.backend.get<string>(K.searchDecl(machine))).value;
  if (typeof recorded !== "string") return null;
  try {
    const fields = JSON.parse(recorded)[0];
    return Array.isArray(fields) ? fields.map(String) : null;
  } catch {
    return null;
  }
}

/** Checks `options.sort` and makes its plan; errors name the field. */
async function planOf(ctx: StoreContext, options: ListOptions): Promise<Plan> {
  const s = options.sort!;
  const order = s.order ?? "asc";
  if (order !== "asc" && order !== "desc") {
    throw new StoreError("invalid", `sort by "${s.by}": order must be asc or desc, not "${order}"`);
  }
  const sort = { by: s.by, order };
  const desc = order === "desc";
  if (s.by === "id") return { sort, desc, keyOf: (r) => ({ id: r.id }) };
  if (s.by === "updatedAt") return { sort, desc, keyOf: (r) => ({ v: r.updatedAt, id: r.id }) };
  if (s.by === "createdAt") return { sort, desc, keyOf: (r) => ({ v: r.createdAt, id: r.id }) };
  const known = `sort by ${BUILTIN.join(", ")}`;
  if (options.machine === undefined) {
    throw new StoreError(
      "invalid",
      `sort by "${s.by}": sorting by a search field needs a machine (or ${known})`,
    );
  }
  const fields = await declaredFields(ctx, options.machine);
  if (fields === null || !fields.includes(s.by)) {
    const declared = fields === null || fields.length === 0
      ? "it declares no search fields"
      : `its search fields: ${fields.join(", ")}`;
    throw new StoreError(
      "invalid",
      `sort by "${s.by}": not a search field of machine "${options.machine}" (${declared}; ` +
        `or ${known})`,
    );
  }
  const field = s.by;
  return { sort, desc, field, keyOf: (r) => ({ v: r.search?.f?.[field], id: r.id }) };
}

/** A selector of `prefix` between `start` (inclusive) and `end` (exclusive), either optional. */
function between(prefix: KvKey, start: KvKey | null, end: KvKey | null): KvSelector {
  if (start !== null && end !== null) return { start, end };
  if (start !== null) return { prefix, start };
  if (end !== null) return { prefix, end };
  return { prefix };
}

const later = (a: KvKey | null, b: KvKey): KvKey =>
  a === null || compareBytes(encodeKey(a), encodeKey(b)) < 0 ? b : a;
const earlier = (a: KvKey | null, b: KvKey): KvKey =>
  a === null || compareBytes(encodeKey(a), encodeKey(b)) > 0 ? b : a;

/** The smallest string after `id`: keys `[...p, id + "\0"]` start right after `[...p, id]`. */
const after = (id: string): string => id + "\0";

/** Records of a listing's entries (id at `idAt`) passing the filters, in listing order. */
async function* records(
  ctx: StoreContext,
  options: ListOptions,
  selector: KvSelector,
  idAt: number,
  reverse: boolean,
): AsyncGenerator<{ rec: InstanceRecord; key: KvKey }> {
  const iter = ctx.backend.list<unknown>(selector, { reverse, batchSize: 200 });
  for await (const entry of iter) {
    const id = entry.key[idAt] as string;
    const rec = (await ctx.backend.get<InstanceRecord>(K.inst(id))).value;
    if (rec !== null && matchesList(rec, options)) yield { rec, key: entry.key };
  }
}

/**
 * The filter's matches in the plan's order, from an index that gives it (after `from`), or
 * null when none does.
 */
function ordered(
  ctx: StoreContext,
  options: ListOptions,
  plan: Plan,
  from: SortKey | undefined,
): AsyncGenerator<InstanceRecord> | null {
  if (plan.field !== undefined) return byField(ctx, options, plan, plan.field, from);
  if (plan.sort.by === "updatedAt") return byUpdated(ctx, options, plan, from);
  if (plan.sort.by !== "id") return null;
  const source = listSource(options);
  let prefix: KvKey;
  let idAt: number;
  if (
    "prefix" in source.selector && !("start" in source.selector) && source.idAt ===
      source.selector.prefix.length &&
    !("end" in source.selector)
  ) {
    ({ selector: { prefix }, idAt } = source as { selector: { prefix: KvKey }; idAt: number });
  } else if (options.machine !== undefined) {
    prefix = ["sc", "ixm", options.machine];
    idAt = 3;
  } else {
    prefix = K.instPrefix();
    idAt = 2;
  }
  return byId(ctx, options, plan, prefix, idAt, from);
}

async function* byId(
  ctx: StoreContext,
  options: ListOptions,
  plan: Plan,
  prefix: KvKey,
  idAt: number,
  from: SortKey | undefined,
): AsyncGenerator<InstanceRecord> {
  const start = from !== undefined && !plan.desc ? [...prefix, after(from.id)] : null;
  const end = from !== undefined && plan.desc ? [...prefix, from.id] : null;
  for await (const { rec } of records(ctx, options, between(prefix, start, end), idAt, plan.desc)) {
    yield rec;
  }
}

/** A field's index in order, then (no clause on the field) the instances without a value. */
async function* byField(
  ctx: StoreContext,
  options: ListOptions,
  plan: Plan,
  field: string,
  from: SortKey | undefined,
): AsyncGenerator<InstanceRecord> {
  const machine = options.machine!;
  const prefix: KvKey = ["sc", "ixf", machine, field];
  const bounds = fieldBounds(options.where ?? [], machine, field);
  if (from === undefined || from.v !== undefined) {
    let start: KvKey | null = bounds?.start ?? null;
    let end: KvKey | null = bounds?.end ?? null;
    if (from !== undefined) {
      if (plan.desc) end = earlier(end, [...prefix, from.v!, from.id]);
      else start = later(start, [...prefix, from.v!, after(from.id)]);
    }
    for await (
      const { rec, key } of records(ctx, options, between(prefix, start, end), 5, plan.desc)
    ) {
      // An entry one commit behind its record: the record is listed at its current value.
      const v = rec.search?.f?.[field];
      if (
        v !== undefined && typeof v === typeof key[4] &&
        compareValues(v, key[4] as SearchValue) === 0
      ) {
        yield rec;
      }
    }
  }
  // Every clause on the field needs a value: with one, no instance without a value matches.
  if (bounds !== null) return;
  const ixm: KvKey = ["sc", "ixm", machine];
  const cont = from !== undefined && from.v === undefined;
  const start = cont && !plan.desc ? [...ixm, after(from.id)] : null;
  const end = cont && plan.desc ? [...ixm, from.id] : null;
  for await (const { rec } of records(ctx, options, between(ixm, start, end), 3, plan.desc)) {
    if (rec.search?.f?.[field] === undefined) yield rec;
  }
}

/** The updated-at index (by second), each second's instances sorted by their time and id. */
async function* byUpdated(
  ctx: StoreContext,
  options: ListOptions,
  plan: Plan,
  from: SortKey | undefined,
): AsyncGenerator<InstanceRecord> {
  const prefix: KvKey = ["sc", "ixu"];
  let start: KvKey | null = options.updatedAfter === undefined
    ? null
    : [...prefix, Math.floor(options.updatedAfter / 1000)];
  let end: KvKey | null = null;
  if (from !== undefined) {
    const second = Math.floor(from.v as number / 1000);
    if (plan.desc) end = [...prefix, second + 1];
    else start = later(start, [...prefix, second]);
  }
  let second: number | undefined;
  let bucket: InstanceRecord[] = [];
  const flush = function* (): Generator<InstanceRecord> {
    const keyed = bucket.map((rec) => ({ rec, key: plan.keyOf(rec) }))
      .filter((x) => from === undefined || compare(plan, x.key, from) > 0)
      .sort((a, b) => compare(plan, a.key, b.key));
    bucket = [];
    for (const x of keyed) yield x.rec;
  };
  for await (
    const { rec, key } of records(ctx, options, between(prefix, start, end), 3, plan.desc)
  ) {
    if (key[2] !== second) {
      yield* flush();
      second = key[2] as number;
    }
    // An entry one commit behind its record: the record is listed in its current second.
    if (Math.floor(rec.updatedAt / 1000) === second) bucket.push(rec);
  }
  yield* flush();
}

/**
 * The filter's matches after `from`, sorted in memory, or null when there are more than
 * `MAX_SORT_IN_MEMORY` entries to read.
 */
async function inMemory(
  ctx: StoreContext,
  options: ListOptions,
  plan: Plan,
  from: SortKey | undefined,
): Promise<{ rec: InstanceRecord; key: SortKey }[] | null> {
  const { selector, idAt } = listSource(options);
  const seen = new Set<string>();
  const out: { rec: InstanceRecord; key: SortKey }[] = [];
  let read = 0;
  for await (const { rec } of records(ctx, options, selector, idAt, false)) {
    if (++read > MAX_SORT_IN_MEMORY) return null;
    if (seen.has(rec.id)) continue;
    seen.add(rec.id);
    const key = plan.keyOf(rec);
    if (from === undefined || compare(plan, key, from) > 0) out.push({ rec, key });
  }
  return out.sort((a, b) => compare(plan, a.key, b.key));
}

/** Whether the filter has an index more selective than the order's (then: sort in memory). */
function selective(options: ListOptions, plan: Plan): boolean {
  if (plan.sort.by === "createdAt") return true;
  if (plan.sort.by === "id") {
    const s = listSource(options);
    return !("prefix" in s.selector && !("start" in s.selector) && !("end" in s.selector) &&
      s.idAt === s.selector.prefix.length);
  }
  if (plan.sort.by === "updatedAt") {
    return options.machine !== undefined || options.state !== undefined ||
      options.status !== undefined || (options.where ?? []).length > 0;
  }
  if (options.state !== undefined) return true;
  return (options.where ?? []).some((c) => "tag" in c || (c.op === "=" && c.field !== plan.field));
}

/** `list` with `options.sort`: see the module's documentation for what is read. */
export async function sortedList(ctx: StoreContext, options: ListOptions): Promise<ListPage> {
  const plan = await planOf(ctx, options);
  const limit = Math.max(1, Math.min(options.limit ?? 100, 1000));
  const from = options.cursor === undefined ? undefined : decodeCursor(plan, options.cursor);
  const page: InstanceRecord[] = [];
  let more = false;
  let sorted = selective(options, plan) ? await inMemory(ctx, options, plan, from) : null;
  const stream = sorted === null ? ordered(ctx, options, plan, from) : null;
  if (sorted === null && stream === null) {
    throw new StoreError(
      "invalid",
      `sort by "${plan.sort.by}": more than ${MAX_SORT_IN_MEMORY} instances match and no index ` +
        `gives this order; narrow the filter (machine, state, status, where)`,
    );
  }
  if (sorted !== null) {
    more = sorted.length > limit;
    page.push(...sorted.slice(0, limit).map((x) => x.rec));
    sorted = null;
  } else {
    const seen = new Set<string>();
    for await (const rec of stream!) {
      if (seen.has(rec.id)) continue;
      seen.add(rec.id);
      page.push(rec);
      // A full page has a cursor (the next page may be empty: the index is not read further).
      if (page.length >= limit) {
        more = true;
        break;
      }
    }
  }
  const items: InstanceInfo[] = [];
  for (const rec of page) {
    const cached = ctx.cache.peek(rec.id);
    items.push(
      ctx.info(
        rec,
        cached?.instance,
        cached === undefined ? await ctx.records.readContext(rec) : undefined,
      ),
    );
  }
  if (!more || page.length === 0) return { items };
  return { items, cursor: encodeCursor(plan, plan.keyOf(page.at(-1)!)) };
}
