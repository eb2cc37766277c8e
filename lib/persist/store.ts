/**
 * Durable machine instances. Every instance the store runs lives here: one atomic commit per
 * macrostep (snapshot + journal entry + index changes, checked against the instance record's
 * version), acknowledged only once durable, never applied twice. The store sits on a
 * `KvBackend` (Deno KV by default, PostgreSQL by URL); this file is its facade: each concern
 * is a room of its own (see docs/architecture.md).
 *
 * @module
 */
import { SystemClock } from "../core/clock.ts";
import { EventError } from "../core/errors.ts";
import type { EventObject, Snapshot } from "../core/types.ts";
import { applyBatch } from "./apply.ts";
import type { ClusterMembership } from "../cluster/types.ts";
import type { KvBackend } from "./backend.ts";
import * as checkpoints from "./checkpoints.ts";
import { StoreClock } from "./clocks.ts";
import { importKey } from "./codec.ts";
import { checkFormat } from "./format.ts";
import { defaultCacheBytes } from "./instance_cache.ts";
import * as instances from "./instances.ts";
import * as operator from "./operator.ts";
import { load } from "./loading.ts";
import { Mailboxes } from "./mailbox.ts";
import { K } from "./keys.ts";
import { openBackend } from "./open_backend.ts";
import { Records } from "./records.ts";
import { ChangeFeedReader } from "./change_feed.ts";
import { Forwarder, type ForwardKind, type ForwardRequest } from "./forwarding.ts";
import { StoreContext } from "./store_context.ts";
import { type Cause, readCause } from "./livelock.ts";
import { TimerPoller } from "./timers.ts";
import { SpanKind, traced, tracing } from "../telemetry/tracing.ts";
import { exportRecords, importRecords } from "./transfer.ts";
import { reindexMachine } from "./search_reindex.ts";
import { sortedList } from "./search_sort.ts";
import {
  type AnyInstance,
  type AnyMachine,
  type CheckpointInfo,
  type ExportRecord,
  type ForkLink,
  type InstanceInfo,
  type JournalEntry,
  type ListOptions,
  type ListPage,
  type OpenStoreOptions,
  type RedriveInfo,
  type RedriveOptions,
  type SendResult,
  type Store,
  StoreError,
} from "./types.ts";

export type {
  CheckpointInfo,
  CommitInfo,
  ExportRecord,
  FailedEffect,
  InstanceInfo,
  JournalEntry,
  ListOptions,
  ListPage,
  ListSort,
  OpenStoreOptions,
  RedriveInfo,
  RedrivenEffect,
  RedriveOptions,
  ReindexProgress,
  SendResult,
  Store,
  WhereClause,
} from "./types.ts";
export { StoreError } from "./types.ts";

const encoder = new TextEncoder();
/** Events are at most this many bytes of JSON. */
const MAX_EVENT_BYTES = 60_000;
/** Sends committed together at most, per instance (each adds a journal entry, maybe an id). */
const MAX_BATCH = 64;

