/**
 * The check of export records before an import writes them: each record's shape, the order of
 * records (journal and checkpoints after their instance, each instance once), clock times a
 * `Date` can show, and every snapshot loaded the way the store will load it (migrated when it
 * was taken under another version of its machine, then restored with nothing running), so an
 * imported instance never fails later at `kv show`. A problem is thrown as a `StoreError`
 * (`invalid`) whose message names the field of the record at fault
 * (`snapshot.configuration[0]: ...`); the caller adds where the record is.
 *
 * @module
 */
import type { Snapshot } from "../core/types.ts";
import { SnapshotError } from "../core/errors.ts";
import { ReplayClock } from "./clocks.ts";
import { migrate } from "./migration.ts";
import { type AnyMachine, type ExportRecord, StoreError } from "./types.ts";

const MAX_TIME = 8.64e15;
const STATUSES = new Set(["active", "done", "stopped"]);
const JOURNAL_KINDS = new Set([
  "create",
  "event",
  "timer",
  "invoke",
  "rollback",
  "migration",
  "recovery",
  "archive",
  "unarchive",
]);

/** The instance whose records are being read. */
interface Current {
  id: string;
  machine: AnyMachine;
  seq: number;
  journalSeq: number;
  checkpoints: Set<number>;
  labels: Set<string>;
}

/**
 * Checks export records in file order. One checker per import: it remembers the instances seen
 * (an id twice is refused) and the instance the journal and checkpoint records belong to.
 *
 * @example
 * ```ts ignore
 * const checker = new ImportChecker(new Map([["door", door]]), () => Date.now());
 * for (const record of records) checker.check(record); // throws StoreError("invalid", ...)
 * ```
 */
export class ImportChecker {
  readonly #machines: ReadonlyMap<string, AnyMachine>;
  readonly #now: () => number;
  readonly #seen = new Set<string>();
  #current: Current | null = null;

  /**
   * @param machines the machines the store was opened with, by id
   * @param now the store's clock (the time restored snapshots are checked at)
   */
  constructor(machines: ReadonlyMap<string, AnyMachine>, now: () => number) {
    this.#machines = machines;
    this.#now = now;
  }

  /** Checks the next record; throws a `StoreError` (`invalid`) naming the field at fault. */
  check(value: unknown): asserts value is ExportRecord {
    if (!isRecord(value)) bad("", `expected a JSON object, not ${show(value)}`);
    const r = value;
    if (typeof r.id !== "string") bad("id", `must be a string, not ${show(r.id)}`);
    switch (r.type) {
      case "instance":
        return this.#instance(r);
      case "journal":
        return this.#journal(r, this.#owner(r));
      case "checkpoint":
        return this.#checkpoint(r, this.#owner(r));
      default:
        bad("type", `must be "instance", "journal" or "checkpoint", not ${show(r.type)}`);
    }
  }

