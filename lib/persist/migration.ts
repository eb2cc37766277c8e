/**
 * Definition changes: a snapshot stored under another shape of its machine runs the machine's
 * declared `migrations` (keyed by the version they migrate from) up to the machine's version;
 * with no path of migrations, a `StoreError` (`incompatible`) names both versions and hashes.
 *
 * @module
 */
import type { Snapshot } from "../core/types.ts";
import { SnapshotError } from "../core/errors.ts";
import { type AnyMachine, StoreError } from "./types.ts";

/** Runs a machine's declared migrations from the snapshot's version to the machine's. */
export function migrate(snap: Snapshot, machine: AnyMachine, instanceId: string): Snapshot {
  const migrations = machine.config.migrations as
    | Record<string, (s: Snapshot) => Snapshot>
    | undefined;
  const target = machine.version;
  let current = snap;
  for (let steps = 0; steps < 100; steps++) {
    if (current.version === target && steps > 0) {
      return { ...current, hash: machine.hash };
    }
    const fn = migrations?.[String(current.version)];
    if (fn === undefined || current.version === target) break;
    const next = fn(structuredClone(current));
    if (next.version === current.version) {
      throw new SnapshotError(
        `migration of "${instanceId}" from version ${current.version} did not change the version`,
      );
    }
    current = next;
  }
  throw new StoreError(
    "incompatible",
    `instance "${instanceId}" was stored under version ${snap.version ?? "unversioned"} ` +
      `(hash ${snap.hash}) of machine "${machine.id}", which is now version ` +
      `${
        target ?? "unversioned"
      } (hash ${machine.hash}), and no migration leads from one to the other`,
  );
}
