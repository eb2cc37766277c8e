/**
 * Plugin signatures (Ed25519, WebCrypto). `signPlugin` writes `<dir>/plugin.sig`:
 *
 * ```json
 * {
 *   "version": 1,
 *   "publicKey": "<base64 of the 32-byte raw Ed25519 public key>",
 *   "files": { "mod.ts": "<sha256 hex>", "plugin.yaml": "<sha256 hex>" },
 *   "signature": "<base64 of the 64-byte signature>"
 * }
 * ```
 *
 * The signature covers a canonical byte string (UTF-8):
 *
 * ```text
 * statecraft-plugin-signature v1\n
 * manifest <byte length of plugin.yaml>\n
 * <plugin.yaml text>\n
 * files <count>\n
 * <sha256 hex> <relative path>\n      (one line per file, sorted by path)
 * ```
 *
 * Every file of the folder is listed, recursively, except `plugin.sig` itself; paths use `/`.
 * A symbolic link anywhere in the folder is an error (what it points to could change without
 * the folder changing).
 *
 * Keys are base64 strings: a public key is the 32-byte raw key, a private key its PKCS#8
 * encoding (48 bytes). `keyFingerprint` names a public key in messages.
 *
 * @module
 */
import { join } from "node:path";
import { MANIFEST_FILE } from "./manifest.ts";

/** The signature file's name inside a plugin folder. */
export const SIGNATURE_FILE = "plugin.sig";

const DOMAIN = "statecraft-plugin-signature v1";

/** The content of `plugin.sig`. */
export interface Signature {
  /** Format version: 1. */
  version: 1;
  /** The signer's public key (base64, 32 raw bytes). */
  publicKey: string;
  /** Every signed file: relative path (with `/`) -> SHA-256 hex. */
  files: Record<string, string>;
  /** The Ed25519 signature of the canonical bytes (base64). */
  signature: string;
}

/** The result of {@linkcode verifyPlugin}. */
export type VerifyResult =
  | { ok: true; publicKey: string }
  | {
    ok: false;
    /**
     * Why: `"unsigned"`; `"mod.ts changed, extra.ts was added, helper.ts was removed"`;
     * `"invalid signature"`; `"signed by an untrusted key <fingerprint>"`; or
     * `"plugin.sig is malformed: ..."`.
     */
    reason: string;
  };

/** Thrown by {@linkcode signPlugin} for a folder that cannot be signed. */
export class SigningError extends Error {
  /**
   * Makes the error.
   *
   * @param message what is wrong and what to do
   */
  constructor(message: string) {
    super(message);
    this.name = "SigningError";
  }
}

/**
 * A new Ed25519 key pair, as base64 strings (public: 32 raw bytes; private: PKCS#8).
 *
 * @example
 * ```ts
 * import { generateKeyPair, keyFingerprint } from "./signing.ts";
 * const { publicKey } = await generateKeyPair();
 * console.log(await keyFingerprint(publicKey)); // 16 hex digits
 * ```
 */
export async function generateKeyPair(): Promise<{ publicKey: string; privateKey: string }> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  return { publicKey: toBase64(raw), privateKey: toBase64(pkcs8) };
}

/**
 * A short name for a public key in messages: the first 16 hex digits of the SHA-256 of its raw
 * bytes.
 */
export async function keyFingerprint(publicKey: string): Promise<string> {
  const raw = fromBase64(publicKey);
  if (raw === undefined) return "(not a key)";
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", raw))).slice(0, 16);
}

/**
 * Signs the plugin in `dir` and writes `<dir>/plugin.sig` (replacing an older one).
 *
 * @param privateKey a base64 PKCS#8 Ed25519 private key, as made by {@linkcode generateKeyPair}
 * @throws {SigningError} when the key is not an Ed25519 private key, the folder has no
 * `plugin.yaml`, or it contains a symbolic link
 *
 * @example
 * ```ts
 * import { generateKeyPair, signPlugin, verifyPlugin } from "./signing.ts";
 * const keys = await generateKeyPair();
 * await signPlugin("plugins/audit-log", keys.privateKey);
 * console.log(await verifyPlugin("plugins/audit-log", [keys.publicKey])); // { ok: true, ... }
 * ```
 */
export async function signPlugin(dir: string, privateKey: string): Promise<Signature> {
  const pkcs8 = fromBase64(privateKey);
  let key: CryptoKey;
  try {
    if (pkcs8 === undefined) throw new Error("not base64");
    key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  } catch {
    throw new SigningError(
      "the private key is not a base64 PKCS#8 Ed25519 key (make one with generateKeyPair)",
    );
  }
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const publicKey = toBase64(fromBase64Url(jwk.x!));

  const manifest = await readManifest(dir);
  if (manifest === undefined) {
    throw new SigningError(`no ${MANIFEST_FILE} in ${dir}: nothing to sign`);
  }
  let files: Record<string, string>;
  try {
    files = await hashFiles(dir);
  } catch (error) {
    throw new SigningError((error as Error).message);
  }
  const bytes = canonicalBytes(manifest, files);
  const signature = toBase64(
    new Uint8Array(await crypto.subtle.sign("Ed25519", key, bytes)),
  );
  const sig: Signature = { version: 1, publicKey, files, signature };
  await Deno.writeTextFile(join(dir, SIGNATURE_FILE), JSON.stringify(sig, null, 2) + "\n");
  return sig;
}

