/**
 * Replay: the state of an instance after any journal entry is its latest good checkpoint at or
 * before that entry plus the journal replayed from there (events sent again, timers fired by
 * send id and due time, invocation results delivered at their invoke path) on a replay clock
 * set to each entry's time. Invoked functions are not called during a replay. Rollbacks and
 * migrations are checkpointed, so a replay never has to cross one.
 *
 * @module
 */
import type { EventObject, Snapshot } from "../core/types.ts";
import { ReplayClock } from "./clocks.ts";
import { StoreDataError } from "./codec.ts";
import { K } from "./keys.ts";
import { migrate } from "./migration.ts";
import type { CheckpointRecord } from "./records.ts";
import type { StoreContext } from "./store_context.ts";
import type { AnyInstance, AnyMachine, JournalEntry } from "./types.ts";

/** The engine's journal-replay entry points (not part of the public instance type). */
export interface Replayable {
  internalSnapshot(copy: boolean): Snapshot;
  replayDelivery(
    path: readonly string[],
    kind: string,
    event: EventObject,
    sendId?: string,
    due?: number,
  ): boolean;
}

/** The state of an instance after journal entry `seq`. */
export async function stateAt(
  ctx: StoreContext,
  instanceId: string,
  machine: AnyMachine,
  seq: number,
): Promise<Snapshot> {
  let base: Snapshot | null = null;
  let baseSeq = -1;
  const checkpoints = ctx.backend.list<CheckpointRecord>({
    prefix: K.ckptPrefix(instanceId),
    end: K.ckpt(instanceId, seq + 1),
  }, { reverse: true });
  for await (const e of checkpoints) {
    try {
      base = await ctx.records.readCheckpoint(instanceId, e.value!);
      baseSeq = e.value!.seq;
      break;
    } catch (err) {
      if (!(err instanceof StoreDataError)) throw err;
    }
  }
  if (base === null) {
    throw new StoreDataError(
      `instance "${instanceId}": no readable checkpoint at or before ${seq}`,
    );
  }
  const { instance, clock } = restoreForReplay(base, machine, instanceId);
  const journal = ctx.backend.list<unknown>({
    start: K.journal(instanceId, baseSeq + 1),
    end: K.journal(instanceId, seq + 1),
  });
  for await (const e of journal) {
    const entry = await ctx.records.openJournal(e.value, instanceId);
    if (entry.kind === "rollback" || entry.kind === "migration" || entry.kind === "redrive") {
      // These are always checkpointed, so a replay reaches one only when that checkpoint
      // could not be read.
      throw new StoreDataError(
        `instance "${instanceId}": cannot replay across the ${entry.kind} at ${entry.seq}: ` +
          "its checkpoint is unreadable",
      );
    }
    replayEntry(instance, clock, entry);
  }
  const snap = instance.snapshot();
  instance.stop();
  return snap;
}

/**
 * An engine instance for replaying journal entries from a stored snapshot: on a replay clock
 * set to the snapshot's time (its timers never fire, invoked functions are not called), the
 * snapshot first migrated when it was taken under another shape of the machine (a
 * `StoreError` `incompatible` when no migration leads to the machine's version).
 */
export function restoreForReplay(
  base: Snapshot,
  machine: AnyMachine,
  instanceId: string,
): { instance: AnyInstance; clock: ReplayClock } {
  const snap = base.hash !== machine.hash ? migrate(base, machine, instanceId) : base;
  const clock = new ReplayClock();
  clock.t = snap.time;
  const instance = machine.restore(snap, { clock, replay: true, id: instanceId });
  return { instance, clock };
}

/**
 * Replays one journal entry on an instance made by `restoreForReplay`: an event is sent
 * again, a timer fired by send id and due time, an invocation result delivered at its invoke
 * path, with the clock at the entry's time. Other kinds (create, archive, recovery...) change
 * nothing here; a rollback or migration replaces the whole state, so its checkpoint is where
 * a replay goes on from.
 */
export function replayEntry(instance: AnyInstance, clock: ReplayClock, entry: JournalEntry): void {
  clock.t = Math.max(clock.t, entry.time);
  if (entry.kind === "event") {
    instance.send(entry.event!);
  } else if (entry.kind === "timer" || entry.kind === "invoke") {
    const replayable = instance as unknown as Replayable;
    const path = entry.path ?? [];
    if (!replayable.replayDelivery(path, entry.kind, entry.event!, entry.sendId, entry.due)) {
      // Entries written before due times were recorded: match the timer by its id.
      if (entry.due === undefined) {
        replayable.replayDelivery(path, entry.kind, entry.event!, entry.sendId);
      }
    }
  }
}
