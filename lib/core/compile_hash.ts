/**
 * The last pass: the structural hash that snapshots record, so that a snapshot is never
 * silently loaded into a machine of another shape.
 *
 * @module
 */
import type { StateNode } from "./compiled_types.ts";

/**
 * A structural hash of the definition: state ids and kinds, transitions' events, targets and
 * types, delays, history kinds and deferrals. Snapshots record it so that a snapshot is never
 * silently loaded into a machine of another shape. cyrb53: a fast non-cryptographic 53-bit
 * hash; WebCrypto's SHA-256 is async, and this hash guards against mistakes, not attackers.
 */
export function hashDefinition(states: StateNode[]): string {
  const parts: string[] = [];
  for (const s of states) {
    parts.push(
      `${s.index}|${s.id}|${s.kind}|${s.choice ? 1 : 0}|${s.deep ? 1 : 0}|${s.parent?.index ?? -1}`,
    );
    if (s.initial?.targets) parts.push(`i:${s.initial.targets.map((x) => x.id).join(",")}`);
    for (const t of [...s.eventful, ...s.eventless]) {
      parts.push(
        `t:${t.events?.join(" ") ?? ""}>${t.targets?.map((x) => x.id).join(",") ?? ""}` +
          `:${t.internal ? "i" : "e"}:${t.guard ? "g" : ""}:${t.when ? "w" : ""}`,
      );
    }
    for (const a of s.after) parts.push(`a:${a.event}:${a.delay}`);
    if (s.defer) parts.push(`d:${s.defer.join(" ")}`);
    for (const inv of s.invokes) parts.push(`v:${inv.id}`);
  }
  return cyrb53(parts.join("\n")).toString(16).padStart(14, "0");
}

function cyrb53(str: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed, h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
