/**
 * The store's public types: options, what it answers (instance info, acks, journal entries,
 * pages, checkpoints, export records), its errors, and the `Store` interface that the runtime,
 * the REPL and the server depend on (the class in `store.ts` is one implementation).
 *
 * @module
 */
import type { Machine } from "../core/machine.ts";
import type { Clock, EventObject, MachineInstance, Snapshot } from "../core/types.ts";
import type { ClusterMembership } from "../cluster/types.ts";
import type { KvBackend } from "./backend.ts";

/** A machine of any context and event types, as the store holds them side by side. */
// deno-lint-ignore no-explicit-any
export type AnyMachine = Machine<any, any>;
/** A running instance of any context and event types (what `inspect` and `onSend` see). */
// deno-lint-ignore no-explicit-any
export type AnyInstance = MachineInstance<any, any>;

/** Options for `openStore`. */
export interface OpenStoreOptions {
  /**
   * Where the store lives: a Deno KV file path (default `.statecraft/state.kv`), `":memory:"`,
   * a KV Connect URL (a remote Deno KV; the token comes from `DENO_KV_ACCESS_TOKEN`), or a
   * PostgreSQL URL (`postgres://` or `postgresql://`; see docs/persistence.md).
   */
  path?: string;
  /** A backend already open (instead of `path`); the store closes it when it closes. */
  backend?: KvBackend;
  /**
   * Cluster mode (docs/cluster.md): this node's membership, joined on the same backend
   * (`joinCluster`). Only the owner of an instance's partition runs it and commits for it;
   * writes for other partitions are forwarded to their owners through the store.
   */
  cluster?: ClusterMembership;
  /** How long a forwarded write waits for the owner's reply (default 30,000 ms). */
  forwardTimeoutMs?: number;
  /** The machines instances may use. */
  machines: AnyMachine[];
  /**
   * Progress of a search re-index (a machine's `search` declaration or tags changed): called
   * when it starts, every 100 instances, and when it finishes (docs/operations.md, "Search").
   */
  onReindex?: (progress: ReindexProgress) => void;
  /** Encrypts snapshots and journal values at rest (AES-256-GCM). */
  encryptionKey?: string;
  /** Time source for timers and timestamps (default: the system clock). */
  clock?: Clock;
  /**
   * `"live"` (default): instances run their timers and invocations. `"inspect"`: for tools
   * (the `kv` CLI): nothing fires; reads, checkpoints and rollbacks still work.
   */
  mode?: "live" | "inspect";
  /** A checkpoint is written automatically every this many journal entries (default 500). */
  checkpointEvery?: number;
  /** How often durable timers of instances not in memory are looked for (default 250 ms). */
  timerPollMs?: number;
  /** Retries after a versionstamp conflict before giving up (default 50). */
  maxRetries?: number;
  /**
   * Livelocks across instances (docs/robustness.md, "Livelock across instances"): operations
   * in one chain of causes with no outside event (sends to `instance:<id>`, invocations started
   * by an invocation's result) before the next one is refused with a `LivelockError`
   * (default 10,000; `Infinity`: never).
   */
  maxCausalHops?: number;
  /**
   * Bytes of memory the instances kept in memory may take, estimated from their snapshots
   * (default: a sixteenth of the machine's memory, between 64 MiB and 2 GiB; 256 MiB when the
   * memory cannot be read). Least recently used go first.
   */
  cacheBytes?: number;
  /** At most this many instances in memory (default: no limit but `cacheBytes`). */
  cacheSize?: number;
  /** Where errors of background work (timers, invocations) go; default `console.error`. */
  onError?: (error: Error, instanceId: string) => void;
  /**
   * Sends from machines to targets the engine does not know (plugins). Called when the send is
   * made (throw to refuse the target: the machine gets `error.communication`); a function it
   * returns is the delivery, run once the transition is committed. Such deliveries are kept in
   * the store's outbox with the transition and run again, with the same effect id, after a
   * restart or a takeover until they have run.
   */
  onSend?: (
    target: string,
    event: EventObject,
    from: AnyInstance,
    effectId?: string,
  ) => void | (() => unknown);
  /**
   * Called after each commit of applied events (never before they are durable): the instance,
   * its configuration before, and the journal entries committed (each with the configuration
   * it produced). For the bus, hooks, and watchers.
   */
  onCommit?: (commit: CommitInfo) => void;
}

/** What `onCommit` receives. */
export interface CommitInfo {
  /** The instance id. */
  id: string;
  /** The instance's machine id. */
  machine: string;
  /** The configuration before the first entry. */
  from: string[];
  /** The journal entries committed, in order. */
  entries: JournalEntry[];
}

