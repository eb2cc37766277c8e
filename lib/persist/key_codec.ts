/**
 * An order-preserving binary encoding of `KvKey`: `memcmp` order of the encoded bytes equals
 * Deno KV's key order, so a backend that sorts keys as bytes (PostgreSQL's `bytea`) lists them
 * exactly as Deno KV does. The layout follows the FoundationDB tuple layer (as Deno KV's own
 * encoding does), element after element, with no length prefix for the key:
 *
 * | tag           | part                 | body                                                  |
 * | ------------- | -------------------- | ----------------------------------------------------- |
 * | `0x01`        | `Uint8Array`         | bytes, `0x00` escaped as `0x00 0xFF`, ended by `0x00` |
 * | `0x02`        | `string`             | UTF-8, escaped and ended like bytes                   |
 * | `0x0b`        | bigint < -(2^64 - 1) | `0xFF - n`, then the n-byte magnitude, bits flipped   |
 * | `0x0c`-`0x13` | bigint, -8..-1 bytes | the magnitude in `0x14 - tag` bytes, bits flipped     |
 * | `0x14`        | bigint `0n`          | nothing                                               |
 * | `0x15`-`0x1c` | bigint, 1..8 bytes   | the magnitude in `tag - 0x14` bytes, big-endian       |
 * | `0x1d`        | bigint > 2^64 - 1    | n, then the n-byte magnitude                          |
 * | `0x21`        | `number`             | IEEE 754 big-endian; sign bit flipped when positive,  |
 * |               |                      | every bit flipped when negative; one NaN              |
 * | `0x26`/`0x27` | `false`/`true`       | nothing                                               |
 *
 * Type order is therefore `Uint8Array` < `string` < `bigint` < `number` < `boolean`. That is
 * the order Deno KV really lists keys in (checked against `Deno.openKv` in
 * `tests/persist/key_codec_test.ts`), although Deno's manual lists number before bigint.
 * Numbers: `-Infinity` < negatives < `-0` < `0` < positives < `Infinity` < `NaN`, and `-0`
 * and `0` are distinct keys, as in Deno KV. Strings compare by UTF-8 bytes (code point order,
 * not JavaScript's UTF-16 order); a lone surrogate is stored as U+FFFD, as Deno KV does.
 *
 * No element starts with `0xFF`, so every key that extends `prefix` lies in
 * `[encode(prefix) + 0x00, encode(prefix) + 0xFF)` (see `prefixRange`).
 *
 * @example
 * ```ts
 * import { decodeKey, encodeKey } from "./key_codec.ts";
 * const bytes = encodeKey(["sc", "inst", 42]);
 * console.log(decodeKey(bytes)); // ["sc", "inst", 42]
 * ```
 *
 * @module
 */
import type { KvKey, KvKeyPart } from "./backend.ts";

const BYTES = 0x01;
const STRING = 0x02;
const NEG_BIG = 0x0b;
const INT_ZERO = 0x14;
const POS_BIG = 0x1d;
const DOUBLE = 0x21;
const FALSE = 0x26;
const TRUE = 0x27;

/** The largest magnitude, in bytes, of a bigint key part (255 bytes: about 2^2040). */
export const MAX_BIGINT_BYTES = 255;

