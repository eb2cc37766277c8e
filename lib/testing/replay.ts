/**
 * Replay as a deploy gate (as Temporal's replayer is for workflows): every stored journal of a
 * machine's instances is replayed under a NEW definition of the machine, and the first entry
 * of each instance where the new definition reaches another configuration than the one
 * recorded is reported, as is a stored state that the new definition cannot load (its shape
 * changed and no migration leads from the stored version). Nothing is written: the store is
 * read through its export, and the replay runs on the store's own replay machinery
 * (`restoreForReplay`, `replayEntry` of `lib/persist/replay.ts`: checkpoint + journal, timers
 * fired by send id, invocation results delivered, invoked functions never called).
 *
 * @example
 * ```ts
 * import { defineMachine } from "../../core.ts";
 * import { openStore } from "../persist/store.ts";
 * import { replayJournals } from "./replay.ts";
 *
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: { closed: { on: { OPEN: "open" } }, open: { on: { CLOSE: "closed" } } },
 * });
 * const store = await openStore({ path: ":memory:", machines: [door] });
 * await store.create("door", "front");
 * await store.send("front", "OPEN");
 * const report = await replayJournals({ store, machine: door });
 * // report.ok is true; report.instances is 1; report.events is 1
 * await store.close();
 * ```
 *
 * @module
 */
import type { EventObject, Snapshot } from "../core/types.ts";
import type { ReplayClock } from "../persist/clocks.ts";
import { replayEntry, restoreForReplay } from "../persist/replay.ts";
import {
  type ExportRecord,
  type JournalEntry,
  openStore,
  type Store,
  StoreError,
} from "../persist/store.ts";
import type { AnyInstance, AnyMachine } from "../persist/types.ts";

/** Options of `replayJournals`. */
export interface ReplayJournalsOptions {
  /** An open store to read (left open). Give this or `kv`. */
  store?: Store;
  /**
   * Where the store is, opened read-only (`inspect` mode) and closed afterwards: a Deno KV
   * file, a KV Connect URL or a PostgreSQL URL. Give this or `store`.
   */
  kv?: string;
  /** The encryption key of the store at `kv`, when it is encrypted. */
  encryptionKey?: string;
  /**
   * The NEW definition to replay under, or several (a module's machines): each one's stored
   * instances are replayed under it.
   */
  machine: AnyMachine | readonly AnyMachine[];
  /** Of several machines, only this one's instances. */
  machineId?: string;
  /** Check at most this many instances (per machine; default: all). */
  limit?: number;
}

/** A replayed entry reached another configuration than the one recorded. */
export interface ConfigurationDifference {
  /** What kind of difference this is. */
  kind: "configuration";
  /** The machine's id. */
  machine: string;
  /** The instance's id. */
  instance: string;
  /** The journal entry's seq. */
  seq: number;
  /** The journal entry's kind (`event`, `timer`, `invoke`, `create`...). */
  entry: JournalEntry["kind"];
  /** The event the entry applied, if any. */
  event?: EventObject;
  /** The configuration recorded in the journal. */
  expected: string[];
  /** The configuration the new definition reached. */
  actual: string[];
}

/** A stored state the new definition cannot load: no migration leads from its version. */
export interface MissingMigration {
  /** What kind of difference this is. */
  kind: "migration";
  /** The machine's id. */
  machine: string;
  /** The instance's id. */
  instance: string;
  /** The seq of the stored state (a checkpoint, or the current state). */
  seq: number;
  /** The stored state's machine version and structural hash. */
  stored: { version?: string | number; hash: string };
  /** The new definition's version and structural hash. */
  current: { version?: string | number; hash: string };
  /** The store's own message (what loading the instance would say). */
  message: string;
}

/** The replay of an instance could not go on (an unreadable or missing checkpoint...). */
export interface ReplayFailure {
  /** What kind of difference this is. */
  kind: "error";
  /** The machine's id. */
  machine: string;
  /** The instance's id. */
  instance: string;
  /** The seq of the entry that could not be replayed. */
  seq: number;
  /** What went wrong. */
  message: string;
}

/** The first problem found in one instance's journal. */
export type ReplayDifference = ConfigurationDifference | MissingMigration | ReplayFailure;

/** What `replayJournals` found. */
export interface ReplayReport {
  /** No difference in any instance. */
  ok: boolean;
  /** The machines whose instances were replayed. */
  machines: string[];
  /** Instances checked. */
  instances: number;
  /** Journal entries replayed (events, timer firings, invocation results). */
  events: number;
  /** The first difference of each instance that has one, in instance id order per machine. */
  differences: ReplayDifference[];
}

