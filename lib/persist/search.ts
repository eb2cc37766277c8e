/**
 * Search: the values a machine's `search` declaration indexes (context fields, tags of the
 * active states), kept on the instance record so an index change is a diff of two records;
 * the `where` filter syntax and its matching. See docs/operations.md, "Search".
 *
 * @module
 */
import type { StateConfig } from "../core/types.ts";
import type { KvKey, KvKeyPart, KvSelector } from "./backend.ts";
import { compareBytes, encodeKey } from "./key_codec.ts";
import { K } from "./keys.ts";
import { type AnyMachine, StoreError, type WhereClause } from "./types.ts";

/** An indexable value: what a field index key holds. */
export type SearchValue = string | number | boolean;

/** What an instance record keeps of its search fields: `f` the values, `g` the tags. */
export interface SearchValues {
  f?: Record<string, SearchValue>;
  g?: string[];
}

/** The tags of each state id, per machine (computed once per machine object). */
const tagMaps = new WeakMap<AnyMachine, Map<string, readonly string[]>>();

function tagsOf(machine: AnyMachine): Map<string, readonly string[]> {
  let map = tagMaps.get(machine);
  if (map !== undefined) return map;
  map = new Map();
  const walk = (states: Record<string, StateConfig> | undefined, path: string): void => {
    for (const [key, sc] of Object.entries(states ?? {})) {
      const pathId = path === "" ? key : `${path}.${key}`;
      if (Array.isArray(sc.tags) && sc.tags.length > 0) map!.set(sc.id ?? pathId, sc.tags);
      walk(sc.states, pathId);
    }
  };
  walk(machine.config.states as Record<string, StateConfig> | undefined, "");
  tagMaps.set(machine, map);
  return map;
}

/** Whether a context value can be indexed (NaN has no place in an order). */
function indexable(v: unknown): v is SearchValue {
  return typeof v === "string" || typeof v === "boolean" ||
    (typeof v === "number" && !Number.isNaN(v));
}

/**
 * The search values of an instance of `machine` in `snap` (undefined when the machine
 * declares no search, or is not known here).
 */
export function searchOf(
  machine: AnyMachine | undefined,
  snap: { context?: unknown; configuration: readonly string[] },
): SearchValues | undefined {
  const decl = machine?.config.search;
  if (machine === undefined || decl === undefined) return undefined;
  const out: SearchValues = {};
  const ctx = snap.context;
  if (decl.context !== undefined && typeof ctx === "object" && ctx !== null) {
    const f: Record<string, SearchValue> = {};
    for (const field of decl.context) {
      if (!Object.hasOwn(ctx, field)) continue;
      const v = (ctx as Record<string, unknown>)[field];
      if (indexable(v)) f[field] = v;
    }
    out.f = f;
  }
  if (decl.tags === true) {
    const map = tagsOf(machine);
    const rootTags = (machine.config as { tags?: readonly string[] }).tags ?? [];
    const tags = new Set<string>(rootTags);
    for (const s of snap.configuration) for (const t of map.get(s) ?? []) tags.add(t);
    out.g = [...tags].sort();
  }
  return out;
}

/** A fingerprint of what `searchOf` depends on: changes when the declaration or tags change. */
export function declarationOf(machine: AnyMachine): string | null {
  const decl = machine.config.search;
  if (decl === undefined) return null;
  const tags = decl.tags === true ? [...tagsOf(machine)].sort() : [];
  const rootTags = (machine.config as { tags?: readonly string[] }).tags ?? [];
  return JSON.stringify([decl.context ?? [], decl.tags === true, rootTags, tags]);
}