/** A key that cannot be encoded, or bytes that are not an encoded key. */
export class KeyCodecError extends Error {
  /** `message` says what was wrong and where. */
  constructor(message: string) {
    super(message);
    this.name = "KeyCodecError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A growable byte buffer. */
class Writer {
  buf = new Uint8Array(64);
  len = 0;
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** `b` with `0x00` escaped as `0x00 0xFF`, then the terminating `0x00`. */
  escaped(b: Uint8Array): void {
    this.reserve(b.length * 2 + 1);
    for (const x of b) {
      this.buf[this.len++] = x;
      if (x === 0) this.buf[this.len++] = 0xff;
    }
    this.buf[this.len++] = 0;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** The writer `encodeKey` reuses. */
const scratch = new Writer();

/** Big-endian magnitude bytes of a non-negative bigint (none for `0n`). */
function magnitude(n: bigint): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function fromMagnitude(b: Uint8Array): bigint {
  let hex = "";
  for (const x of b) hex += x.toString(16).padStart(2, "0");
  return hex === "" ? 0n : BigInt("0x" + hex);
}

function encodeBigint(w: Writer, n: bigint): void {
  if (n === 0n) return w.byte(INT_ZERO);
  const mag = magnitude(n < 0n ? -n : n);
  if (mag.length > MAX_BIGINT_BYTES) {
    throw new KeyCodecError(
      `bigint key part has ${mag.length} bytes of magnitude; at most ${MAX_BIGINT_BYTES} are supported`,
    );
  }
  if (n > 0n) {
    if (mag.length <= 8) w.byte(INT_ZERO + mag.length);
    else {
      w.byte(POS_BIG);
      w.byte(mag.length);
    }
    w.bytes(mag);
  } else {
    if (mag.length <= 8) w.byte(INT_ZERO - mag.length);
    else {
      w.byte(NEG_BIG);
      w.byte(0xff - mag.length);
    }
    for (let i = 0; i < mag.length; i++) mag[i] ^= 0xff;
    w.bytes(mag);
  }
}

const f64 = new DataView(new ArrayBuffer(8));

function encodeNumber(w: Writer, n: number): void {
  w.byte(DOUBLE);
  // One NaN (the canonical quiet NaN): it sorts after +Infinity, as in Deno KV.
  if (Number.isNaN(n)) {
    f64.setUint32(0, 0x7ff80000);
    f64.setUint32(4, 0);
  } else f64.setFloat64(0, n);
  const negative = (f64.getUint8(0) & 0x80) !== 0;
  w.reserve(8);
  for (let i = 0; i < 8; i++) {
    const b = f64.getUint8(i);
    w.buf[w.len++] = negative ? b ^ 0xff : i === 0 ? b ^ 0x80 : b;
  }
}

/**
 * A string part's UTF-8 bytes, escaped and terminated. ASCII (nearly every key part) is written
 * straight from its char codes; from the first other character on, `TextEncoder` encodes the
 * rest (the same bytes: a lone surrogate becomes U+FFFD there as before). Measured on a store
 * at 100,000 instances: `TextEncoder` per key part was a tenth of the JavaScript thread.
 */
function encodeString(w: Writer, s: string): void {
  const n = s.length;
  w.reserve(2 * n + 1);
  const buf = w.buf;
  let len = w.len;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    buf[len++] = c;
    if (c === 0) buf[len++] = 0xff;
  }
  w.len = len;
  if (i < n) {
    const rest = encoder.encode(i === 0 ? s : s.slice(i));
    w.reserve(rest.length * 2 + 1);
    for (const x of rest) {
      w.buf[w.len++] = x;
      if (x === 0) w.buf[w.len++] = 0xff;
    }
  }
  w.buf[w.len++] = 0;
}

function encodePart(w: Writer, part: KvKeyPart): void {
  if (part instanceof Uint8Array) {
    w.byte(BYTES);
    w.escaped(part);
  } else if (typeof part === "string") {
    w.byte(STRING);
    encodeString(w, part);
  } else if (typeof part === "bigint") encodeBigint(w, part);
  else if (typeof part === "number") encodeNumber(w, part);
  else if (typeof part === "boolean") w.byte(part ? TRUE : FALSE);
  else {
    throw new KeyCodecError(
      `key part of type ${typeof part} is not supported (Uint8Array, string, number, bigint, boolean)`,
    );
  }
}

/**
 * Encodes a key into bytes whose `memcmp` order is Deno KV's key order.
 *
 * @example
 * ```ts
 * import { compareBytes, encodeKey } from "./key_codec.ts";
 * console.log(compareBytes(encodeKey(["a", 2]), encodeKey(["a", 10])) < 0); // true
 * ```
 */
export function encodeKey(key: KvKey): Uint8Array {
  // One scratch writer for every call: encoding is synchronous and never re-enters.
  const w = scratch;
  w.len = 0;
  try {
    for (const part of key) encodePart(w, part);
    return w.result();
  } finally {
    // A very long key does not keep its buffer alive.
    if (w.buf.length > 4096) w.buf = new Uint8Array(64);
  }
}

/** Reads an escaped, `0x00`-terminated byte string from `bytes` at `pos`. */
function readEscaped(bytes: Uint8Array, pos: number): [Uint8Array, number] {
  const out: number[] = [];
  for (let i = pos; i < bytes.length; i++) {
    if (bytes[i] !== 0) out.push(bytes[i]);
    else if (bytes[i + 1] === 0xff) {
      out.push(0);
      i++;
    } else return [Uint8Array.from(out), i + 1];
  }
  throw new KeyCodecError(`encoded key ends inside a byte string at offset ${pos}`);
}

function need(bytes: Uint8Array, pos: number, n: number): void {
  if (pos + n > bytes.length) {
    throw new KeyCodecError(`encoded key ends early: ${n} bytes wanted at offset ${pos}`);
  }
}

/**
 * Decodes bytes made by `encodeKey` back into the key.
 *
 * @example
 * ```ts
 * import { decodeKey, encodeKey } from "./key_codec.ts";
 * console.log(decodeKey(encodeKey([new Uint8Array([0]), -1n, true]))); // [Uint8Array [0], -1n, true]
 * ```
 */
export function decodeKey(bytes: Uint8Array): KvKeyPart[] {
  const key: KvKeyPart[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const tag = bytes[pos++];
    if (tag === BYTES) {
      const [b, next] = readEscaped(bytes, pos);
      key.push(b);
      pos = next;
    } else if (tag === STRING) {
      const [b, next] = readEscaped(bytes, pos);
      try {
        key.push(decoder.decode(b));
      } catch {
        throw new KeyCodecError(`encoded key has a string that is not UTF-8 at offset ${pos}`);
      }
      pos = next;
    } else if (tag >= NEG_BIG && tag <= POS_BIG) {
      let len: number;
      if (tag === NEG_BIG || tag === POS_BIG) {
        need(bytes, pos, 1);
        len = tag === NEG_BIG ? 0xff - bytes[pos++] : bytes[pos++];
      } else len = Math.abs(tag - INT_ZERO);
      need(bytes, pos, len);
      const mag = bytes.slice(pos, pos + len);
      pos += len;
      if (tag < INT_ZERO) {
        for (let i = 0; i < mag.length; i++) mag[i] ^= 0xff;
        key.push(-fromMagnitude(mag));
      } else key.push(fromMagnitude(mag));
    } else if (tag === DOUBLE) {
      need(bytes, pos, 8);
      const negative = (bytes[pos] & 0x80) === 0;
      for (let i = 0; i < 8; i++) {
        const b = bytes[pos + i];
        f64.setUint8(i, negative ? b ^ 0xff : i === 0 ? b ^ 0x80 : b);
      }
      key.push(f64.getFloat64(0));
      pos += 8;
    } else if (tag === FALSE) key.push(false);
    else if (tag === TRUE) key.push(true);
    else {
      throw new KeyCodecError(
        `encoded key has unknown type tag 0x${tag.toString(16)} at offset ${pos - 1}`,
      );
    }
  }
  return key;
}

/** `memcmp`: negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** `bytes` followed by one more byte. */
export function appendByte(bytes: Uint8Array, b: number): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = b;
  return out;
}

/**
 * The encoded range `[start, end)` holding every key that extends `prefix` (longer than it),
 * as Deno KV's `list({ prefix })` selects: the prefix key itself is not in it.
 *
 * @example
 * ```ts
 * import { compareBytes, encodeKey, prefixRange } from "./key_codec.ts";
 * const [start, end] = prefixRange(["sc"]);
 * const k = encodeKey(["sc", "inst"]);
 * console.log(compareBytes(start, k) <= 0 && compareBytes(k, end) < 0); // true
 * ```
 */
export function prefixRange(prefix: KvKey): [start: Uint8Array, end: Uint8Array] {
  const p = encodeKey(prefix);
  return [appendByte(p, 0x00), appendByte(p, 0xff)];
}

/** The smallest encoded key that sorts after `encoded` (the exclusive bound after it). */
export function keyAfter(encoded: Uint8Array): Uint8Array {
  return appendByte(encoded, 0x00);
}

/** Base64url (no padding) of bytes: the form of list cursors. */
export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Bytes of a base64url string (padding optional). */
export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new KeyCodecError(`cursor "${text}" is not base64url`);
  }
  const s = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