/**
 * Replays every stored journal of a machine's instances under a new definition of it and
 * reports, for each instance, the first entry where the configuration differs from the one
 * recorded, or the stored state that needs a migration the new definition does not declare.
 * A deploy gate: `report.ok` false means instances in the store would not behave as they did
 * (a rollback or an inspection replays their journal under the definition deployed).
 *
 * Replay starts from the creation checkpoint and goes on from the checkpoint of every
 * rollback, migration, recovery and redrive. A definition whose shape changed replays from migrated
 * checkpoints; a migration that renames states makes the recorded configurations differ.
 * Each instance's journal is held in memory while it is replayed.
 *
 * @example
 * ```ts
 * import { defineMachine } from "../../core.ts";
 * import { openStore } from "../persist/store.ts";
 * import { replayJournals } from "./replay.ts";
 *
 * const gate = (least: number) =>
 *   defineMachine({
 *     id: "gate",
 *     initial: "shut",
 *     states: {
 *       shut: {
 *         on: {
 *           COIN: { target: "open", guard: ({ event }) => Number(event.amount) >= least },
 *         },
 *       },
 *       open: {},
 *     },
 *   });
 * const store = await openStore({ path: ":memory:", machines: [gate(2)] });
 * await store.create("gate", "g1");
 * await store.send("g1", { type: "COIN", amount: 2 });
 * // The new definition asks for more: the same shape, another behaviour.
 * const v2 = gate(5);
 * const report = await replayJournals({ store, machine: v2 });
 * // report.differences[0] is { kind: "configuration", instance: "g1", seq: 1, expected: ["open"],
 * //   actual: ["shut"], ... }
 * await store.close();
 * ```
 */
export async function replayJournals(options: ReplayJournalsOptions): Promise<ReplayReport> {
  const machines = pickMachines(options.machine, options.machineId);
  if ((options.store === undefined) === (options.kv === undefined)) {
    throw new TypeError("replayJournals: give either `store` (an open store) or `kv` (where)");
  }
  const limit = options.limit ?? Infinity;
  if (!(limit >= 1)) throw new RangeError(`replayJournals: limit must be 1 or more, got ${limit}`);
  const store = options.store ?? await openExisting(options.kv!, machines, options.encryptionKey);
  try {
    const report: ReplayReport = {
      ok: true,
      machines: machines.map((m) => m.id),
      instances: 0,
      events: 0,
      differences: [],
    };
    for (const machine of machines) {
      let checked = 0;
      for await (const stored of instancesOf(store, machine.id)) {
        const difference = replayInstance(stored, machine, report);
        report.instances++;
        if (difference !== undefined) report.differences.push(difference);
        if (++checked >= limit) break;
      }
    }
    report.ok = report.differences.length === 0;
    return report;
  } finally {
    if (options.store === undefined) await store.close();
  }
}

/** An instance as exported: its head, journal and checkpoints. */
interface StoredInstance {
  id: string;
  seq: number;
  snapshot: Snapshot;
  journal: JournalEntry[];
  checkpoints: Map<number, Snapshot>;
}

/** The machines to replay: all given, or the one `id` names. */
function pickMachines(
  machine: AnyMachine | readonly AnyMachine[],
  id: string | undefined,
): AnyMachine[] {
  const all = Array.isArray(machine) ? [...machine] : [machine as AnyMachine];
  if (all.length === 0) throw new TypeError("replayJournals: no machine given");
  if (id === undefined) return all;
  const found = all.find((m) => m.id === id);
  if (found === undefined) {
    throw new TypeError(
      `replayJournals: no machine "${id}" among those given (${
        all.map((m) => `"${m.id}"`).join(", ")
      })`,
    );
  }
  return [found];
}

/** Opens a store that must exist (a mistyped path must not read as an empty store). */
async function openExisting(
  kv: string,
  machines: AnyMachine[],
  encryptionKey: string | undefined,
): Promise<Store> {
  if (kv !== ":memory:" && !/^[a-z][a-z0-9+.-]*:\/\//i.test(kv)) {
    try {
      await Deno.stat(kv);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new StoreError("not_found", `no store at ${kv}`);
      }
      throw e;
    }
  }
  return await openStore({ path: kv, machines, encryptionKey, mode: "inspect" });
}