/** Whether two search values are the same (no index change). */
export function sameSearch(a: SearchValues | undefined, b: SearchValues | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The index keys of `values` (by a string name, for diffing). */
export function searchKeys(
  values: SearchValues | undefined,
  machine: string,
  id: string,
  keys: Map<string, KvKey>,
): void {
  if (values === undefined) return;
  for (const [field, v] of Object.entries(values.f ?? {})) {
    keys.set(`f\0${field}\0${typeof v}\0${String(v)}`, K.ixField(machine, field, v, id));
  }
  for (const tag of values.g ?? []) keys.set(`g\0${tag}`, K.ixTag(tag, machine, id));
}

const CLAUSE = /^\s*([A-Za-z_$][\w$.-]*)\s*(>=|<=|=|>|<)\s*(.*?)\s*$/;

/** Parses one clause's value: `"text"` a string, a number, `true`/`false`, else a string. */
function parseValue(text: string, clause: string): SearchValue {
  if (text.startsWith('"')) {
    try {
      const v = JSON.parse(text);
      if (typeof v === "string") return v;
    } catch { /* reported below */ }
    throw new StoreError("invalid", `where clause "${clause}": bad quoted string ${text}`);
  }
  if (text === "true") return true;
  if (text === "false") return false;
  if (text !== "" && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  return text;
}

/**
 * Parses `where` clauses: `field=value`, `field>value`, `field>=value`, `field<value`,
 * `field<=value`, and `tag=name`. Several clauses all apply (and). A value is a number when it
 * reads as one, `true`/`false`, a JSON-quoted string (`"100"` is the string), else the text.
 *
 * @throws {StoreError} code `invalid`, naming the bad clause.
 */
export function parseWhere(clauses: readonly string[]): WhereClause[] {
  const out: WhereClause[] = [];
  for (const clause of clauses) {
    const m = CLAUSE.exec(clause);
    if (m === null) {
      throw new StoreError(
        "invalid",
        `where clause "${clause}": expected field=value, field>=value, field<value... or tag=name`,
      );
    }
    const [, field, op, text] = m;
    if (field === "tag") {
      if (op !== "=" || text === "") {
        throw new StoreError("invalid", `where clause "${clause}": a tag is matched as tag=name`);
      }
      out.push({ tag: text });
      continue;
    }
    const value = parseValue(text, clause);
    if (op !== "=" && typeof value === "boolean") {
      throw new StoreError("invalid", `where clause "${clause}": booleans have no order`);
    }
    out.push({ field, op: op as "=", value });
  }
  return out;
}

/** Orders values as the key codec does (`string` < `number` < `boolean`, strings by UTF-8). */
export function compareValues(a: SearchValue, b: SearchValue): number {
  return compareBytes(encodeKey([a]), encodeKey([b]));
}

/** Whether `values` pass every clause (a range only matches values of the bound's type). */
export function matchesWhere(
  values: SearchValues | undefined,
  where: readonly WhereClause[],
): boolean {
  for (const c of where) {
    if ("tag" in c) {
      if (!values?.g?.includes(c.tag)) return false;
      continue;
    }
    const v = values?.f?.[c.field];
    if (v === undefined || typeof v !== typeof c.value) return false;
    const cmp = compareValues(v, c.value);
    const ok = c.op === "="
      ? cmp === 0
      : c.op === ">"
      ? cmp > 0
      : c.op === ">="
      ? cmp >= 0
      : c.op === "<"
      ? cmp < 0
      : cmp <= 0;
    if (!ok) return false;
  }
  return true;
}

/** The smallest and the first-past-largest key part of a value's type, for open ranges. */
function typeBounds(v: SearchValue): [low: KvKeyPart, high: KvKeyPart | null] {
  // Key type order: string < bigint < number < boolean (lib/persist/key_codec.ts).
  if (typeof v === "string") return ["", -(2n ** 2000n)];
  if (typeof v === "number") return [-Infinity, false];
  return [false, null];
}

/**
 * The index a `where` filter reads, or null when it has no clause an index serves: a field
 * equality or a tag first (fewest entries), then a field range (bounded to the value's type).
 * Field indexes are per machine: a field clause without `machine` is refused.
 */
export function whereSource(
  where: readonly WhereClause[],
  machine: string | undefined,
): { selector: KvSelector; idAt: number } | null {
  const needMachine = (c: { field: string }): string => {
    if (machine !== undefined) return machine;
    throw new StoreError(
      "invalid",
      `where clause on "${c.field}": field filters need a machine (fields are declared per machine)`,
    );
  };
  for (const c of where) {
    if (!("tag" in c) && c.op === "=") {
      const m = needMachine(c);
      return { selector: { prefix: ["sc", "ixf", m, c.field, c.value] }, idAt: 5 };
    }
  }
  for (const c of where) {
    if ("tag" in c) {
      const prefix = machine === undefined ? ["sc", "ixg", c.tag] : ["sc", "ixg", c.tag, machine];
      return { selector: { prefix }, idAt: 4 };
    }
  }
  const ranges = where.filter((c): c is Extract<WhereClause, { op: string }> => !("tag" in c));
  if (ranges.length === 0) return null;
  const m = needMachine(ranges[0]);
  const prefix: KvKey = ["sc", "ixf", m, ranges[0].field];
  const { start, end } = fieldBounds(where, m, ranges[0].field)!;
  return { selector: end === null ? { prefix, start } : { start, end }, idAt: 5 };
}

/**
 * The part of a field index (`["sc", "ixf", machine, field, value, id]`) the clauses on `field`
 * select: an equality pins the value; ranges of the first clause's type bound it (only values
 * of that type). Null when no clause names the field.
 */
export function fieldBounds(
  where: readonly WhereClause[],
  machine: string,
  field: string,
): { start: KvKey; end: KvKey | null } | null {
  const prefix: KvKey = ["sc", "ixf", machine, field];
  const on = where.filter((c): c is Extract<WhereClause, { op: string }> =>
    !("tag" in c) && c.field === field
  );
  if (on.length === 0) return null;
  const eq = on.find((c) => c.op === "=");
  // Past every id of the value: the first key past [value] is [value, ...ids], then [value, true].
  if (eq !== undefined) return { start: [...prefix, eq.value], end: [...prefix, eq.value, true] };
  const [low, high] = typeBounds(on[0].value);
  let start: KvKey = [...prefix, low];
  let end: KvKey | null = high === null ? null : [...prefix, high];
  for (const c of on) {
    if (typeof c.value !== typeof on[0].value) continue;
    if (c.op === ">=") start = [...prefix, c.value];
    if (c.op === ">") start = [...prefix, c.value, true];
    if (c.op === "<") end = [...prefix, c.value];
    if (c.op === "<=") end = [...prefix, c.value, true];
  }
  return { start, end };
}

/** Sets (or removes) `rec.search` from `snap` under `machine`'s declaration. */
export function setSearch(
  rec: { search?: SearchValues },
  machine: AnyMachine | undefined,
  snap: { context?: unknown; configuration: readonly string[] },
): void {
  const values = searchOf(machine, snap);
  if (values === undefined) delete rec.search;
  else rec.search = values;
}
