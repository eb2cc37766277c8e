/**
 * Cluster mode's shared vocabulary: many Statecraft nodes on one store, instances hashed to a
 * fixed number of partitions, each partition owned by at most one node at a time through a
 * lease with a fencing epoch (see docs/cluster.md).
 *
 * @module
 */

/** Options of a node in a cluster. */
export interface ClusterOptions {
  /** This node's name (default: host name + pid). Unique among live nodes. */
  node?: string;
  /**
   * Partitions of the store (default 64). Chosen when the store first runs in cluster mode and
   * recorded in it; opening with another count is refused.
   */
  partitions?: number;
  /** How long a lease lasts without renewal (default 10,000 ms). */
  leaseMs?: number;
  /** How often leases are renewed, heartbeats written and balance looked at (default leaseMs / 4). */
  renewMs?: number;
  /**
   * `"member"` (default) owns partitions; `"client"` owns none and forwards every write to the
   * owners (a REPL or `statecraft run` beside servers).
   */
  role?: "member" | "client";
}

/** A partition this node owns: the epoch, and the version of its epoch record commits check. */
export interface Ownership {
  /** The partition's number. */
  partition: number;
  /** Its fencing epoch: bumped each time the partition changes owner. */
  epoch: number;
  /** The backend version of `K.epoch(partition)` while this node owns it. */
  version: string;
}

/** One partition as the store records it. */
export interface PartitionState {
  /** The partition's number. */
  partition: number;
  /** The owning node's name, or `null` when no node holds it. */
  owner: string | null;
  /** Its fencing epoch. */
  epoch: number;
  /** When the lease ends unless renewed (ms since the epoch, the owner's clock). */
  expiresAt: number;
}

/** One node as the store records it. */
export interface NodeState {
  /** The node's name. */
  node: string;
  /** Whether it owns partitions (`"member"`) or only forwards (`"client"`). */
  role: "member" | "client";
  /** The host it runs on. */
  host: string;
  /** Its process id. */
  pid: number;
  /** When it joined (ms since the epoch). */
  startedAt: number;
  /** Its last heartbeat (ms since the epoch). */
  heartbeatAt: number;
  /** Its HTTP address, when it serves one. */
  url?: string;
  /** Its lease time: it counts as live while `heartbeatAt > now - leaseMs`. */
  leaseMs?: number;
}

/** What `cluster status` and `GET /cluster` show. */
export interface ClusterStatus {
  /** The store's partition count. */
  partitions: number;
  /** The lease time of the answering node. */
  leaseMs: number;
  /** The node answering. */
  self: string;
  /** Every registered node, with whether it is live and how many partitions it owns. */
  nodes: (NodeState & { live: boolean; owned: number })[];
  /** Every partition, by number. */
  partitionTable: PartitionState[];
}

/** Counters of one node, for `/metrics`. */
export interface ClusterStats {
  /** Partitions owned now. */
  owned: number;
  /** Partitions acquired since the node joined. */
  acquired: number;
  /** Partitions released (balance, leaving). */
  released: number;
  /** Partitions taken over from a node whose lease had expired. */
  takeovers: number;
  /** Partitions lost: taken by another node, or a commit fenced. */
  lost: number;
  /** Commits refused because the partition's epoch had changed. */
  fencedCommits: number;
  /** Operations sent to another node's partition through the inbox. */
  forwarded: number;
  /** Operations run here for another node. */
  served: number;
}

/**
 * A node's membership as the store uses it (implemented by `lib/cluster/membership.ts`). The
 * store asks it, on its hot path, whether this node owns an instance's partition and with
 * which epoch record version to fence its commits.
 */
export interface ClusterMembership {
  /** This node's name. */
  readonly node: string;
  /** The store's partition count. */
  readonly partitions: number;
  /** Whether this node owns partitions (`"member"`) or only forwards (`"client"`). */
  readonly role: "member" | "client";
  /** Counters, for `/metrics` (the store increments `forwarded`, `served`). */
  readonly stats: ClusterStats;
  /** The partition an instance id hashes to. */
  partitionOf(instanceId: string): number;
  /** This node's ownership of `partition`, or `undefined`. */
  owns(partition: number): Ownership | undefined;
  /** A commit checking `partition`'s epoch failed: this node no longer owns it. */
  fenced(partition: number): void;
  /** Calls `listener` when this node gains a partition; returns the unsubscribe function. */
  onGained(listener: (partition: number) => void): () => void;
  /** Calls `listener` when this node loses a partition; returns the unsubscribe function. */
  onLost(listener: (partition: number) => void): () => void;
  /** The cluster as the store records it: nodes and partition table. */
  status(): Promise<ClusterStatus>;
  /** Releases every lease and unregisters (graceful shutdown). */
  leave(): Promise<void>;
  /** Stops ticking without releasing anything (as a crash would). */
  stop(): void;
}