/** What the store knows of an instance. */
export interface InstanceInfo extends InstanceHead {
  /** Every active state id, in document order. */
  configuration: string[];
  /** The instance's context (a copy). */
  context: unknown;
  /** `create` with an `eventId` this instance was created with: nothing was created now. */
  duplicate?: boolean;
  /** When the stored snapshot failed its integrity check and was rebuilt. */
  recoveredAt?: number;
  /** Set when an operator cancelled the instance (`status` is then `"cancelled"`). */
  cancelled?: CancelInfo;
  /**
   * Sends to plugins whose delivery failed and that wait in the outbox (`Store.get` fills it
   * in; absent when there are none). `Store.redrive` runs them again.
   */
  failedEffects?: FailedEffect[];
}

/** A send to a plugin, committed with its transition, whose delivery failed (in the outbox). */
export interface FailedEffect {
  /** Its effect id (`<instance>:send:<seq>:<n>`): every run of it carries the same one. */
  effectId: string;
  /** Where it goes (`plugin:<name>.<action>`). */
  target: string;
  /** The type of the event sent. */
  event: string;
  /** How many runs of it failed so far. */
  attempts: number;
  /** The last failure's message. */
  error: string;
  /** When the last run failed (ms since the epoch, the store's clock). */
  at: number;
}

/** What one redriven effect did (`RedriveInfo.redriven`). */
export interface RedrivenEffect {
  /** The effect id. */
  effectId: string;
  /**
   * `delivered` (it ran and left the outbox), `failed` (it failed again: kept, with one more
   * attempt), or `queued` (this process runs no sends, the `inspect` mode of the CLI: it runs
   * when a running node next loads the instance).
   */
  outcome: "delivered" | "failed" | "queued";
  /** `failed`: why. */
  error?: string;
}

/** What `Store.redrive` answers: the instance, and the effects it ran again (if it ran any). */
export interface RedriveInfo extends InstanceInfo {
  /** The failed effects that were run again, in effect id order (absent for an invocation). */
  redriven?: RedrivenEffect[];
}

/** What to redrive (`Store.redrive`); without a choice, failed effects first, else the invocation. */
export interface RedriveOptions {
  /** Who does it, as the journal records it (default `"api"`). */
  by?: string;
  /** Only this effect (an effect id still in the outbox). */
  effect?: string;
  /** The failed invocation, even when there are failed effects. */
  invocation?: boolean;
}

/** Who cancelled an instance, when and why. */
export interface CancelInfo {
  /** Who did it (`by`). */
  by: string;
  /** When (ms since the epoch, the store's clock). */
  time: number;
  /** The operator's reason. */
  reason: string;
}

/** A fork's link, as its origin lists it (`Store.forks`). */
export interface ForkLink {
  /** The fork's instance id. */
  id: string;
  /** The origin's journal seq the fork started from. */
  seq: number;
  /** When it was forked. */
  time: number;
  /** Who forked it. */
  by: string;
}

/** What every description of an instance starts with. */
export interface InstanceHead {
  /** The instance id. */
  id: string;
  /** The id of its machine. */
  machine: string;
  /** `"done"` once it reached a top-level final state; `"cancelled"` by an operator (terminal). */
  status: "active" | "done" | "stopped" | "cancelled";
  /** Archived instances keep their data but refuse events until unarchived. */
  archived: boolean;
  /** Journal entries so far (0 after create). */
  seq: number;
  /** Creation time (ms since the epoch, the store's clock). */
  createdAt: number;
  /** Time of the last journal entry. */
  updatedAt: number;
  /** The machine's version the instance runs under, when the machine has one. */
  version?: string | number;
}

/** The acknowledgement of an event. */
export interface SendResult {
  /** The instance id. */
  id: string;
  /** The journal sequence number after the event. */
  seq: number;
  /** Every active state id after the event, in document order. */
  configuration: string[];
  /** The instance's status after the event. */
  status: "active" | "done" | "stopped";
  /** True when the event id had been applied before: nothing was applied now. */
  duplicate: boolean;
}

