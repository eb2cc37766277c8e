/**
 * Reconciliation of the store's schedules with `statecraft.yaml`: `syncSchedules` brings
 * `config` schedules in line with the file; schedules added at run time (`api`, `cli`, `repl`)
 * are left alone unless the file declares one of the same name.
 *
 * @module
 */
import {
  addSchedule,
  homeOf,
  readAll,
  removeIf,
  type ScheduleHome,
  type ScheduleSource,
  update,
} from "./schedule_records.ts";
import { nextTick, parseSchedule, type ScheduleSpec } from "./schedule_spec.ts";
import type { KvBackend } from "./backend.ts";
import { K } from "./keys.ts";
import { type Store, StoreError } from "./types.ts";

/** Options of {@linkcode syncSchedules}. */
export interface SyncOptions {
  /**
   * Remove the schedules declared in the configuration before (`source: config`) that it no
   * longer declares. Only when a configuration file was read: a runtime started without one
   * says nothing about the schedules.
   */
  prune?: boolean;
  /**
   * The configuration's `schedulesRevision`. The store keeps the highest revision synced; a
   * configuration with a lower one (a node of an older deployment, restarted during a rolling
   * deploy) changes nothing, so it cannot put back what a newer one removed. Without one, the
   * last configuration synced wins.
   */
  revision?: number;
}

/** What the store keeps of the last revision synced (`K.scheduleRevision()`). */
interface RevisionRecord {
  revision: number;
  at: number;
}

/**
 * Reconciles the store's schedules with those declared in `statecraft.yaml`: adds new ones,
 * updates changed definitions (keeping their counters and pause; the tick state, `next` and
 * the ticks waiting, stays when the expression and time zone are unchanged), and with
 * `prune` removes config schedules the file no longer declares. Schedules added at run time
 * (`api`, `cli`, `repl`) are never removed or changed, unless the file declares one of the
 * same name: the file then takes it over. Every write is a checked write and an unchanged
 * schedule is not written, so nodes starting with the same file at once converge without
 * fighting. In an encrypted store, records stored in clear (before encryption covered
 * schedules) are sealed. Returns what it did, one line per schedule changed.
 */
export async function syncSchedules(
  at: ScheduleHome | Store,
  specs: readonly ScheduleSpec[],
  now: number,
  options: SyncOptions = {},
): Promise<string[]> {
  const home = homeOf(at);
  const done: string[] = [];
  if (options.revision !== undefined) {
    const older = await claimRevision(home.backend, options.revision, now);
    if (older !== null) {
      return [
        `schedules of the configuration left as they are: it is schedulesRevision ` +
        `${options.revision}, and the store follows revision ${older} of a newer one`,
      ];
    }
  }
  const declared = new Set<string>();
  for (const s of specs) {
    const spec = parseSchedule(s);
    declared.add(spec.name);
    try {
      await addSchedule(home, spec, { now, source: "config" });
      done.push(`schedule "${spec.name}" added from the configuration`);
      continue;
    } catch (e) {
      if (!(e instanceof StoreError && e.code === "exists")) throw e;
    }
    let was: ScheduleSource | undefined;
    await update(home, spec.name, (r) => {
      was = undefined; // a retry after another writer got there first starts over
      if (canonical(r.spec) === canonical(spec) && r.source === "config") return;
      was = r.source;
      const retimed = r.spec.cron !== spec.cron || r.spec.timezone !== spec.timezone;
      return {
        ...r,
        spec,
        source: "config",
        next: retimed ? nextTick(spec, now) : r.next,
        // Ticks of the old expression that had not run yet are dropped (counted as skipped).
        waiting: retimed ? [] : r.waiting,
        skipped: retimed ? r.skipped + r.waiting.length : r.skipped,
        updatedAt: now,
      };
    }).catch((e) => {
      // Removed by another writer between the add and the update: the next start adds it.
      if (!(e instanceof StoreError && e.code === "not_found")) throw e;
    });
    if (was === "config") done.push(`schedule "${spec.name}" updated from the configuration`);
    else if (was !== undefined) {
      done.push(`schedule "${spec.name}" (added by ${was}) now follows the configuration`);
    }
  }
  for (const r of await readAll(home)) {
    const name = r.rec.spec.name;
    if (options.prune === true && r.rec.source === "config" && !declared.has(name)) {
      const gone = await removeIf(
        home,
        name,
        (x) => x.source === "config" && !declared.has(x.spec.name),
      );
      if (gone) done.push(`schedule "${name}" removed: no longer in the configuration`);
      continue;
    }
    if (home.sealer !== null && !r.sealed) {
      await update(home, name, (x) => ({ ...x })).catch(() => {});
    }
  }
  return done;
}

/**
 * Records `revision` as the one the schedules follow, unless the store has a higher one:
 * `null` when this revision may sync (recorded), else the store's higher revision.
 */
async function claimRevision(
  backend: KvBackend,
  revision: number,
  now: number,
): Promise<number | null> {
  const key = K.scheduleRevision();
  for (;;) {
    const entry = await backend.get<RevisionRecord>(key);
    const stored = entry.value?.revision;
    if (stored !== undefined && stored > revision) return stored;
    if (stored === revision) return null;
    const value: RevisionRecord = { revision, at: now };
    const r = await backend.atomic([{ key, version: entry.version }], [{
      type: "set",
      key,
      value,
    }]);
    if (r.ok) return null;
  }
}

/** JSON with object keys sorted: two definitions equal in value compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
        : v,
  );
}