  #owner(r: Record<string, unknown>): Current {
    const current = this.#current;
    if (current === null || r.id !== current.id) {
      bad("", `a ${r.type} record for ${show(r.id)} must follow its instance record`);
    }
    return current;
  }

  #instance(r: Record<string, unknown>): void {
    this.#current = null;
    const id = r.id as string;
    if (id === "" || id.length > 256) {
      bad("id", "an instance id must be a non-empty string of at most 256 characters");
    }
    if (r.format !== "statecraft.export/1") {
      bad("format", `unknown export format ${show(r.format)}`);
    }
    if (typeof r.machine !== "string") bad("machine", `must be a string, not ${show(r.machine)}`);
    const machine = this.#machines.get(r.machine);
    if (machine === undefined) {
      throw new StoreError(
        "invalid",
        `instance ${show(id)} runs machine ${show(r.machine)}, which is not registered`,
      );
    }
    if (!STATUSES.has(r.status as string)) {
      bad("status", `must be "active", "done" or "stopped", not ${show(r.status)}`);
    }
    if (typeof r.archived !== "boolean") bad("archived", `must be true or false`);
    checkCount(r.seq, "seq");
    checkTime(r.createdAt, "createdAt");
    checkTime(r.updatedAt, "updatedAt");
    checkVersion(r.version, "version");
    if (this.#seen.has(id)) bad("id", `instance ${show(id)} is in the file twice`);
    const snap = loadable(r.snapshot, machine, id, this.#now());
    if (snap.machine !== r.machine) {
      bad(
        "snapshot.machine",
        `${show(snap.machine)} is not the record's machine ${show(r.machine)}`,
      );
    }
    if (snap.id !== id) bad("snapshot.id", `${show(snap.id)} is not the record's id ${show(id)}`);
    if (snap.status !== r.status) {
      bad("snapshot.status", `${show(snap.status)} is not the record's status ${show(r.status)}`);
    }
    this.#seen.add(id);
    this.#current = {
      id,
      machine,
      seq: r.seq as number,
      journalSeq: -1,
      checkpoints: new Set(),
      labels: new Set(),
    };
  }

  #journal(r: Record<string, unknown>, current: Current): void {
    const e = r.entry;
    if (!isRecord(e)) bad("entry", `must be an object, not ${show(e)}`);
    checkCount(e.seq, "entry.seq");
    const seq = e.seq as number;
    if (seq > current.seq) {
      bad("entry.seq", `${seq} is after the instance's last entry (${current.seq})`);
    }
    if (seq <= current.journalSeq) {
      bad("entry.seq", `${seq} does not follow the entry before it (${current.journalSeq})`);
    }
    checkTime(e.time, "entry.time");
    if (!JOURNAL_KINDS.has(e.kind as string)) bad("entry.kind", `unknown kind ${show(e.kind)}`);
    if (typeof e.by !== "string") bad("entry.by", `must be a string, not ${show(e.by)}`);
    if (typeof e.status !== "string") bad("entry.status", `must be a string`);
    if (!Array.isArray(e.configuration) || !e.configuration.every((s) => typeof s === "string")) {
      bad("entry.configuration", "must be an array of state ids");
    }
    if (e.event !== undefined) {
      const ev = e.event;
      if (!isRecord(ev) || typeof ev.type !== "string") {
        bad("entry.event", `must be an event object with a "type"`);
      }
    }
    for (const key of ["eventId", "sendId", "node"]) {
      if (e[key] !== undefined && typeof e[key] !== "string") {
        bad(`entry.${key}`, `must be a string, not ${show(e[key])}`);
      }
    }
    if (e.due !== undefined) checkTime(e.due, "entry.due");
    if (e.to !== undefined) checkCount(e.to, "entry.to");
    if (
      e.path !== undefined &&
      (!Array.isArray(e.path) || !e.path.every((s) => typeof s === "string"))
    ) {
      bad("entry.path", "must be an array of invoke ids");
    }
    current.journalSeq = seq;
  }

  #checkpoint(r: Record<string, unknown>, current: Current): void {
    checkCount(r.seq, "seq");
    const seq = r.seq as number;
    if (seq > current.seq) bad("seq", `${seq} is after the instance's last entry (${current.seq})`);
    if (current.checkpoints.has(seq)) bad("seq", `a second checkpoint at ${seq}`);
    checkTime(r.time, "time");
    if (r.label !== undefined) {
      if (typeof r.label !== "string" || r.label === "") {
        bad("label", `must be a non-empty string, not ${show(r.label)}`);
      }
      if (current.labels.has(r.label)) {
        bad("label", `a second checkpoint labelled ${show(r.label)}`);
      }
      current.labels.add(r.label);
    }
    loadable(r.snapshot, current.machine, current.id, this.#now());
    current.checkpoints.add(seq);
  }
}

/**
 * Loads a snapshot as the store will (migrated if taken under another version, then restored
 * with nothing running), and returns it; throws a `StoreError` (`invalid`) naming the field.
 */
function loadable(snap: unknown, machine: AnyMachine, id: string, now: number): Snapshot {
  if (!isRecord(snap)) bad("snapshot", `must be an object, not ${show(snap)}`);
  let s = snap as unknown as Snapshot;
  if (typeof s.hash === "string" && s.hash !== machine.hash && s.machine === machine.id) {
    try {
      s = migrate(s, machine, id);
    } catch (e) {
      if (e instanceof StoreError) bad("snapshot.hash", e.message);
      bad("snapshot", `its migration to the machine's version failed: ${message(e)}`);
    }
  }
  const clock = new ReplayClock();
  clock.t = now;
  try {
    machine.restore(s, { id, clock, replay: true }).stop();
  } catch (e) {
    if (e instanceof SnapshotError && /^snapshot[.[:]/.test(e.message)) {
      throw new StoreError("invalid", e.message);
    }
    bad("snapshot", `cannot be restored: ${message(e)}`);
  }
  return s;
}

function bad(field: string, why: string): never {
  throw new StoreError("invalid", field === "" ? why : `${field}: ${why}`);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return typeof v === "number" || typeof v === "boolean" ? String(v) : `a ${typeof v}`;
}

function checkCount(v: unknown, field: string): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    bad(field, `must be a whole number of at least 0, not ${show(v)}`);
  }
}

function checkTime(v: unknown, field: string): void {
  if (typeof v !== "number" || !Number.isFinite(v) || Math.abs(v) > MAX_TIME) {
    bad(field, `must be a clock time (ms from the epoch, at most ${MAX_TIME}), not ${show(v)}`);
  }
}

function checkVersion(v: unknown, field: string): void {
  if (v !== undefined && typeof v !== "string" && !(typeof v === "number" && Number.isFinite(v))) {
    bad(field, `must be a string or a number, not ${show(v)}`);
  }
}
