/**
 * The key layout of a Statecraft store in Deno KV. Everything lives under `"sc"`, leaving the
 * rest of the key space to plugins' own namespaces. See docs/persistence.md.
 *
 * @module
 */
import type { KvKey, KvKeyPart } from "./backend.ts";

/** Statecraft's keys. */
export const K = {
  /** Store format and the encryption key check. */
  format: (): KvKey => ["sc", "format"],
  /** The instance record: metadata, and the snapshot when it is small. */
  inst: (id: string): KvKey => ["sc", "inst", id],
  instPrefix: (): KvKey => ["sc", "inst"],
  /** Snapshot chunks of a large snapshot. */
  snap: (id: string, n: number): KvKey => ["sc", "snap", id, n],
  snapPrefix: (id: string): KvKey => ["sc", "snap", id],
  /** The journal: one entry per applied event, rollback, migration, recovery. */
  journal: (id: string, seq: number): KvKey => ["sc", "jrnl", id, seq],
  journalPrefix: (id: string): KvKey => ["sc", "jrnl", id],
  /** Idempotency: event id -> the result it had. */
  eid: (id: string, eventId: string): KvKey => ["sc", "eid", id, eventId],
  eidPrefix: (id: string): KvKey => ["sc", "eid", id],
  /** Checkpoints: a full snapshot at a seq, and its chunks. */
  ckpt: (id: string, seq: number): KvKey => ["sc", "ckpt", id, seq],
  ckptPrefix: (id: string): KvKey => ["sc", "ckpt", id],
  ckptChunk: (id: string, seq: number, n: number): KvKey => ["sc", "ckptc", id, seq, n],
  ckptChunkPrefix: (id: string): KvKey => ["sc", "ckptc", id],
  ckptLabel: (id: string, label: string): KvKey => ["sc", "ckptl", id, label],
  ckptLabelPrefix: (id: string): KvKey => ["sc", "ckptl", id],
  /** A fork's link from its origin: `{ seq, time, by }` (operator actions). */
  fork: (origin: string, id: string): KvKey => ["sc", "fork", origin, id],
  forkPrefix: (origin: string): KvKey => ["sc", "fork", origin],
  /** Secondary indexes (values are `true`). */
  ixMachine: (machine: string, id: string): KvKey => ["sc", "ixm", machine, id],
  ixState: (state: string, machine: string, id: string): KvKey => [
    "sc",
    "ixs",
    state,
    machine,
    id,
  ],
  ixStatus: (status: string, id: string): KvKey => ["sc", "ixt", status, id],
  /** Updated-at, bucketed by second so most events do not move the entry. */
  ixUpdated: (second: number, id: string): KvKey => ["sc", "ixu", second, id],
  /** Search (lib/persist/search.ts): a declared context field's value, per machine. */
  ixField: (machine: string, field: string, value: KvKeyPart, id: string): KvKey => [
    "sc",
    "ixf",
    machine,
    field,
    value,
    id,
  ],
  /** Search: a tag of an active state. */
  ixTag: (tag: string, machine: string, id: string): KvKey => ["sc", "ixg", tag, machine, id],
  /** Search: the declaration a machine's instances were last fully indexed under. */
  searchDecl: (machine: string): KvKey => ["sc", "search", machine],
  /** Search: the lease of the one node re-indexing a machine (lib/persist/search_reindex.ts). */
  reindexLease: (machine: string): KvKey => ["sc", "ixjob", machine],
  /** Durable timers by due time. */
  timer: (due: number, id: string, ref: string): KvKey => ["sc", "tm", due, id, ref],
  timerPrefix: (): KvKey => ["sc", "tm"],
  /** Cluster mode (docs/cluster.md): the partition count, chosen once. */
  clusterConfig: (): KvKey => ["sc", "cluster", "config"],
  /** A partition's lease: owner, epoch, expiry (renewed by the owner). */
  lease: (partition: number): KvKey => ["sc", "cluster", "lease", partition],
  leasePrefix: (): KvKey => ["sc", "cluster", "lease"],
  /** A partition's fencing epoch: written only when its owner changes; commits check it. */
  epoch: (partition: number): KvKey => ["sc", "cluster", "epoch", partition],
  /** A node's registration and heartbeat. */
  node: (name: string): KvKey => ["sc", "cluster", "node", name],
  nodePrefix: (): KvKey => ["sc", "cluster", "node"],
  /** Operations forwarded to a partition's owner, and their replies. */
  inbox: (partition: number, requestId: string): KvKey => ["sc", "inbox", partition, requestId],
  inboxPrefix: (partition: number): KvKey => ["sc", "inbox", partition],
  reply: (requestId: string): KvKey => ["sc", "reply", requestId],
  /** Sends to plugins committed with their transition and not yet delivered (the outbox). */
  outbox: (id: string, effectId: string): KvKey => ["sc", "outbox", id, effectId],
  outboxPrefix: (id: string): KvKey => ["sc", "outbox", id],
  outboxAll: (): KvKey => ["sc", "outbox"],
  /** Schedules (lib/persist/schedule_records.ts): definition, next due tick, ticks in flight. */
  schedule: (name: string): KvKey => ["sc", "sched", name],
  schedulePrefix: (): KvKey => ["sc", "sched"],
  /** The revision of the configuration the schedules follow (lib/persist/schedule_sync.ts). */
  scheduleRevision: (): KvKey => ["sc", "schedrev"],
};
