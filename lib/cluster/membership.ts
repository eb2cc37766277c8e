/**
 * Partition leases and membership: which node owns which partition, held in the store itself
 * (see docs/cluster.md for the protocol and its failure cases).
 *
 * Keys (`lib/persist/keys.ts`):
 * - `K.clusterConfig()` = `{ partitions }`, written once (absence check) by the first node.
 * - `K.lease(p)` = `{ owner, epoch, expiresAt }`: rewritten by its owner every `renewMs`.
 * - `K.epoch(p)` = `{ epoch, owner }`: the fencing record, written only when the partition
 *   changes hands (epoch + 1, in the same atomic write as the lease, checking the lease's
 *   version). Renewal never touches it, so the store's commits check its version: once another
 *   node took the partition, a commit by the old owner fails its check.
 * - `K.node(name)` = `NodeState`: registration and heartbeat, rewritten every `renewMs`.
 *
 * One round (`tick`) of a member: heartbeat; renew the leases it holds (a lease found changed
 * is lost); acquire the free or expired partitions it is the preferred owner of (rendezvous
 * hashing over the live members, `balance.ts`); release the partitions it holds whose preferred
 * owner is another live member. A `"client"` node only heartbeats.
 *
 * @module
 */
import type { KvBackend, KvCheck, KvEntry, KvMutation } from "../persist/backend.ts";
import { K } from "../persist/keys.ts";
import { preferredOwner } from "./balance.ts";
import { partitionOf } from "./partition.ts";
import type {
  ClusterOptions,
  ClusterStats,
  ClusterStatus,
  NodeState,
  Ownership,
  PartitionState,
} from "./types.ts";

/** Partitions of a store that first runs in cluster mode without a `partitions` option. */
export const DEFAULT_PARTITIONS = 64;
/** The largest partition count a store may have (every round reads every lease). */
export const MAX_PARTITIONS = 4096;
/** How long a lease lasts without renewal, by default (ms). */
export const DEFAULT_LEASE_MS = 10_000;

/** How long a node record outlives its last heartbeat in the store (ms, at least). */
const NODE_RECORD_TTL_MS = 10 * 60_000;
/** Leases written or released in one atomic write (KV Connect allows 10 checks). */
const CHUNK = 10;

/** The value of `K.clusterConfig()`. */
export interface ClusterConfig {
  /** The store's partition count, fixed once recorded. */
  partitions: number;
}

/** The value of `K.lease(p)`. */
export interface LeaseRecord {
  /** The owner's node name; `null` once released. */
  owner: string | null;
  /** The fencing epoch: the same as `K.epoch(p)`'s, kept on release. */
  epoch: number;
  /** When the lease ends unless renewed (ms since the Unix epoch, the owner's clock; 0 released). */
  expiresAt: number;
}

/** The value of `K.epoch(p)`. */
export interface EpochRecord {
  /** Grows by one on every change of owner. */
  epoch: number;
  /** The node that took the partition at this epoch. */
  owner: string;
}

/** A listener of `onGained` / `onLost`. A promise it returns is awaited only on a graceful release. */
export type PartitionListener = (partition: number) => void | Promise<void>;

/** Options of `joinCluster`: the cluster settings, and what tests and hosts plug in. */
export interface MembershipOptions extends ClusterOptions {
  /** The clock (ms since the epoch; default `Date.now`). Tests drive it virtually. */
  now?: () => number;
  /** Receives every error of a round (the round goes on at the next period); default: ignore. */
  onError?: (error: unknown) => void;
  /** Whether to run the first round at once and then one every `renewMs` (default true). */
  start?: boolean;
  /** This node's HTTP address, when it serves one (shown by status, used for forwarding). */
  url?: string;
}

/**
 * The store's cluster settings cannot be used: another partition count than the one the store
 * recorded, a node name in use by a live node, or an option out of range.
 */
