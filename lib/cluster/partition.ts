/**
 * Which partition an instance belongs to: FNV-1a (32-bit) of its id's UTF-8 bytes, modulo the
 * store's partition count. Stable across processes, versions and platforms; written here
 * because it is six lines and a dependency would not be simpler.
 *
 * @module
 */

const encoder = new TextEncoder();

/** The partition of `instanceId` among `partitions`. */
export function partitionOf(instanceId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(instanceId)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
