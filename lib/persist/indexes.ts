/**
 * Secondary indexes of instances (machine, state, status, updated-at second, timers by due
 * time, and the search fields and tags of lib/persist/search.ts), kept in the same commit as the record they index, and the listing each filter of
 * `list` reads (never a scan of all instances when filtered).
 *
 * @module
 */
import type { KvKey, KvMutation, KvSelector } from "./backend.ts";
import { K } from "./keys.ts";
import type { InstanceRecord } from "./records.ts";
import { matchesWhere, sameSearch, searchKeys, whereSource } from "./search.ts";
import type { ListOptions } from "./types.ts";

/** Adds the index mutations moving an instance from `old` to `next` (either may be null). */
export function indexChanges(
  old: InstanceRecord | null,
  next: InstanceRecord | null,
  mutations: KvMutation[],
): void {
  const id = (old ?? next)!.id;
  if (old !== null && next !== null && sameIndexesButUpdated(old, next)) {
    // Most events: nothing indexed changed but maybe the updated-at second, whose entry moves
    // (what the diff below would give, without building both sets of keys).
    const was = Math.floor(old.updatedAt / 1000);
    const now = Math.floor(next.updatedAt / 1000);
    if (was !== now) {
      mutations.push({ type: "delete", key: K.ixUpdated(was, id) });
      mutations.push({ type: "set", key: K.ixUpdated(now, id), value: true });
    }
    return;
  }
  const before = indexKeys(old, id);
  const after = indexKeys(next, id);
  for (const [name, key] of before) {
    if (!after.has(name)) mutations.push({ type: "delete", key });
  }
  for (const [name, key] of after) {
    if (!before.has(name)) mutations.push({ type: "set", key, value: true });
  }
}

/**
 * Whether two records of one instance have the same index entries, the updated-at second
 * aside (most events).
 */
function sameIndexesButUpdated(a: InstanceRecord, b: InstanceRecord): boolean {
  if (
    a.status !== b.status || a.archived !== b.archived || a.machine !== b.machine ||
    a.configuration.length !== b.configuration.length || a.timers.length !== b.timers.length ||
    (a.search !== b.search && !sameSearch(a.search, b.search))
  ) return false;
  for (let i = 0; i < a.configuration.length; i++) {
    if (a.configuration[i] !== b.configuration[i]) return false;
  }
  for (let i = 0; i < a.timers.length; i++) {
    if (a.timers[i].due !== b.timers[i].due || a.timers[i].ref !== b.timers[i].ref) return false;
  }
  return true;
}

/** The index entries of an instance record, by a string name for cheap diffing. */
function indexKeys(r: InstanceRecord | null, id: string): Map<string, KvKey> {
  const keys = new Map<string, KvKey>();
  if (r === null) return keys;
  const status = r.archived ? "archived" : r.status;
  const second = Math.floor(r.updatedAt / 1000);
  keys.set(`m\0${r.machine}`, K.ixMachine(r.machine, id));
  keys.set(`t\0${status}`, K.ixStatus(status, id));
  keys.set(`u\0${second}`, K.ixUpdated(second, id));
  for (const s of r.configuration) keys.set(`s\0${s}`, K.ixState(s, r.machine, id));
  searchKeys(r.search, r.machine, id, keys);
  // Archived instances keep their timers in the snapshot, not in the due index.
  if (!r.archived) {
    for (const t of r.timers) keys.set(`d\0${t.due}\0${t.ref}`, K.timer(t.due, id, t.ref));
  }
  return keys;
}

/** The listing a `list` filter reads, and where the instance id is in its keys. */
export function listSource(options: ListOptions): { selector: KvSelector; idAt: number } {
  const where = options.where === undefined ? null : whereSource(options.where, options.machine);
  if (where !== null) return where;
  if (options.state !== undefined) {
    const selector = options.machine !== undefined
      ? { prefix: ["sc", "ixs", options.state, options.machine] }
      : { prefix: ["sc", "ixs", options.state] };
    return { selector, idAt: 4 };
  }
  if (options.machine !== undefined) {
    return { selector: { prefix: ["sc", "ixm", options.machine] }, idAt: 3 };
  }
  if (options.status !== undefined) {
    return { selector: { prefix: ["sc", "ixt", options.status] }, idAt: 3 };
  }
  if (options.updatedAfter !== undefined) {
    const selector = {
      prefix: ["sc", "ixu"],
      start: ["sc", "ixu", Math.floor(options.updatedAfter / 1000)],
    };
    return { selector, idAt: 3 };
  }
  return { selector: { prefix: K.instPrefix() }, idAt: 2 };
}

/** Whether a record passes `list`'s filters (an index entry may be one commit ahead). */
export function matchesList(rec: InstanceRecord, options: ListOptions): boolean {
  if (options.machine !== undefined && rec.machine !== options.machine) return false;
  if (options.status === "archived" ? !rec.archived : rec.archived) return false;
  if (
    options.status !== undefined && options.status !== "archived" &&
    rec.status !== options.status
  ) return false;
  if (options.updatedAfter !== undefined && rec.updatedAt <= options.updatedAfter) return false;
  if (options.state !== undefined && !rec.configuration.includes(options.state)) return false;
  if (options.where !== undefined && !matchesWhere(rec.search, options.where)) return false;
  return true;
}
