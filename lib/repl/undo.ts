/**
 * What an `undo` stepped back over, read from the journal as the undo left it: the undo is a
 * rollback entry restoring the state after entry `to`, so the entry undone is `to + 1`. Earlier
 * rollbacks are followed for free, which the journal's last event entry does not do.
 *
 * @module
 */
import type { JournalEntry } from "../persist/store.ts";
import type { Runtime } from "../runtime/runtime.ts";

/**
 * The journal entry (an event, a timer, an invocation result) that the undo committed at `seq`
 * undid, or undefined when the entry at `seq` is not a rollback.
 *
 * @example
 * ```ts ignore
 * const info = await runtime.undo("front");
 * const undone = await undoneEntry(runtime, "front", info.seq);
 * console.log(`undid ${undone?.event?.type} (seq ${undone?.seq})`);
 * ```
 */
export async function undoneEntry(
  runtime: Runtime,
  instanceId: string,
  seq: number,
): Promise<JournalEntry | undefined> {
  const [undo] = await runtime.history(instanceId, { from: seq, limit: 1 });
  if (undo?.kind !== "rollback" || undo.to === undefined) return undefined;
  const [entry] = await runtime.history(instanceId, { from: undo.to + 1, limit: 1 });
  return entry;
}