/** A journal entry. */
export interface JournalEntry {
  /** Position in the instance's journal, from 1. */
  seq: number;
  /** When it was committed (ms since the epoch, the store's clock). */
  time: number;
  /** What happened: the instance was created, got an event, a timer fired, an invocation answered... */
  kind:
    | "create"
    | "event"
    | "timer"
    | "invoke"
    | "rollback"
    | "migration"
    | "recovery"
    | "archive"
    | "unarchive"
    | "cancel"
    | "fork"
    | "redrive";
  /** Who or what sent it: `"api"` unless the caller said, `"timer"`, `"invoke"`... */
  by: string;
  /** Cluster mode: the node that committed it (the owner of the partition then). */
  node?: string;
  /** The event applied (`event`, `timer`, `invoke` entries). */
  event?: EventObject;
  /** The caller's idempotency key, when it gave one. */
  eventId?: string;
  /** Invoke path of the receiving child machine, for timers and invocation results. */
  path?: string[];
  /** Timers: the send id of the timer that fired. */
  sendId?: string;
  /** Timers: the due time of the timer that fired. */
  due?: number;
  /** create: the context overrides. */
  context?: unknown;
  /** rollback: the seq rolled back to. */
  to?: number;
  /** cancel: why the operator cancelled the instance. */
  reason?: string;
  /** fork (the first entry of a fork): the instance and the seq it was forked from. */
  origin?: { id: string; seq: number };
  /** redrive: the seq of the failed invocation's `error.*` entry that was retried. */
  retried?: number;
  /** redrive of failed effects: the effect ids run again. */
  effects?: string[];
  /** migration: the version migrated from. */
  from?: string | number;
  /** migration: the version migrated to. */
  toVersion?: string | number;
  /** Every active state id after this entry. */
  configuration: string[];
  /** The instance's status after this entry. */
  status: string;
}

