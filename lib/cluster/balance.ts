/**
 * The balance rule of cluster mode: rendezvous (highest random weight) hashing. For each
 * partition every live member node gets a score, a stable 32-bit hash of `name:partition`;
 * the node with the highest score is the partition's preferred owner (ties: the smaller name).
 * Every node computes the same answer from the same membership, with no coordination, and a
 * node joining or leaving moves only the partitions it gains or loses (about 1/n of them).
 *
 * The hash is FNV-1a (as in `partition.ts`) followed by MurmurHash3's 32-bit finaliser: FNV-1a
 * alone mixes the last bytes of similar names (`node-a:1`, `node-b:1`) too little for the
 * scores of different nodes to look independent.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * The score of `node` for `partition`: an unsigned 32-bit integer, the same in every process.
 *
 * @example
 * ```ts
 * import { rendezvousScore } from "./balance.ts";
 * const a = rendezvousScore("node-a", 3);
 * console.log(a === rendezvousScore("node-a", 3)); // true
 * ```
 */
export function rendezvousScore(node: string, partition: number): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(`${node}:${partition}`)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // MurmurHash3 fmix32: every input bit affects every output bit.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The preferred owner of `partition` among `nodes` (the live member nodes), or `undefined`
 * when there is none.
 *
 * @example
 * ```ts
 * import { preferredOwner } from "./balance.ts";
 * const owner = preferredOwner(["node-a", "node-b"], 7);
 * console.log(owner === "node-a" || owner === "node-b"); // true
 * ```
 */
export function preferredOwner(nodes: Iterable<string>, partition: number): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const node of nodes) {
    const score = rendezvousScore(node, partition);
    if (score > bestScore || (score === bestScore && best !== undefined && node < best)) {
      best = node;
      bestScore = score;
    }
  }
  return best;
}

/**
 * How many partitions each of `nodes` is preferred for, out of `partitions` (for tests and
 * tools: how even the spread is).
 *
 * @example
 * ```ts
 * import { preferredCounts } from "./balance.ts";
 * const counts = preferredCounts(["a", "b"], 64);
 * console.log(counts.get("a")! + counts.get("b")!); // 64
 * ```
 */
export function preferredCounts(nodes: readonly string[], partitions: number): Map<string, number> {
  const counts = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (let p = 0; p < partitions; p++) {
    const owner = preferredOwner(nodes, p);
    if (owner !== undefined) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}