/**
 * Opens a store: a local KV file (created with its folder), `":memory:"`, a KV Connect URL,
 * or a PostgreSQL URL. Opening reads one record, whatever the number of instances: instances
 * load lazily.
 *
 * @example
 * ```ts
 * import { openStore } from "./store.ts";
 * import { defineMachine } from "../core/machine.ts";
 * const door = defineMachine({
 *   id: "door",
 *   initial: "closed",
 *   states: { closed: { on: { OPEN: "open" } }, open: { on: { CLOSE: "closed" } } },
 * });
 * const store = await openStore({ path: ":memory:", machines: [door] });
 * try {
 *   await store.create("door", "front");
 *   // Resolves once durable; sent again with the same event id, it is applied once.
 *   const ack = await store.send("front", { type: "OPEN" }, { eventId: "evt-1" });
 *   // ack.configuration is ["open"], ack.seq is 1
 *   const again = await store.send("front", { type: "OPEN" }, { eventId: "evt-1" });
 *   // again.duplicate is true
 *   const journal = await store.history("front"); // create, OPEN
 *   await store.rollback("front", { seq: 0 }); // back to "closed"
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const path = options.path ?? ".statecraft/state.kv";
  const backend = options.backend ?? await openBackend(path);
  try {
    const key = options.encryptionKey === undefined ? null : await importKey(options.encryptionKey);
    await checkFormat(backend, key, backend.where);
    const store = new DurableStore(backend, key, options);
    if (options.cluster === undefined && (await backend.get(K.clusterConfig())).value !== null) {
      // Writes that bypass the partitions' owners would race them: refused, reads stay open.
      store.readOnlyBecause =
        `the store at ${backend.where} runs in cluster mode: write through one of its nodes, ` +
        `or join the cluster (statecraft serve --cluster; the REPL and run join as clients)`;
    }
    return store;
  } catch (e) {
    await backend.close();
    throw e;
  }
}

/** The store on a backend. Created by `openStore`; used through the `Store` interface. */
export class DurableStore implements Store {
  readonly path: string;
  readonly #ctx: StoreContext;
  readonly #poller: TimerPoller | null;
  #forwarder: Forwarder | undefined;
  /** Set when writes are refused (a cluster's store opened outside the cluster): why. */
  readOnlyBecause: string | undefined;
  #feed: ChangeFeedReader | undefined;
  #unlisten: (() => void) | undefined;
  /** Search re-indexes running, by machine id. */
  readonly #reindexing = new Map<string, Promise<void>>();

