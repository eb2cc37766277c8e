import assert from "node:assert/strict";
import { join } from "node:path";
import {
  generateKeyPair,
  keyFingerprint,
  type Signature,
  SigningError,
  signPlugin,
  verifyPlugin,
} from "../../lib/plugins/signing.ts";

/** One key pair for the whole file (key generation is cheap, but there is no need). */
const keys = await generateKeyPair();

/** A signed plugin in a fresh temp folder; the folder is removed afterwards. */
async function withSignedPlugin(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "statecraft_signing_" });
  try {
    await Deno.writeTextFile(join(dir, "plugin.yaml"), "name: audit-log\nversion: 1.0.0\n");
    await Deno.writeTextFile(join(dir, "mod.ts"), "export const actions = {};\n");
    await Deno.mkdir(join(dir, "lib"));
    await Deno.writeTextFile(join(dir, "lib", "helper.ts"), "export const x = 1;\n");
    await signPlugin(dir, keys.privateKey);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readSig(dir: string): Promise<Signature> {
  return JSON.parse(await Deno.readTextFile(join(dir, "plugin.sig")));
}

Deno.test("keys are base64: 32 raw bytes public, PKCS#8 private", async () => {
  assert.equal(atob(keys.publicKey).length, 32);
  assert.equal(atob(keys.privateKey).length, 48);
  assert.match(await keyFingerprint(keys.publicKey), /^[0-9a-f]{16}$/);
  const other = await generateKeyPair();
  assert.notEqual(other.publicKey, keys.publicKey);
});

Deno.test("sign then verify", async () => {
  await withSignedPlugin(async (dir) => {
    const sig = await readSig(dir);
    assert.equal(sig.version, 1);
    assert.equal(sig.publicKey, keys.publicKey);
    assert.deepEqual(Object.keys(sig.files), ["lib/helper.ts", "mod.ts", "plugin.yaml"]);
    for (const digest of Object.values(sig.files)) assert.match(digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(await verifyPlugin(dir), { ok: true, publicKey: keys.publicKey });
    assert.deepEqual(await verifyPlugin(dir, [keys.publicKey]), {
      ok: true,
      publicKey: keys.publicKey,
    });
  });
});

Deno.test("a changed, an added and a removed file are each named", async () => {
  await withSignedPlugin(async (dir) => {
    await Deno.writeTextFile(join(dir, "mod.ts"), "export const actions = { evil: 1 };\n");
    assert.deepEqual(await verifyPlugin(dir), { ok: false, reason: "mod.ts changed" });
  });
  await withSignedPlugin(async (dir) => {
    await Deno.writeTextFile(join(dir, "extra.ts"), "export {};\n");
    assert.deepEqual(await verifyPlugin(dir), { ok: false, reason: "extra.ts was added" });
  });
  await withSignedPlugin(async (dir) => {
    await Deno.remove(join(dir, "lib", "helper.ts"));
    assert.deepEqual(await verifyPlugin(dir), {
      ok: false,
      reason: "lib/helper.ts was removed",
    });
  });
  await withSignedPlugin(async (dir) => {
    await Deno.writeTextFile(join(dir, "plugin.yaml"), "name: audit-log\nversion: 9.0.0\n");
    await Deno.writeTextFile(join(dir, "lib", "new.ts"), "export {};\n");
    await Deno.remove(join(dir, "mod.ts"));
    assert.deepEqual(await verifyPlugin(dir), {
      ok: false,
      reason: "lib/new.ts was added, mod.ts was removed, plugin.yaml changed",
    });
  });
});

Deno.test("a signature that does not match is invalid", async () => {
  await withSignedPlugin(async (dir) => {
    // Another key's signature over the same files, presented under our public key.
    const other = await generateKeyPair();
    const theirs = await signPlugin(dir, other.privateKey);
    const forged: Signature = { ...theirs, publicKey: keys.publicKey };
    await Deno.writeTextFile(join(dir, "plugin.sig"), JSON.stringify(forged));
    assert.deepEqual(await verifyPlugin(dir), { ok: false, reason: "invalid signature" });
  });
  await withSignedPlugin(async (dir) => {
    // A file list edited to match tampered files.
    await Deno.writeTextFile(join(dir, "mod.ts"), "export const actions = { evil: 1 };\n");
    const sig = await readSig(dir);
    const bytes = await Deno.readFile(join(dir, "mod.ts"));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    sig.files["mod.ts"] = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    await Deno.writeTextFile(join(dir, "plugin.sig"), JSON.stringify(sig));
    assert.deepEqual(await verifyPlugin(dir), { ok: false, reason: "invalid signature" });
  });
});

Deno.test("a valid signature by a key that is not trusted", async () => {
  await withSignedPlugin(async (dir) => {
    const other = await generateKeyPair();
    assert.deepEqual(await verifyPlugin(dir, [other.publicKey]), {
      ok: false,
      reason: `signed by an untrusted key ${await keyFingerprint(keys.publicKey)}`,
    });
    assert.equal((await verifyPlugin(dir, [])).ok, false, "an empty list trusts no key");
    assert.equal((await verifyPlugin(dir, [other.publicKey, keys.publicKey])).ok, true);
  });
});

Deno.test("unsigned and malformed signatures", async () => {
  await withSignedPlugin(async (dir) => {
    await Deno.writeTextFile(join(dir, "plugin.sig"), '{"version": 2}');
    assert.deepEqual(await verifyPlugin(dir), {
      ok: false,
      reason: "plugin.sig is malformed: unknown version 2 (expected 1)",
    });
    await Deno.remove(join(dir, "plugin.sig"));
    assert.deepEqual(await verifyPlugin(dir), { ok: false, reason: "unsigned" });
  });
});

Deno.test("a folder with a symbolic link cannot be signed", async () => {
  await withSignedPlugin(async (dir) => {
    // Deno.symlink needs unscoped write permission, which the test task does not grant.
    const code = "await Deno.symlink(Deno.args[0], Deno.args[1])";
    const made = await new Deno.Command("deno", {
      args: ["eval", code, "/etc/hostname", join(dir, "lib", "link")],
      stderr: "piped",
    }).output();
    assert.ok(made.success, new TextDecoder().decode(made.stderr));
    await assert.rejects(
      signPlugin(dir, keys.privateKey),
      (error: unknown) =>
        error instanceof SigningError &&
        error.message === "lib/link is a symbolic link; a signed plugin cannot contain " +
            "symbolic links",
    );
    assert.deepEqual(await verifyPlugin(dir), {
      ok: false,
      reason: "lib/link is a symbolic link; a signed plugin cannot contain symbolic links",
    });
  });
});

Deno.test("signing needs an Ed25519 private key", async () => {
  await withSignedPlugin(async (dir) => {
    await assert.rejects(signPlugin(dir, keys.publicKey), SigningError);
    await assert.rejects(signPlugin(dir, "not base64!"), SigningError);
  });
});