export class ClusterConfigError extends Error {
  /** `message` says what was wrong and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "ClusterConfigError";
  }
}

/** What this node holds of a partition. */
interface Held {
  ownership: Ownership;
  /** The version of `K.lease(p)` as this node last wrote or read it. */
  leaseVersion: string;
  /** When the lease ends unless renewed (this node's clock, taken before the write). */
  expiresAt: number;
}

/** A lease to release: its version as last seen, and its epoch (kept). */
interface ReleaseWrite {
  partition: number;
  version: string;
  epoch: number;
}

/** The settings of a `Membership`, resolved (see `joinCluster`). */
export interface MembershipSettings {
  /** This node's name. */
  node: string;
  /** `"member"` owns partitions; `"client"` only registers. */
  role: "member" | "client";
  /** The store's partition count (as recorded in its config). */
  partitions: number;
  /** Lease time (ms). */
  leaseMs: number;
  /** Round period (ms), less than `leaseMs`. */
  renewMs: number;
  /** The clock. */
  now: () => number;
  /** Receives the errors of rounds. */
  onError: (error: unknown) => void;
  /** This node's HTTP address, if any. */
  url?: string;
  /** The host name recorded in the node record. */
  host: string;
  /** The process id recorded in the node record. */
  pid: number;
}

/**
 * One node's membership in a cluster: its heartbeat, the leases it holds, and the events the
 * store follows (`onGained`, `onLost`). Made by `joinCluster`.
 *
 * @example
 * ```ts ignore
 * import { joinCluster } from "./membership.ts";
 * import { openBackend } from "../persist/open_backend.ts";
 * const backend = await openBackend("/tmp/state.kv");
 * const m = await joinCluster(backend, { node: "a" });
 * console.log(m.owns(m.partitionOf("order-1"))); // { partition, epoch, version } or undefined
 * await m.leave();
 * ```
 */
export class Membership {
  /** The store. */
  readonly backend: KvBackend;
  /** This node's name. */
  readonly node: string;
  /** `"member"` owns partitions; `"client"` only registers. */
  readonly role: "member" | "client";
  /** The store's partition count. */
  readonly partitions: number;
  /** Lease time (ms). */
  readonly leaseMs: number;
  /** Round period (ms). */
  readonly renewMs: number;
  /**
   * Counters for `/metrics`. `forwarded` and `served` are the store's to increment; the others
   * are kept here (`fencedCommits` by `fenced`).
   */
  readonly stats: ClusterStats = {
    owned: 0,
    acquired: 0,
    released: 0,
    takeovers: 0,
    lost: 0,
    fencedCommits: 0,
    forwarded: 0,
    served: 0,
  };
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #record: Omit<NodeState, "heartbeatAt">;
  readonly #held = new Map<number, Held>();
  readonly #gained = new Set<PartitionListener>();
  readonly #lost = new Set<PartitionListener>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #ticking: Promise<void> | null = null;
  #left = false;

  /** Use `joinCluster`, which also checks the store's config and registers the node. */
  constructor(backend: KvBackend, settings: MembershipSettings) {
    this.backend = backend;
    this.node = settings.node;
    this.role = settings.role;
    this.partitions = settings.partitions;
    this.leaseMs = settings.leaseMs;
    this.renewMs = settings.renewMs;
    this.#now = settings.now;
    this.#onError = settings.onError;
    this.#record = {
      node: settings.node,
      role: settings.role,
      host: settings.host,
      pid: settings.pid,
      startedAt: settings.now(),
      leaseMs: settings.leaseMs,
      ...(settings.url === undefined ? {} : { url: settings.url }),
    };
  }

  /** Whether rounds run on the timer (`start` called, `stop` and `leave` not). */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** The partition of an instance id. */
  partitionOf(instanceId: string): number {
    return partitionOf(instanceId, this.partitions);
  }