/**
 * Checks `<dir>/plugin.sig` against the folder. A changed, added or removed file is named in
 * the reason; so is a signature that does not match, and (when `trustedKeys` is given) a valid
 * signature by a key not in the list. An empty `trustedKeys` trusts no key.
 *
 * @param trustedKeys base64 public keys; omit to accept any valid signature
 *
 * @example
 * ```ts
 * import { verifyPlugin } from "./signing.ts";
 * const trustedKey = Deno.env.get("STATECRAFT_TRUSTED_KEY") ?? "";
 * const result = await verifyPlugin("plugins/audit-log", [trustedKey]);
 * if (!result.ok) console.error(`plugin audit-log: ${result.reason}`);
 * ```
 */
export async function verifyPlugin(dir: string, trustedKeys?: string[]): Promise<VerifyResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, SIGNATURE_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { ok: false, reason: "unsigned" };
    throw error;
  }
  const sig = parseSignature(text);
  if (typeof sig === "string") {
    return { ok: false, reason: `${SIGNATURE_FILE} is malformed: ${sig}` };
  }

  let files: Record<string, string>;
  try {
    files = await hashFiles(dir);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const differences: string[] = [];
  for (const path of Object.keys({ ...sig.files, ...files }).sort(comparePaths)) {
    const signed = sig.files[path];
    const now = files[path];
    if (signed === undefined) differences.push(`${path} was added`);
    else if (now === undefined) differences.push(`${path} was removed`);
    else if (signed !== now) differences.push(`${path} changed`);
  }
  if (differences.length > 0) return { ok: false, reason: differences.join(", ") };

  const manifest = await readManifest(dir);
  if (manifest === undefined) return { ok: false, reason: `${MANIFEST_FILE} was removed` };
  let valid = false;
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      fromBase64(sig.publicKey)!,
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    valid = await crypto.subtle.verify(
      "Ed25519",
      key,
      fromBase64(sig.signature)!,
      canonicalBytes(manifest, files),
    );
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: "invalid signature" };

  if (trustedKeys !== undefined) {
    const signer = fromBase64(sig.publicKey)!;
    const trusted = trustedKeys.some((k) => {
      const bytes = fromBase64(k.trim());
      return bytes !== undefined && equalBytes(bytes, signer);
    });
    if (!trusted) {
      return {
        ok: false,
        reason: `signed by an untrusted key ${await keyFingerprint(sig.publicKey)}`,
      };
    }
  }
  return { ok: true, publicKey: sig.publicKey };
}

/** The parsed signature, or why it is not one. */
function parseSignature(text: string): Signature | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "not a JSON object";
  }
  const v = value as Record<string, unknown>;
  if (v.version !== 1) return `unknown version ${JSON.stringify(v.version)} (expected 1)`;
  if (typeof v.publicKey !== "string" || fromBase64(v.publicKey)?.length !== 32) {
    return "publicKey is not a base64 Ed25519 public key";
  }
  if (typeof v.signature !== "string" || fromBase64(v.signature)?.length !== 64) {
    return "signature is not a base64 Ed25519 signature";
  }
  if (typeof v.files !== "object" || v.files === null || Array.isArray(v.files)) {
    return "files is not an object";
  }
  for (const [path, digest] of Object.entries(v.files)) {
    if (typeof digest !== "string" || !/^[0-9a-f]{64}$/.test(digest)) {
      return `files["${path}"] is not a SHA-256 hex digest`;
    }
  }
  return {
    version: 1,
    publicKey: v.publicKey,
    files: v.files as Record<string, string>,
    signature: v.signature,
  };
}

async function readManifest(dir: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(join(dir, MANIFEST_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** SHA-256 of every file under `dir` but `plugin.sig`, by relative path (sorted). */
async function hashFiles(dir: string): Promise<Record<string, string>> {
  const paths: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for await (const entry of Deno.readDir(rel === "" ? dir : join(dir, rel))) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isSymlink) {
        throw new SigningError(
          `${path} is a symbolic link; a signed plugin cannot contain symbolic links`,
        );
      }
      if (/[\n\r]/.test(entry.name)) {
        throw new SigningError(`${JSON.stringify(path)} has a line break in its name`);
      }
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && path !== SIGNATURE_FILE) paths.push(path);
    }
  };
  await walk("");
  paths.sort(comparePaths);
  const out: Record<string, string> = {};
  for (const path of paths) {
    const bytes = await Deno.readFile(join(dir, path));
    out[path] = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
  }
  return out;
}

function canonicalBytes(
  manifest: Uint8Array,
  files: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const paths = Object.keys(files).sort(comparePaths);
  const head = encoder.encode(`${DOMAIN}\nmanifest ${manifest.length}\n`);
  const tail = encoder.encode(
    `\nfiles ${paths.length}\n` + paths.map((p) => `${files[p]} ${p}\n`).join(""),
  );
  const out = new Uint8Array(head.length + manifest.length + tail.length);
  out.set(head, 0);
  out.set(manifest, head.length);
  out.set(tail, head.length + manifest.length);
  return out;
}

/** Paths compare by UTF-16 code units, the same everywhere. */
function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function fromBase64Url(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(b64 + "=".repeat((4 - b64.length % 4) % 4))!;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