/** Filters for `list`. */
export interface ListOptions {
  /** Only instances of this machine id. */
  machine?: string;
  /** An active state id (any level of the configuration). */
  state?: string;
  /** Only instances with this status (`"archived"`: only archived ones). */
  status?: "active" | "done" | "stopped" | "cancelled" | "archived";
  /** Only instances updated after this time (ms since the epoch). */
  updatedAfter?: number;
  /**
   * Search clauses, all of which must hold (`parseWhere` in lib/persist/search.ts reads the
   * text form `customer=acme`, `total>=100`, `tag=vip`). Field clauses need `machine`.
   */
  where?: WhereClause[];
  /**
   * The order of the items (default: the order of the index read). `by` is `id`, `updatedAt`,
   * `createdAt` or a declared search field of `machine` (`parseSort` in
   * lib/persist/search_sort.ts reads the text form `total:desc`).
   */
  sort?: ListSort;
  /** At most this many items in the page. */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

/** The order of `list`: a key and a direction; ties are ordered by id in the same direction. */
export interface ListSort {
  /** `id`, `updatedAt`, `createdAt`, or a search field of the listed machine. */
  by: string;
  /** `"asc"` (default) or `"desc"`. */
  order?: "asc" | "desc";
}

/** Progress of a search re-index of one machine's instances. */
export interface ReindexProgress {
  /** The machine. */
  machine: string;
  /** Instances looked at so far. */
  done: number;
  /** Instances of the machine when the re-index started. */
  total: number;
  /** Instances whose index entries changed. */
  updated: number;
  /** Whether every instance is indexed under the current declaration. */
  finished: boolean;
  /** The node doing the work (only one node of those on a store re-indexes a machine). */
  holder?: string;
}

/** One clause of `ListOptions.where`: a search field compared with a value, or a tag. */
export type WhereClause =
  | { field: string; op: "=" | ">" | ">=" | "<" | "<="; value: string | number | boolean }
  | { tag: string };

/** A page of `list`. */
export interface ListPage {
  /** The instances of this page. */
  items: InstanceInfo[];
  /** Pass back for the next page; absent on the last page. */
  cursor?: string;
}

/** A checkpoint. */
export interface CheckpointInfo {
  /** The journal entry it was taken after. */
  seq: number;
  /** The caller's name for it (`rollback` accepts it as `{ checkpoint: label }`). */
  label?: string;
  /** When it was taken. */
  time: number;
}

/** One line of an export (`kv export`): an instance, one of its journal entries, a checkpoint. */
export type ExportRecord =
  | (InstanceHead & {
    type: "instance";
    format: "statecraft.export/1";
    snapshot: Snapshot;
  })
  | { type: "journal"; id: string; entry: JournalEntry }
  | {
    type: "checkpoint";
    id: string;
    seq: number;
    label?: string;
    time: number;
    snapshot: Snapshot;
  };

/**
 * Errors a caller can act on: unknown instance, archived, conflicts, bad input.
 *
 * @example
 * ```ts
 * import { StoreError } from "./types.ts";
 * import type { Store } from "./types.ts";
 * async function stateOf(store: Store, id: string): Promise<string[]> {
 *   try {
 *     return (await store.send(id, "PING")).configuration;
 *   } catch (e) {
 *     if (e instanceof StoreError && e.code === "not_found") return [];
 *     throw e;
 *   }
 * }
 * ```
 */
export class StoreError extends Error {
  /**
   * `not_found`, `exists`, `archived`, `conflict`, `invalid`, `incompatible`, `too_large`,
   * `unavailable` (the storage could not be reached: try again; an event sent with an event id
   * may be sent again safely), `not_owner` (cluster mode: another node owns the instance's
   * partition), or `read_only` (a cluster's store opened outside the cluster).
   */
  readonly code: string;
  /**
   * Made by the store for a request it refuses.
   *
   * @param code one of the codes above, for programs.
   * @param message what was refused and why, for people.
   */
  constructor(code: string, message: string) {
    super(message);
    this.name = "StoreError";
    this.code = code;
  }
}

/** Durable machine instances: what the runtime, the REPL and the server use of a store. */
export interface Store {
  /** Where the store lives (a path or a URL without its password). */
  readonly path: string;
  /** The storage underneath (for plugins' namespaces and tools). */
  readonly backend: KvBackend;
  /** The machines instances may use. */
  readonly machines: AnyMachine[];
  /** Storage operations sent and instance commits they carried. */
  readonly commitStats: { operations: number; commits: number };
  /** The cluster membership the store runs in (cluster mode), if any. */
  readonly cluster?: ClusterMembership;
  /** Creates and starts an instance; resolves once it is durable. */
  create(
    machineId: string,
    instanceId: string,
    options?: { context?: Record<string, unknown>; by?: string; eventId?: string },
  ): Promise<InstanceInfo>;
  /** Sends an event; resolves once its macrostep is durable. */
  send(
    instanceId: string,
    event: EventObject | string,
    options?: { eventId?: string; by?: string },
  ): Promise<SendResult>;
  /** The instance's state, or `null`. */
  get(instanceId: string): Promise<InstanceInfo | null>;
  /** Instances through the indexes. */
  list(options?: ListOptions): Promise<ListPage>;
  /** The journal of an instance. */
  history(instanceId: string, options?: { from?: number; limit?: number }): Promise<JournalEntry[]>;
  /** Records a checkpoint. */
  checkpoint(instanceId: string, label?: string): Promise<CheckpointInfo>;
  /** The checkpoints of an instance, oldest first. */
  checkpoints(instanceId: string): Promise<CheckpointInfo[]>;
  /** Moves an instance back to the state after a journal entry, or at a checkpoint. */
  rollback(
    instanceId: string,
    target: { seq: number } | { checkpoint: string },
    options?: { by?: string },
  ): Promise<InstanceInfo>;
  /** Archives an instance: it refuses events (code `archived`) until unarchived; its data stays. */
  archive(instanceId: string, options?: { by?: string }): Promise<InstanceInfo>;
  /** Brings an archived instance back: it takes events again. */
  unarchive(instanceId: string, options?: { by?: string }): Promise<InstanceInfo>;
  /**
   * Operator action: stops an instance for good with a reason (status `"cancelled"`): its
   * invocations and timers stop, events are refused (code `cancelled`). Journaled with `by`.
   */
  cancel(instanceId: string, options: { reason: string; by?: string }): Promise<InstanceInfo>;
  /**
   * Operator action: a new instance `newId` from `instanceId`'s state after journal entry `seq`
   * (default: its latest); its first journal entry (`fork`) names the origin and seq.
   */
  fork(
    instanceId: string,
    newId: string,
    options?: { seq?: number; by?: string },
  ): Promise<InstanceInfo>;
  /** The forks made from an instance (their links), oldest id first. */
  forks(instanceId: string): Promise<ForkLink[]>;
  /**
   * Operator action: runs the instance's failed effects (sends to plugins kept in the outbox)
   * again, with their effect ids; with none (or `invocation: true`), retries the invocation
   * whose `error.*` result is the latest since the state was last replaced: back to the state
   * before that result, the invocation started again. `effect` picks one effect. Journaled as
   * `redrive` with `by`.
   */
  redrive(instanceId: string, options?: RedriveOptions): Promise<RedriveInfo>;
  /** Deletes an instance and all its data; false when there was none. */
  delete(instanceId: string): Promise<boolean>;
  /** The current snapshot of an instance. */
  snapshot(instanceId: string): Promise<Snapshot>;
  /** Reads the live instance in its mailbox. */
  inspect<T>(instanceId: string, fn: (instance: AnyInstance) => T): Promise<T>;
  /** Registers a machine or a new definition of one (hot reload). */
  replaceMachine(machine: AnyMachine): Promise<void>;
  /** Waits for the search re-indexes running now (all, or one machine's) to finish. */
  searchReady(machine?: string): Promise<void>;
  /** Every stored instance as export records. */
  export(options?: { machine?: string }): AsyncGenerator<ExportRecord>;
  /** Writes export records back. */
  import(
    records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
    onProgress?: (done: { instances: number; records: number }) => void,
  ): Promise<{ instances: number; journal: number; checkpoints: number }>;
  /** Waits for queued work and closes the storage. */
  close(): Promise<void>;
}