/** Each stored instance of a machine with its journal and checkpoints, in id order. */
async function* instancesOf(store: Store, machineId: string): AsyncGenerator<StoredInstance> {
  let current: StoredInstance | undefined;
  for await (const record of store.export({ machine: machineId }) as AsyncIterable<ExportRecord>) {
    if (record.type === "instance") {
      if (current !== undefined) yield current;
      current = {
        id: record.id,
        seq: record.seq,
        snapshot: record.snapshot,
        journal: [],
        checkpoints: new Map(),
      };
    } else if (current !== undefined && record.id === current.id) {
      if (record.type === "journal") current.journal.push(record.entry);
      else current.checkpoints.set(record.seq, record.snapshot);
    }
  }
  if (current !== undefined) yield current;
}

/** Entries that replace the whole state: a replay goes on from their checkpoint. */
const RESTARTS = new Set<JournalEntry["kind"]>([
  "create",
  "rollback",
  "migration",
  "recovery",
  "redrive",
]);
/** Entries a replay applies. */
const APPLIED = new Set<JournalEntry["kind"]>(["event", "timer", "invoke"]);

/** Replays one instance; its first difference, if any. Counts replayed entries in `report`. */
function replayInstance(
  stored: StoredInstance,
  machine: AnyMachine,
  report: ReplayReport,
): ReplayDifference | undefined {
  const at = { machine: machine.id, instance: stored.id };
  let replay: { instance: AnyInstance; clock: ReplayClock } | undefined;
  try {
    for (const entry of stored.journal) {
      const checkpoint = stored.checkpoints.get(entry.seq);
      if (replay === undefined || (RESTARTS.has(entry.kind) && checkpoint !== undefined)) {
        if (checkpoint === undefined) {
          return {
            kind: "error",
            ...at,
            seq: entry.seq,
            message: `no checkpoint at seq ${entry.seq} to replay from`,
          };
        }
        const restored = restore(checkpoint, machine, stored.id, entry.seq);
        if ("kind" in restored) return restored;
        replay?.instance.stop();
        replay = restored;
      } else if (RESTARTS.has(entry.kind)) {
        return {
          kind: "error",
          ...at,
          seq: entry.seq,
          message: `cannot replay across the ${entry.kind} at seq ${entry.seq}: no checkpoint`,
        };
      } else if (APPLIED.has(entry.kind)) {
        try {
          replayEntry(replay.instance, replay.clock, entry);
        } catch (e) {
          return {
            kind: "error",
            ...at,
            seq: entry.seq,
            message: `replaying ${entry.event?.type ?? entry.kind} failed: ${errorText(e)}`,
          };
        }
        report.events++;
      }
      const actual = replay.instance.configuration;
      if (!sameStates(actual, entry.configuration)) {
        const difference: ConfigurationDifference = {
          kind: "configuration",
          ...at,
          seq: entry.seq,
          entry: entry.kind,
          expected: [...entry.configuration],
          actual: [...actual],
        };
        if (entry.event !== undefined) difference.event = entry.event;
        return difference;
      }
    }
    // The current state is what the store loads next: the new definition must take it too.
    if (stored.snapshot.hash !== machine.hash) {
      const loaded = restore(stored.snapshot, machine, stored.id, stored.seq);
      if ("kind" in loaded) return loaded;
      loaded.instance.stop();
    }
    return undefined;
  } finally {
    replay?.instance.stop();
  }
}

/** A stored state restored under the new definition, or why it cannot be. */
function restore(
  snapshot: Snapshot,
  machine: AnyMachine,
  instanceId: string,
  seq: number,
): { instance: AnyInstance; clock: ReplayClock } | MissingMigration | ReplayFailure {
  try {
    return restoreForReplay(snapshot, machine, instanceId);
  } catch (e) {
    if (e instanceof StoreError && e.code === "incompatible") {
      const stored: MissingMigration["stored"] = { hash: snapshot.hash };
      if (snapshot.version !== undefined) stored.version = snapshot.version;
      const current: MissingMigration["current"] = { hash: machine.hash };
      if (machine.version !== undefined) current.version = machine.version;
      return {
        kind: "migration",
        machine: machine.id,
        instance: instanceId,
        seq,
        stored,
        current,
        message: e.message,
      };
    }
    return {
      kind: "error",
      machine: machine.id,
      instance: instanceId,
      seq,
      message: `the stored state at seq ${seq} does not load: ${errorText(e)}`,
    };
  }
}

function sameStates(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