  /**
   * This node's ownership of `partition`, or `undefined` when it does not own it (or its lease
   * has run out on this node's clock). Synchronous: the store calls it on every commit and puts
   * `{ key: K.epoch(partition), version: ownership.version }` among the commit's checks.
   */
  owns(partition: number): Ownership | undefined {
    const held = this.#held.get(partition);
    if (held === undefined || this.#now() >= held.expiresAt) return undefined;
    return held.ownership;
  }

  /** The partitions this node owns now, ascending. */
  owned(): number[] {
    return [...this.#held.keys()].filter((p) => this.owns(p) !== undefined).sort((a, b) => a - b);
  }

  /**
   * The store saw a commit for `partition` fail its epoch check: another node owns it now.
   * Counts the fenced commit and drops the partition at once (`onLost`); the next round looks
   * at the lease again. With `epoch` (the epoch the commit checked), an ownership acquired
   * since (another epoch) is kept.
   */
  fenced(partition: number, epoch?: number): void {
    this.stats.fencedCommits++;
    const held = this.#held.get(partition);
    if (held === undefined) return;
    if (epoch !== undefined && held.ownership.epoch !== epoch) return;
    this.#drop(partition, true);
  }

  /** Calls `listener(p)` when this node gains a partition; returns a function that stops it. */
  onGained(listener: PartitionListener): () => void {
    this.#gained.add(listener);
    return () => this.#gained.delete(listener);
  }

  /**
   * Calls `listener(p)` when this node stops owning a partition (lost, fenced, expired, or
   * released). On a graceful release (balance, `leave`) a promise it returns is awaited, up to
   * `renewMs`, before the lease is released: time to finish commits in flight.
   */
  onLost(listener: PartitionListener): () => void {
    this.#lost.add(listener);
    return () => this.#lost.delete(listener);
  }

  /** The cluster as the store records it: config, nodes (live or not), every partition. */
  async status(): Promise<ClusterStatus> {
    const status = await clusterStatus(this.backend, {
      now: this.#now,
      self: this.node,
      leaseMs: this.leaseMs,
    });
    if (status === null) throw new ClusterConfigError(`${this.backend.where}: no cluster config`);
    return status;
  }

  /**
   * One round: heartbeat, renew, acquire, release (see the module doc). Never rejects: errors go
   * to `onError`, and partitions whose lease has run out on this node's clock are dropped.
   * Joins the round in progress, if any; does nothing after `leave`.
   */
  tick(): Promise<void> {
    if (this.#left) return Promise.resolve();
    if (this.#ticking !== null) return this.#ticking;
    const round = this.#round()
      .catch((e) => this.#report(e))
      .finally(() => {
        this.#expireOverdue();
        this.#ticking = null;
      });
    this.#ticking = round;
    return round;
  }

  /**
   * Runs a round every `renewMs` on a timer that does not keep the process alive. While a round
   * is slow (an unreachable store), the timer still drops the partitions whose lease ran out.
   */
  start(): void {
    if (this.#timer !== undefined || this.#left) return;
    const timer = setInterval(() => {
      if (this.#ticking !== null) this.#expireOverdue();
      else void this.tick();
    }, this.renewMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /**
   * Stops the timer without releasing anything: the leases run out and other nodes take over
   * after `leaseMs` (what a crash or a pause looks like to them). `tick` and `start` still work.
   */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Graceful shutdown: stops the rounds, drops every partition (`onLost`, awaited), releases
   * their leases and deletes the node record, so that other nodes take over on their next round.
   * Errors go to `onError` (the leases then run out by themselves). Later calls do nothing.
   */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    this.stop();
    if (this.#ticking !== null) await this.#ticking;
    try {
      await this.#release([...this.#held.keys()]);
      await this.backend.atomic([], [{ type: "delete", key: K.node(this.node) }]);
    } catch (e) {
      this.#report(e);
    }
  }

  // --- One round --------------------------------------------------------------------------

  async #round(): Promise<void> {
    this.#expireOverdue();
    await this.heartbeat();
    if (this.role !== "member") return;
    const [nodes, leases] = await Promise.all([
      readNodes(this.backend),
      readLeases(this.backend),
    ]);
    const now = this.#now();
    const members = new Set(
      nodes.filter((n) => n.role === "member" && isLive(n, now, this.leaseMs)).map((n) => n.node),
    );
    members.add(this.node);

    // Renew what is still ours; a lease found changed (another owner or epoch) is lost.
    const renew: number[] = [];
    for (const [p, held] of this.#held) {
      const entry = leases.get(p);
      const lease = entry?.value;
      if (
        entry === undefined || lease == null || lease.owner !== this.node ||
        lease.epoch !== held.ownership.epoch
      ) {
        this.#drop(p, true);
        continue;
      }
      held.leaseVersion = entry.version!;
      renew.push(p);
    }
    await this.#renew(renew);

    // Acquire the free or expired partitions this node is preferred for; release its own
    // stale leases (written before a restart, a fence or a lapse) that another node is
    // preferred for.
    const stale: ReleaseWrite[] = [];
    const acquireAt = this.#now();
    for (let p = 0; p < this.partitions; p++) {
      if (this.#held.has(p)) continue;
      const entry = leases.get(p);
      const lease = entry?.value ?? null;
      const free = lease === null || lease.owner === null || lease.expiresAt < acquireAt ||
        lease.owner === this.node;
      if (!free) continue;
      if (preferredOwner(members, p) === this.node) {
        await this.#acquire(p, entry, acquireAt);
      } else if (lease?.owner === this.node && lease.expiresAt >= acquireAt) {
        stale.push({ partition: p, version: entry!.version!, epoch: lease.epoch });
      }
    }
    if (stale.length > 0) await this.#writeReleases(stale);

    // Hand over what another live member is preferred for.
    const handover = [...this.#held.keys()].filter((p) => preferredOwner(members, p) !== this.node);
    if (handover.length > 0) await this.#release(handover);
  }

  /** Writes this node's record with a fresh heartbeat (every round does; nothing after `leave`). */
  async heartbeat(): Promise<void> {
    if (this.#left) return;
    const state: NodeState = { ...this.#record, heartbeatAt: this.#now() };
    await this.backend.atomic([], [{
      type: "set",
      key: K.node(this.node),
      value: state,
      expireIn: Math.max(NODE_RECORD_TTL_MS, 60 * this.leaseMs),
    }]);
  }

  /** Rewrites the leases of `partitions` with a new expiry, checking each one's version. */
  async #renew(partitions: number[]): Promise<void> {
    for (let i = 0; i < partitions.length; i += CHUNK) {
      const chunk = partitions.slice(i, i + CHUNK);
      const at = this.#now();
      const expiresAt = at + this.leaseMs;
      const write = (ps: number[]) => {
        const checks: KvCheck[] = [];
        const mutations: KvMutation[] = [];
        for (const p of ps) {
          const held = this.#held.get(p);
          if (held === undefined) continue; // fenced meanwhile
          checks.push({ key: K.lease(p), version: held.leaseVersion });
          const value: LeaseRecord = { owner: this.node, epoch: held.ownership.epoch, expiresAt };
          mutations.push({ type: "set", key: K.lease(p), value });
        }
        return this.backend.atomic(checks, mutations);
      };
      const applied = (p: number, version: string) => {
        const held = this.#held.get(p);
        if (held === undefined) return;
        held.leaseVersion = version;
        held.expiresAt = expiresAt;
      };
      const live = chunk.filter((p) => this.#held.has(p));
      if (live.length === 0) continue;
      const r = await write(live);
      if (r.ok) {
        for (const p of live) applied(p, r.version);
        continue;
      }
      // One of them changed: find which, one write each.
      for (const p of live) {
        if (!this.#held.has(p)) continue;
        const one = await write([p]);
        if (one.ok) applied(p, one.version);
        else this.#drop(p, true);
      }
    }
  }

  /** Takes `partition`: a new epoch, in one write with the lease, checking the lease's version. */
  async #acquire(
    partition: number,
    entry: KvEntry<LeaseRecord> | undefined,
    at: number,
  ): Promise<void> {
    const lease = entry?.value ?? null;
    const checks: KvCheck[] = [{ key: K.lease(partition), version: entry?.version ?? null }];
    let epoch: number;
    if (lease !== null) {
      epoch = lease.epoch + 1;
    } else {
      // No lease yet: the epoch record is absent too, unless someone removed the lease by hand.
      const record = await this.backend.get<EpochRecord>(K.epoch(partition));
      checks.push({ key: K.epoch(partition), version: record.version });
      epoch = (record.value?.epoch ?? 0) + 1;
    }
    const started = this.#now();
    const expiresAt = started + this.leaseMs;
    const leaseValue: LeaseRecord = { owner: this.node, epoch, expiresAt };
    const epochValue: EpochRecord = { epoch, owner: this.node };
    const r = await this.backend.atomic(checks, [
      { type: "set", key: K.lease(partition), value: leaseValue },
      { type: "set", key: K.epoch(partition), value: epochValue },
    ]);
    if (!r.ok) return; // another node was faster; the next round looks again
    const ownership: Ownership = Object.freeze({ partition, epoch, version: r.version });
    this.#held.set(partition, { ownership, leaseVersion: r.version, expiresAt });
    this.stats.acquired++;
    if (
      lease !== null && lease.owner !== null && lease.owner !== this.node && lease.expiresAt < at
    ) {
      this.stats.takeovers++;
    }
    this.stats.owned = this.#held.size;
    this.#emit(this.#gained, partition);
  }

  /**
   * Graceful release of held partitions: drop them (listeners awaited, bounded by `renewMs`),
   * then write owner null, expiry 0, same epoch, checking each lease's version.
   */
  async #release(partitions: number[]): Promise<void> {
    const writes: ReleaseWrite[] = [];
    const waits: Promise<unknown>[] = [];
    for (const p of partitions) {
      const held = this.#held.get(p);
      if (held === undefined) continue;
      writes.push({ partition: p, version: held.leaseVersion, epoch: held.ownership.epoch });
      waits.push(...this.#drop(p, false));
    }
    await this.#bounded(waits);
    await this.#writeReleases(writes);
  }

  /** Writes released leases, in chunks; a failed check means another node has it: fine. */
  async #writeReleases(writes: ReleaseWrite[]): Promise<void> {
    const write = (ws: ReleaseWrite[]) =>
      this.backend.atomic(
        ws.map((w) => ({ key: K.lease(w.partition), version: w.version })),
        ws.map((w) => ({
          type: "set" as const,
          key: K.lease(w.partition),
          value: { owner: null, epoch: w.epoch, expiresAt: 0 } satisfies LeaseRecord,
        })),
      );
    for (let i = 0; i < writes.length; i += CHUNK) {
      const chunk = writes.slice(i, i + CHUNK);
      if ((await write(chunk)).ok) continue;
      for (const w of chunk) await write([w]);
    }
  }

  // --- Ownership bookkeeping -----------------------------------------------------------------

  /**
   * Forgets `partition` and tells the `onLost` listeners. `involuntary`: lost, fenced or run
   * out (counted in `stats.lost`, listeners not awaited); else a release (`stats.released`),
   * whose listeners' promises are returned for the caller to await.
   */
  #drop(partition: number, involuntary: boolean): Promise<unknown>[] {
    if (!this.#held.delete(partition)) return [];
    this.stats.owned = this.#held.size;
    if (involuntary) this.stats.lost++;
    else this.stats.released++;
    const waits = this.#emit(this.#lost, partition);
    return involuntary ? [] : waits;
  }

  /** Drops the partitions whose lease ran out on this node's clock (renewal did not reach the store). */
  #expireOverdue(): void {
    const now = this.#now();
    for (const [p, held] of this.#held) {
      if (now >= held.expiresAt) this.#drop(p, true);
    }
  }

  /** Calls each listener; returns the promises they returned (rejections go to `onError`). */
  #emit(listeners: Set<PartitionListener>, partition: number): Promise<unknown>[] {
    const waits: Promise<unknown>[] = [];
    for (const listener of [...listeners]) {
      try {
        const r = listener(partition);
        if (r instanceof Promise) waits.push(r.catch((e) => this.#report(e)));
      } catch (e) {
        this.#report(e);
      }
    }
    return waits;
  }

  /** Awaits `waits`, at most `renewMs`. */
  async #bounded(waits: Promise<unknown>[]): Promise<void> {
    if (waits.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.renewMs);
      Deno.unrefTimer(t);
      timer = t;
    });
    try {
      await Promise.race([Promise.all(waits), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // A throwing error handler must not break the rounds.
    }
  }
}

// --- Joining --------------------------------------------------------------------------------

/** A default node name: host name and process id. */
function defaultHost(): string {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted") {
      return Deno.hostname();
    }
  } catch {
    // Not available here.
  }
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "HOSTNAME" }).state === "granted") {
      const h = Deno.env.get("HOSTNAME");
      if (h) return h;
    }
  } catch {
    // Not available here.
  }
  return "localhost";
}

function positiveInt(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ClusterConfigError(
      `cluster option ${name} must be a whole number from 1 to ${max} (got ${value})`,
    );
  }
  return value;
}

/**
 * The store's partition count: the recorded one, or `wanted` (default 64) written once with an
 * absence check when the store has none yet.
 *
 * @throws {ClusterConfigError} when `wanted` differs from the recorded count
 */
export async function ensureClusterConfig(
  backend: KvBackend,
  wanted: number | undefined,
): Promise<number> {
  for (;;) {
    const entry = await backend.get<ClusterConfig>(K.clusterConfig());
    if (entry.value !== null) {
      const recorded = entry.value.partitions;
      if (wanted !== undefined && wanted !== recorded) {
        throw new ClusterConfigError(
          `${backend.where} has ${recorded} partitions (recorded when it first ran in cluster ` +
            `mode), this node asks for ${wanted}: the count cannot change; remove the ` +
            `partitions option or set it to ${recorded}`,
        );
      }
      return recorded;
    }
    const partitions = wanted ?? DEFAULT_PARTITIONS;
    const value: ClusterConfig = { partitions };
    const r = await backend.atomic([{ key: K.clusterConfig(), version: null }], [
      { type: "set", key: K.clusterConfig(), value },
    ]);
    if (r.ok) return partitions;
    // Another node wrote it first: read theirs.
  }
}

/**
 * Joins the cluster on `backend`: checks (or records) the partition count, checks that no live
 * node uses the same name, registers this node (heartbeat), and unless `start: false` runs the
 * first round and then one every `renewMs`.
 *
 * @throws {ClusterConfigError} another partition count, a name in use, an option out of range
 *
 * @example
 * ```ts ignore
 * import { joinCluster } from "./membership.ts";
 * import { openBackend } from "../persist/open_backend.ts";
 * const backend = await openBackend("postgres://app@db/app");
 * const m = await joinCluster(backend, { node: "web-1", leaseMs: 10_000 });
 * m.onGained((p) => console.log("gained", p));
 * m.onLost((p) => console.log("lost", p));
 * ```
 */
export async function joinCluster(
  backend: KvBackend,
  options: MembershipOptions = {},
): Promise<Membership> {
  const now = options.now ?? Date.now;
  const leaseMs = positiveInt("leaseMs", options.leaseMs ?? DEFAULT_LEASE_MS);
  const renewMs = positiveInt(
    "renewMs",
    options.renewMs ?? Math.max(1, Math.floor(leaseMs / 4)),
  );
  if (renewMs >= leaseMs) {
    throw new ClusterConfigError(
      `cluster option renewMs (${renewMs}) must be less than leaseMs (${leaseMs}), ` +
        `a quarter of it by default`,
    );
  }
  const role = options.role ?? "member";
  if (role !== "member" && role !== "client") {
    throw new ClusterConfigError(`cluster option role must be "member" or "client" (got ${role})`);
  }
  if (options.partitions !== undefined) {
    positiveInt("partitions", options.partitions, MAX_PARTITIONS);
  }
  const host = defaultHost();
  const node = options.node ?? `${host}-${Deno.pid}`;
  if (typeof node !== "string" || node.length === 0 || node.length > 200) {
    throw new ClusterConfigError(`cluster option node must be a name of 1 to 200 characters`);
  }
  const partitions = await ensureClusterConfig(backend, options.partitions);

  const existing = await backend.get<NodeState>(K.node(node));
  const t = now();
  if (existing.value !== null && isLive(existing.value, t, leaseMs)) {
    const other = existing.value;
    const wait = Math.ceil((other.heartbeatAt + (other.leaseMs ?? leaseMs) - t) / 1000);
    throw new ClusterConfigError(
      `node name "${node}" is in use by a live node (host ${other.host}, pid ${other.pid}, ` +
        `heartbeat ${((t - other.heartbeatAt) / 1000).toFixed(1)} s ago) on ` +
        `${backend.where}: give this node another name, or wait ${wait} s for that ` +
        `node's heartbeat to lapse`,
    );
  }

  const membership = new Membership(backend, {
    node,
    role,
    partitions,
    leaseMs,
    renewMs,
    now,
    onError: options.onError ?? (() => {}),
    url: options.url,
    host,
    pid: Deno.pid,
  });
  if (options.start === false) {
    // Registered, so that other nodes count it (and status shows it) before its first round.
    await membership.heartbeat();
    return membership;
  }
  await membership.tick();
  membership.start();
  return membership;
}

// --- Reading the cluster ----------------------------------------------------------------------

/** Whether a node counts as live at `now`: a heartbeat within its lease time. */
export function isLive(node: NodeState, now: number, fallbackLeaseMs = DEFAULT_LEASE_MS): boolean {
  return node.heartbeatAt > now - (node.leaseMs ?? fallbackLeaseMs);
}

async function readNodes(backend: KvBackend): Promise<NodeState[]> {
  const nodes: NodeState[] = [];
  for await (const e of backend.list<NodeState>({ prefix: K.nodePrefix() })) {
    if (e.value !== null) nodes.push(e.value);
  }
  return nodes;
}

async function readLeases(backend: KvBackend): Promise<Map<number, KvEntry<LeaseRecord>>> {
  const leases = new Map<number, KvEntry<LeaseRecord>>();
  for await (const e of backend.list<LeaseRecord>({ prefix: K.leasePrefix() })) {
    const p = e.key[e.key.length - 1];
    if (typeof p === "number" && e.value !== null) leases.set(p, e);
  }
  return leases;
}

/** Options of `clusterStatus`. */
export interface ClusterStatusOptions {
  /** The clock (default `Date.now`). */
  now?: () => number;
  /** The node asking (`ClusterStatus.self`; default `""`: a tool, not a node). */
  self?: string;
  /** Lease time for nodes whose record does not say (default: the largest recorded, else 10 s). */
  leaseMs?: number;
}

/**
 * Reads the cluster as the store records it: the partition count, every node record (live or
 * not, with the partitions whose unexpired lease it holds), and every partition's lease. Writes
 * nothing. Returns `null` when the store never ran in cluster mode (no config).
 *
 * @example
 * ```ts ignore
 * import { clusterStatus } from "./membership.ts";
 * import { openBackend } from "../persist/open_backend.ts";
 * const status = await clusterStatus(await openBackend("/tmp/state.kv"));
 * if (status) for (const n of status.nodes) console.log(n.node, n.live, n.owned);
 * ```
 */
export async function clusterStatus(
  backend: KvBackend,
  options: ClusterStatusOptions = {},
): Promise<ClusterStatus | null> {
  const config = await backend.get<ClusterConfig>(K.clusterConfig());
  if (config.value === null) return null;
  const [records, leases] = await Promise.all([readNodes(backend), readLeases(backend)]);
  const now = (options.now ?? Date.now)();
  const recorded = records.map((n) => n.leaseMs).filter((x): x is number => x !== undefined);
  const leaseMs = options.leaseMs ??
    (recorded.length > 0 ? Math.max(...recorded) : DEFAULT_LEASE_MS);
  const partitionTable: PartitionState[] = [];
  const owned = new Map<string, number>();
  for (let p = 0; p < config.value.partitions; p++) {
    const lease = leases.get(p)?.value ?? null;
    const row: PartitionState = {
      partition: p,
      owner: lease?.owner ?? null,
      epoch: lease?.epoch ?? 0,
      expiresAt: lease?.expiresAt ?? 0,
    };
    partitionTable.push(row);
    if (row.owner !== null && row.expiresAt >= now) {
      owned.set(row.owner, (owned.get(row.owner) ?? 0) + 1);
    }
  }
  const nodes = records
    .map((n) => ({ ...n, live: isLive(n, now, leaseMs), owned: owned.get(n.node) ?? 0 }))
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return {
    partitions: config.value.partitions,
    leaseMs,
    self: options.self ?? "",
    nodes,
    partitionTable,
  };
}
