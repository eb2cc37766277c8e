// The key codec: byte order equals Deno KV's key order, and decoding inverts encoding.
import assert from "node:assert/strict";
import fc from "fast-check";
import type { KvKey, KvKeyPart } from "../../lib/persist/backend.ts";
import {
  compareBytes,
  decodeKey,
  encodeKey,
  fromBase64Url,
  KeyCodecError,
  prefixRange,
  toBase64Url,
} from "../../lib/persist/key_codec.ts";

const utf8 = new TextEncoder();

/** Rank of a part's type in Deno KV's order (as Deno KV really lists them). */
function typeRank(p: KvKeyPart): number {
  if (p instanceof Uint8Array) return 0;
  if (typeof p === "string") return 1;
  if (typeof p === "bigint") return 2;
  if (typeof p === "number") return 3;
  return 4;
}

function compareNumbers(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
  if (a === 0 && b === 0) return Number(!Object.is(a, -0)) - Number(!Object.is(b, -0));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The reference comparator: Deno KV's key order, written plainly. */
function compareKeys(a: KvKey, b: KvKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i], y = b[i];
    const r = typeRank(x) - typeRank(y);
    if (r !== 0) return r;
    let c = 0;
    if (x instanceof Uint8Array) c = compareBytes(x, y as Uint8Array);
    else if (typeof x === "string") c = compareBytes(utf8.encode(x), utf8.encode(y as string));
    else if (typeof x === "bigint") c = x < (y as bigint) ? -1 : x > (y as bigint) ? 1 : 0;
    else if (typeof x === "number") c = compareNumbers(x, y as number);
    else c = Number(x) - Number(y);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

const sign = (n: number) => Math.sign(n);

const part: fc.Arbitrary<KvKeyPart> = fc.oneof(
  fc.uint8Array({ maxLength: 6 }),
  fc.constantFrom(new Uint8Array([0]), new Uint8Array([0, 0xff]), new Uint8Array([0xff])),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.constantFrom("", "\0", "a\0b", "\uffff", "\u{10000}", "a"),
  fc.bigInt({ min: -(2n ** 520n), max: 2n ** 520n }),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.constantFrom(0n, -1n, 1n, 255n, 256n, -256n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 64n)),
  fc.double(),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(NaN, -0, 0, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE),
  fc.boolean(),
);
const key: fc.Arbitrary<KvKeyPart[]> = fc.array(part, { maxLength: 4 });

function sameKey(a: KvKey, b: KvKey): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    if (x instanceof Uint8Array) return y instanceof Uint8Array && compareBytes(x, y) === 0;
    return Object.is(x, y);
  });
}

Deno.test("key codec: byte order equals the reference order of Deno KV keys", () => {
  fc.assert(
    fc.property(key, key, (a, b) => {
      assert.equal(sign(compareBytes(encodeKey(a), encodeKey(b))), sign(compareKeys(a, b)));
    }),
    { numRuns: 20_000 },
  );
});

Deno.test("key codec: decodeKey inverts encodeKey (incl. -0, NaN, 0x00 bytes)", () => {
  fc.assert(
    fc.property(key, (k) => {
      assert.ok(sameKey(decodeKey(encodeKey(k)), k));
    }),
    { numRuns: 20_000 },
  );
});

Deno.test("key codec: a prefix's range holds exactly the keys that extend it", () => {
  fc.assert(
    fc.property(key, key, (p, rest) => {
      const [start, end] = prefixRange(p);
      const longer = encodeKey([...p, ...rest]);
      const inside = compareBytes(start, longer) <= 0 && compareBytes(longer, end) < 0;
      assert.equal(inside, rest.length > 0);
      // No element starts with 0xFF: the tag of every part is below it.
      for (const x of rest) assert.ok(encodeKey([x])[0] < 0xff);
    }),
    { numRuns: 5_000 },
  );
});

Deno.test("key codec: bad input is a KeyCodecError", () => {
  assert.throws(() => decodeKey(new Uint8Array([0x99])), KeyCodecError);
  assert.throws(() => decodeKey(new Uint8Array([0x02, 0x61])), KeyCodecError);
  assert.throws(() => decodeKey(new Uint8Array([0x21, 0, 0])), KeyCodecError);
  assert.throws(() => encodeKey([2n ** 2048n]), KeyCodecError);
  assert.throws(() => encodeKey([{} as unknown as string]), KeyCodecError);
  assert.throws(() => fromBase64Url("a+b"), KeyCodecError);
  const b = encodeKey(["x", 1]);
  assert.deepEqual(fromBase64Url(toBase64Url(b)), b);
});

Deno.test("key codec: sorts random keys exactly as a real Deno KV lists them", async () => {
  // Deno KV stores a lone surrogate as U+FFFD, and caps keys at 2 KiB: generate neither.
  const realPart: fc.Arbitrary<KvKeyPart> = fc.oneof(
    fc.uint8Array({ maxLength: 4 }),
    fc.string({ unit: "binary", maxLength: 4 }),
    fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }),
    fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }),
    fc.double(),
    fc.integer({ min: -2, max: 2 }),
    fc.boolean(),
  );
  const keys = fc.sample(fc.array(realPart, { minLength: 1, maxLength: 3 }), {
    numRuns: 1500,
    seed: 42,
  });
  keys.push(
    [NaN],
    [-0],
    [0],
    [Infinity],
    [-Infinity],
    [0n],
    [-1n],
    [true],
    [false],
    ["\0"],
    [
      new Uint8Array([0]),
    ],
    ["a", "b"],
    ["a"],
    ["a", 1],
    ["a", 1n],
  );
  const kv = await Deno.openKv(":memory:");
  try {
    for (const k of keys) await kv.set(k, 1);
    const listed: KvKey[] = [];
    for await (const e of kv.list({ prefix: [] })) listed.push(e.key as KvKey);
    const unique = new Map<string, KvKey>();
    for (const k of keys) unique.set(toBase64Url(encodeKey(k)), k);
    assert.equal(listed.length, unique.size, "distinct encodings = distinct Deno KV keys");
    const ours = [...unique.values()].sort((a, b) => compareBytes(encodeKey(a), encodeKey(b)));
    for (let i = 0; i < listed.length; i++) {
      assert.ok(sameKey(ours[i], listed[i]), `position ${i}: ${String(ours[i])} vs ${listed[i]}`);
    }
  } finally {
    kv.close();
  }
});
