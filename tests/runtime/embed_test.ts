import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { turnstile } from "../../examples/embed.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("embed: examples/embed.ts drives a Runtime from a user's script", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_embed_" });
  try {
    const kv = `${dir}/embed.kv`;
    const output = await new Deno.Command("deno", {
      args: [
        "run",
        "--allow-read",
        "--allow-write=/tmp",
        "--allow-env",
        "--allow-net=127.0.0.1:8787",
        "examples/embed.ts",
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", STATECRAFT_KV: kv },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    // Bundled plugins that need more than this test grants (audit-log writes in the repo) say
    // so and stay down; nothing else may be on stderr.
    const other = stderr.split("\n").filter((l) =>
      l !== "" && !/^warn: plugin [a-z-]+ not loaded: .*permission/.test(l)
    );
    assert.deepEqual(other, []);
    const lines = stdout.trimEnd().split("\n");
    assert.match(lines[0], /^turnstile-[0-9a-z]+: locked \(seq 2\)$/);
    assert.match(
      lines[1],
      /^door-[0-9a-z]+: secure, secure\.locked, secure\.locked\.latched \{"code":"0000",/,
    );
    assert.deepEqual(lines.slice(2), [
      "  0 create -> secure, secure.closed",
      "  1 event OPEN -> secure, secure.opened",
      "  2 event CLOSE -> secure, secure.closed",
      "  3 event LOCK -> secure, secure.locked, secure.locked.latched",
    ]);

    // What it printed is durable in the KV file it was given.
    const runtime = await Runtime.open({
      projectDir: ROOT.pathname,
      kv,
      mode: "inspect",
      extraMachines: [turnstile],
      log: () => {},
    });
    try {
      const items = (await runtime.list()).items.map((i) => [i.machine, i.seq, i.configuration]);
      assert.deepEqual(items.sort(), [
        ["door", 3, ["secure", "secure.locked", "secure.locked.latched"]],
        ["turnstile", 2, ["locked"]],
      ]);
    } finally {
      await runtime.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