  /** @internal Use `openStore`. */
  constructor(backend: KvBackend, key: CryptoKey | null, options: OpenStoreOptions) {
    this.path = backend.where;
    const ctx = new StoreContext(
      backend,
      new Records(backend, key),
      new StoreClock(options.clock ?? new SystemClock()),
      options,
      options.cacheBytes ?? defaultCacheBytes(),
    );
    ctx.mailboxes = new Mailboxes((id, batch) => applyBatch(ctx, id, batch), {
      count: MAX_BATCH,
      bytes: Math.floor(Math.min(300_000, backend.limits.bytes * 0.4)),
    });
    for (const m of options.machines) {
      if (ctx.machines.has(m.id)) {
        throw new StoreError("invalid", `two machines registered with the id "${m.id}"`);
      }
      ctx.machines.set(m.id, m);
    }
    this.#ctx = ctx;
    // Sends to `instance:<id>` targets: after the sender's commit, with their cause.
    ctx.deliverToInstance = (id, event, o) => this.#send(id, event, o, o.cause);
    ctx.cluster = options.cluster;
    if (options.cluster !== undefined) ctx.committer.feedNode = options.cluster.node;
    if (options.cluster !== undefined && ctx.live) {
      const cluster = options.cluster;
      // A partition lost: its instances stop here (their timers with them).
      this.#unlisten = cluster.onLost((partition) => {
        for (const l of [...ctx.cache.values()]) {
          if (cluster.partitionOf(l.rec.id) === partition) ctx.evict(l.rec.id);
        }
      });
      // Commits made on other nodes reach onCommit here too.
      if (options.onCommit !== undefined) {
        this.#feed = new ChangeFeedReader({
          backend,
          node: cluster.node,
          deliver: (commit) => ctx.notify(commit.id, commit.machine, commit.from, commit.entries),
          entries: async (ref) => {
            const out = [];
            const journal = backend.list<unknown>({
              start: K.journal(ref.id, ref.first),
              end: K.journal(ref.id, ref.last + 1),
            });
            for await (const e of journal) out.push(await ctx.records.openJournal(e.value, ref.id));
            return out;
          },
          onError: (e) => ctx.reportError(e, "(feed)", "change feed"),
        });
      }
    }
    if (options.cluster !== undefined) {
      // Writes for partitions other nodes own go to them (an inspect-mode client too: the
      // CLI's operator commands beside a cluster).
      const cluster = options.cluster;
      this.#forwarder = new Forwarder({
        backend,
        membership: cluster,
        execute: (request) => this.#execute(request),
        isNotOwner: (e) => e instanceof StoreError && e.code === "not_owner",
        onError: (e) => ctx.reportError(e, "(forwarding)", "forwarding"),
        timeoutMs: options.forwardTimeoutMs,
      });
    }
    if (ctx.live) { for (const m of options.machines) this.#reindex(m); }
    this.#poller = !ctx.live ? null : new TimerPoller({
      backend,
      now: () => ctx.clock.now(),
      everyMs: options.timerPollMs ?? 250,
      // In cluster mode only the owner of an instance's partition arms its timers.
      isLoaded: (id) => ctx.cache.has(id) || !ctx.runsHere(id),
      load: (id) => {
        this.#run(id, () => load(ctx, id)).catch((e) => {
          if (!ctx.closed && !(e instanceof StoreError && e.code === "not_found")) {
            ctx.reportError(e, id);
          }
        });
      },
      onError: (e) => ctx.reportError(e, "(timers)", "timers"),
    });
  }

  /** Storage writes sent and instance commits they carried. */
  get commitStats(): { operations: number; commits: number } {
    return { ...this.#ctx.committer.stats };
  }

  /** The storage underneath (for plugins' namespaces and tools). */
  get backend(): KvBackend {
    return this.#ctx.backend;
  }

  /** The records codec: seals values with the store's key (schedule records use it). */
  get records(): Records {
    return this.#ctx.records;
  }

  /** The machines this store was opened with (or given since). */
  get machines(): AnyMachine[] {
    return [...this.#ctx.machines.values()];
  }

  /**
   * How many instances have work queued or running in their mailbox: sends, timer firings,
   * invocation results, loads (0: the store is idle).
   */
  get pending(): number {
    return this.#ctx.mailboxes.pending;
  }

  /**
   * Resolves once no instance has work queued or running in its mailbox, including work
   * queued while waiting: every acknowledged commit is then durable. For tests on virtual time
   * (`@statecraft/statecraft/testing`), which need to know when a timer's firing is applied.
   */
  idle(): Promise<void> {
    return this.#ctx.mailboxes.idle();
  }

  /**
   * @internal Runs background work of the store's own (the schedules' loop) in a mailbox of
   * its own, `key`: one at a time per key, and counted by `pending` and `idle()`.
   */
  background<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.#ctx.mailboxes.enqueue(`\u0000${key}`, task);
  }

  /** Instances in memory and their estimated bytes. */
  get cacheStats(): { instances: number; bytes: number } {
    return { instances: this.#ctx.cache.size, bytes: this.#ctx.cache.bytes };
  }

  /**
   * Creates and starts an instance; resolves once it is durable. With an `eventId`, creating
   * again answers with the instance that id created (`duplicate: true`), not `exists`.
   */
  create(
    machineId: string,
    instanceId: string,
    options: { context?: Record<string, unknown>; by?: string; eventId?: string } = {},
  ): Promise<InstanceInfo> {
    const bad = instances.idProblem(instanceId);
    if (bad !== null) return Promise.reject(bad);
    const machine = this.#ctx.machines.get(machineId);
    if (machine === undefined) {
      const known = [...this.#ctx.machines.keys()].join(", ") || "none";
      return Promise.reject(
        new StoreError("invalid", `unknown machine "${machineId}" (registered: ${known})`),
      );
    }
    const create = () =>
      this.#route(
        "create",
        instanceId,
        { machine: machineId, ...options },
        () => this.#createOnce(machine, instanceId, options),
      ) as Promise<InstanceInfo>;
    if (!tracing) return create();
    // OpenTelemetry on: the create's span is the parent of what starting the instance does.
    const attributes = { "statecraft.machine": machineId, "statecraft.instance": instanceId };
    return traced("statecraft.create", { attributes, kind: SpanKind.PRODUCER }, create);
  }

  /**
   * Sends an event; resolves with the resulting configuration once the macrostep's result is
   * committed. An `eventId` already applied to this instance is acknowledged with the original
   * result and not applied again.
   */
  send(
    instanceId: string,
    event: EventObject | string,
    options: { eventId?: string; by?: string } = {},
  ): Promise<SendResult> {
    return this.#send(instanceId, event, options, undefined);
  }

  /** `send`, with the cause of a send from another instance (livelock.ts; none: outside). */
  #send(
    instanceId: string,
    event: EventObject | string,
    options: { eventId?: string; by?: string },
    cause: Cause | undefined,
  ): Promise<SendResult> {
    const ev = typeof event === "string" ? { type: event } : event;
    if (typeof ev !== "object" || ev === null || typeof ev.type !== "string" || ev.type === "") {
      return Promise.reject(new EventError(`send: an event needs a non-empty string "type"`));
    }
    const bytes = encoder.encode(JSON.stringify(ev)).length;
    if (bytes > MAX_EVENT_BYTES) {
      return Promise.reject(
        new StoreError(
          "too_large",
          `event "${ev.type}" is ${bytes} bytes; at most ${MAX_EVENT_BYTES}`,
        ),
      );
    }
    const local = (eventId = options.eventId) =>
      this.#ctx.mailboxes.enqueueSend(instanceId, {
        kind: "event",
        event: ev,
        eventId,
        by: options.by ?? "api",
        bytes,
        cause,
      }).catch((e) => Promise.reject(this.#ctx.storeError(e)));
    const args = { event: ev, eventId: options.eventId, by: options.by, cause };
    const send = () => this.#route("send", instanceId, args, local) as Promise<SendResult>;
    if (!tracing) return send();
    // OpenTelemetry on: the send's span is the parent of its macrostep and commit.
    const attributes = { "statecraft.instance": instanceId, "statecraft.event": ev.type };
    return traced(`statecraft.send ${ev.type}`, { attributes, kind: SpanKind.PRODUCER }, send);
  }

  /** The instance's state, or `null` if there is no such instance. */
  async get(instanceId: string): Promise<InstanceInfo | null> {
    try {
      return await this.#run(
        instanceId,
        async () =>
          await operator.withFailedEffects(this.#ctx, await instances.get(this.#ctx, instanceId)),
      );
    } catch (e) {
      if (e instanceof StoreError && e.code === "not_found") return null;
      throw e;
    }
  }

  /** Lists instances through secondary indexes (never a scan of all instances when filtered). */
  list(options: ListOptions = {}): Promise<ListPage> {
    if (options.sort !== undefined) return this.#guard(sortedList(this.#ctx, options));
    return this.#guard(instances.list(this.#ctx, options));
  }

  /** The journal of an instance, from `from` (a seq, default 0), at most `limit` entries. */
  history(
    instanceId: string,
    options: { from?: number; limit?: number } = {},
  ): Promise<JournalEntry[]> {
    return this.#guard(instances.history(this.#ctx, instanceId, options));
  }

  /** Records a checkpoint of the current state, optionally labelled. */
  checkpoint(instanceId: string, label?: string): Promise<CheckpointInfo> {
    if (label !== undefined && (label === "" || /^\d+$/.test(label))) {
      return Promise.reject(
        new StoreError(
          "invalid",
          `a checkpoint label must be non-empty and not a number: "${label}"`,
        ),
      );
    }
    return this.#route(
      "checkpoint",
      instanceId,
      { label },
      () => this.#run(instanceId, () => checkpoints.checkpoint(this.#ctx, instanceId, label)),
    ) as Promise<CheckpointInfo>;
  }

  /** The checkpoints of an instance, oldest first. */
  checkpoints(instanceId: string): Promise<CheckpointInfo[]> {
    return this.#guard(checkpoints.checkpoints(this.#ctx, instanceId));
  }

  /**
   * Moves an instance back to its state after journal entry `seq`, or at a checkpoint. The
   * rollback itself is a journal entry: nothing is erased. Timers due meanwhile fire at once.
   */
  rollback(
    instanceId: string,
    target: { seq: number } | { checkpoint: string },
    options: { by?: string } = {},
  ): Promise<InstanceInfo> {
    return this.#route("rollback", instanceId, { target, ...options }, () =>
      this.#run(
        instanceId,
        () => checkpoints.rollback(this.#ctx, instanceId, target, options.by ?? "api"),
      )) as Promise<InstanceInfo>;
  }

  /** Archives an instance: it keeps its data, stops running and leaves default listings. */
  archive(instanceId: string, options: { by?: string } = {}): Promise<InstanceInfo> {
    return this.#route("archive", instanceId, options, () =>
      this.#run(
        instanceId,
        () => instances.setArchived(this.#ctx, instanceId, true, options.by ?? "api"),
      )) as Promise<InstanceInfo>;
  }

  /** Brings an archived instance back. */
  unarchive(instanceId: string, options: { by?: string } = {}): Promise<InstanceInfo> {
    return this.#route("unarchive", instanceId, options, () =>
      this.#run(
        instanceId,
        () => instances.setArchived(this.#ctx, instanceId, false, options.by ?? "api"),
      )) as Promise<InstanceInfo>;
  }

  /** Operator action: cancels an instance with a reason (see `Store.cancel`). */
  cancel(instanceId: string, options: { reason: string; by?: string }): Promise<InstanceInfo> {
    const a = { reason: options.reason, by: options.by ?? "api" };
    return this.#route(
      "cancel",
      instanceId,
      a,
      () => this.#run(instanceId, () => operator.cancel(this.#ctx, instanceId, a.reason, a.by)),
    ) as Promise<
      InstanceInfo
    >;
  }

  /** Operator action: forks an instance at a journal seq (see `Store.fork`); runs on `newId`'s owner. */
  fork(
    instanceId: string,
    newId: string,
    options: { seq?: number; by?: string } = {},
  ): Promise<InstanceInfo> {
    const bad = instances.idProblem(newId);
    if (bad !== null) return Promise.reject(bad);
    const a = { source: instanceId, seq: options.seq, by: options.by ?? "api" };
    return this.#route(
      "fork",
      newId,
      a,
      () => this.#run(newId, () => operator.fork(this.#ctx, instanceId, newId, a)),
    ) as Promise<
      InstanceInfo
    >;
  }

  /** The forks made from an instance (their links). */
  forks(instanceId: string): Promise<ForkLink[]> {
    return this.#guard(operator.forks(this.#ctx, instanceId));
  }

  /** Operator action: runs failed effects again, or retries the failed invocation (see `Store.redrive`). */
  redrive(instanceId: string, options: RedriveOptions = {}): Promise<RedriveInfo> {
    const a = { by: options.by ?? "api", effect: options.effect, invocation: options.invocation };
    return this.#route(
      "redrive",
      instanceId,
      a,
      () =>
        this.#guard(
          operator.redrive(this.#ctx, instanceId, a, (task) => this.#run(instanceId, task)),
        ),
    ) as Promise<RedriveInfo>;
  }

  /** Deletes an instance and everything stored for it. */
  delete(instanceId: string): Promise<boolean> {
    return this.#route(
      "delete",
      instanceId,
      {},
      () => this.#run(instanceId, () => instances.remove(this.#ctx, instanceId)),
    ) as Promise<boolean>;
  }

  /** The current snapshot of an instance (what `machine.restore` takes). */
  snapshot(instanceId: string): Promise<Snapshot> {
    return this.#run(
      instanceId,
      async () => (await load(this.#ctx, instanceId)).instance.snapshot(),
    );
  }

  /**
   * Runs `fn` with the live engine instance, in the instance's mailbox (so nothing else runs
   * meanwhile). For reads the store does not offer (accepted events, `can`); `fn` must not
   * send events to it (use `send`), or the changes would not be durable.
   */
  inspect<T>(instanceId: string, fn: (instance: AnyInstance) => T): Promise<T> {
    return this.#run(instanceId, async () => fn((await load(this.#ctx, instanceId)).instance));
  }

  /**
   * Registers a machine, or a new definition of one (hot reload): instances of it in memory
   * are dropped, each in its mailbox, and load again under the new definition (through its
   * migrations when the shape changed). Resolves once they have been dropped.
   */
  async replaceMachine(machine: AnyMachine): Promise<void> {
    const ctx = this.#ctx;
    ctx.machines.set(machine.id, machine);
    const ids = [...ctx.cache.values()].filter((l) => l.machine.id === machine.id)
      .map((l) => l.rec.id);
    await Promise.all(ids.map((id) => this.#run(id, () => Promise.resolve(ctx.evict(id)))));
    if (ctx.live) this.#reindex(machine);
  }

  /** Waits for the search re-indexes running now (all, or `machine`'s) to finish. */
  async searchReady(machine?: string): Promise<void> {
    for (const [id, job] of [...this.#reindexing]) {
      if (machine === undefined || id === machine) await job;
    }
  }

  /** Starts a background search re-index of `machine` (after the one running for it). */
  #reindex(machine: AnyMachine): void {
    const ctx = this.#ctx;
    const before = this.#reindexing.get(machine.id) ?? Promise.resolve();
    const job: Promise<void> = before.then(() =>
      reindexMachine(ctx, machine, (id, task) => this.#run(id, task), ctx.options.onReindex)
    ).then(() => {}, (e) => {
      if (!ctx.closed) ctx.reportError(e, "(search)", `re-indexing machine "${machine.id}"`);
    }).finally(() => {
      if (this.#reindexing.get(machine.id) === job) this.#reindexing.delete(machine.id);
    });
    this.#reindexing.set(machine.id, job);
  }

  /**
   * Every stored instance as export records, in order: its `instance` record (with the
   * current snapshot), then its `journal` entries, then its `checkpoint`s. Values come out
   * decrypted: an export of an encrypted store is plaintext.
   */
  export(options: { machine?: string } = {}): AsyncGenerator<ExportRecord> {
    return exportRecords(this.#ctx, options);
  }

  /**
   * Writes export records back (into this store, which may be encrypted differently). An
   * instance that already exists is an error naming it; nothing of it is written.
   */
  import(
    records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
    onProgress?: (done: { instances: number; records: number }) => void,
  ): Promise<{ instances: number; journal: number; checkpoints: number }> {
    if (this.readOnlyBecause !== undefined) {
      return Promise.reject(new StoreError("read_only", `import: ${this.readOnlyBecause}`));
    }
    return this.#guard(importRecords(this.#ctx, records, onProgress));
  }

  /** Waits for queued work, stops the instances in memory and closes the backend. */
  async close(): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.closed) return;
    ctx.closed = true;
    this.#poller?.stop();
    this.#forwarder?.stop();
    this.#feed?.stop();
    this.#unlisten?.();
    await Promise.all([...this.#reindexing.values()]);
    await ctx.mailboxes.close();
    ctx.cache.clear();
    if (ctx.cluster !== undefined) {
      // Hands this node's partitions over at once (a graceful stop), before the backend goes.
      try {
        await ctx.cluster.leave();
      } catch (e) {
        ctx.reportError(e, "(cluster)", "leaving the cluster");
      }
    }
    await ctx.backend.close();
  }

  /** The cluster membership this store runs in, if any. */
  get cluster(): ClusterMembership | undefined {
    return this.#ctx.cluster;
  }

  /**
   * A write: run here when this node runs the instance (always, out of cluster mode), else
   * forwarded to the owner of its partition; a local write that finds the partition gone
   * (fenced) is forwarded too.
   */
  async #route(
    kind: ForwardKind,
    instanceId: string,
    args: unknown,
    local: () => Promise<unknown>,
  ): Promise<unknown> {
    if (this.readOnlyBecause !== undefined) {
      throw new StoreError("read_only", `${kind} "${instanceId}": ${this.readOnlyBecause}`);
    }
    const forwarder = this.#forwarder;
    if (forwarder === undefined) return await local();
    if (this.#ctx.runsHere(instanceId)) {
      try {
        return await local();
      } catch (e) {
        if (!(e instanceof StoreError && e.code === "not_owner")) throw e;
      }
    }
    try {
      return await forwarder.forward(kind, instanceId, args);
    } catch (e) {
      throw this.#ctx.storeError(e); // the store unreachable: `unavailable`, like a local write
    }
  }

  /** Runs a request forwarded by another node (this node owns its partition). */
  async #execute(request: ForwardRequest): Promise<unknown> {
    const id = request.instanceId;
    // deno-lint-ignore no-explicit-any
    const a = request.args as any;
    switch (request.kind) {
      case "send": {
        const eventId = a.eventId ?? `fwd:${request.id}`;
        const ev = a.event;
        return await this.#ctx.mailboxes.enqueueSend(id, {
          kind: "event",
          event: ev,
          eventId,
          by: a.by ?? "api",
          bytes: encoder.encode(JSON.stringify(ev)).length,
          cause: readCause(a.cause),
        }).catch((e) => Promise.reject(this.#ctx.storeError(e)));
      }
      case "create": {
        const machine = this.#ctx.machines.get(a.machine);
        if (machine === undefined) {
          throw new StoreError(
            "invalid",
            `unknown machine "${a.machine}" on node ${this.#ctx.cluster?.node}`,
          );
        }
        // Run again after a takeover: answered with the instance this very request created.
        const info = await this.#createOnce(machine, id, {
          ...a,
          eventId: a.eventId ?? `fwd:${request.id}`,
        });
        return a.eventId === undefined ? { ...info, duplicate: undefined } : info;
      }
      case "checkpoint":
        return await this.#run(id, () => checkpoints.checkpoint(this.#ctx, id, a.label));
      case "rollback":
        return await this.#run(
          id,
          () => checkpoints.rollback(this.#ctx, id, a.target, a.by ?? "api"),
        );
      case "archive":
      case "unarchive":
        return await this.#run(
          id,
          () => instances.setArchived(this.#ctx, id, request.kind === "archive", a.by ?? "api"),
        );
      case "delete":
        return await this.#run(id, () => instances.remove(this.#ctx, id));
      case "cancel":
        return await this.#run(id, () => operator.cancel(this.#ctx, id, a.reason, a.by));
      case "fork":
        return await this.#run(id, () => operator.fork(this.#ctx, a.source, id, a));
      case "redrive":
        return await operator.redrive(this.#ctx, id, a, (task) => this.#run(id, task));
    }
  }

  /** Creates here; with an event id, a create already made with it answers with its instance. */
  async #createOnce(
    machine: AnyMachine,
    id: string,
    options: { context?: Record<string, unknown>; by?: string; eventId?: string },
  ): Promise<InstanceInfo> {
    try {
      return await this.#run(id, () => instances.create(this.#ctx, machine, id, options));
    } catch (e) {
      if (!(e instanceof StoreError && e.code === "exists") || options.eventId === undefined) {
        throw e;
      }
      const first = (await this.history(id, { limit: 1 }))[0];
      if (first?.eventId !== options.eventId) throw e;
      return { ...(await this.get(id))!, duplicate: true };
    }
  }

  /** Runs a task in the instance's mailbox; storage errors become `StoreError`s. */
  #run<T>(instanceId: string, task: () => Promise<T>): Promise<T> {
    return this.#guard(this.#ctx.mailboxes.enqueue(instanceId, task));
  }

  #guard<T>(work: Promise<T>): Promise<T> {
    return work.catch((e) => Promise.reject(this.#ctx.storeError(e)));
  }
}
