// `plugin keygen` never leaves a private key where `git add .` would commit it.
import assert from "node:assert/strict";
import { committablePrivateKey } from "../../lib/cli/plugin_key_location.ts";
import { type CliResult, ROOT, runDeno } from "../cli/_run_cli.ts";

/** Runs `statecraft plugin keygen ...args` in `cwd`, as a user would. */
function keygen(cwd: string, ...args: string[]): Promise<CliResult> {
  const at = (file: string) => new URL(file, ROOT).pathname;
  const flags = ["--allow-read", "--allow-write", "--allow-env", "--config", at("deno.json")];
  return runDeno(["run", ...flags, at("cli.ts"), "plugin", "keygen", ...args], cwd);
}

/** A fresh git work tree (a `.git` folder) under /tmp, with `files`; removed afterwards. */
async function withRepo(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "statecraft_keygen_" });
  try {
    await Deno.mkdir(`${dir}/.git`);
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(`${dir}/${path}`, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("keygen refuses a private key in a git work tree that no .gitignore covers", async () => {
  await withRepo({ ".gitignore": "node_modules/\n" }, async (dir) => {
    const result = await keygen(dir, "--out", "team");
    assert.equal(result.code, 1, result.stdout);
    assert.match(
      result.stderr,
      /^error: refusing to write the private key team\.key: it is inside the git work tree /,
    );
    assert.match(result.stderr, /\.statecraft\/keys\//);
    assert.equal(await exists(`${dir}/team.key`), false);
    assert.equal(await exists(`${dir}/team.pub`), false);
  });
});

Deno.test("keygen's default puts the keys in .statecraft/keys/, ignored by its own .gitignore", async () => {
  // No .gitignore in the project at all: the keys folder covers itself.
  await withRepo({}, async (dir) => {
    const result = await keygen(dir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^private key: \.statecraft\/keys\/statecraft-plugin\.key /);
    const key = `${dir}/.statecraft/keys/statecraft-plugin.key`;
    assert.equal((await Deno.stat(key)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/.statecraft/keys`)).mode! & 0o777, 0o700);
    assert.ok(await exists(`${dir}/.statecraft/keys/statecraft-plugin.pub`));
    assert.match(await Deno.readTextFile(`${dir}/.statecraft/keys/.gitignore`), /^\*$/m);
    // A named key in the same folder is fine too.
    const named = await keygen(dir, "--out", ".statecraft/keys/team");
    assert.equal(named.code, 0, named.stderr);
  });
});

Deno.test("keygen writes where a .gitignore covers the key, and outside any work tree", async () => {
  await withRepo({ ".gitignore": "# keys\n*.key\n" }, async (dir) => {
    assert.equal((await keygen(dir, "--out", "team")).code, 0);
    assert.ok(await exists(`${dir}/team.key`));
  });
  await withRepo({ ".gitignore": "/secrets/\n", "secrets/README": "keys\n" }, async (dir) => {
    assert.equal((await keygen(dir, "--out", "secrets/team")).code, 0);
    // Anchored at the root: a "secrets" folder deeper down is not covered.
    await Deno.mkdir(`${dir}/app/secrets`, { recursive: true });
    assert.equal((await keygen(dir, "--out", "app/secrets/team")).code, 1);
  });
  await withRepo({ "deploy/.gitignore": "release.key\n" }, async (dir) => {
    assert.equal(await committablePrivateKey(`${dir}/deploy/release.key`), undefined);
    assert.notEqual(await committablePrivateKey(`${dir}/deploy/other.key`), undefined);
    assert.notEqual(await committablePrivateKey(`${dir}/release.key`), undefined);
  });
  const outside = await Deno.makeTempDir({ prefix: "statecraft_keygen_nogit_" });
  try {
    assert.equal((await keygen(outside, "--out", "team")).code, 0);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("this repository's .gitignore covers a key written at its root", async () => {
  // `plugin keygen --out team` in a checkout wrote team.key where `git add .` took it.
  assert.equal(await committablePrivateKey(new URL("team.key", ROOT).pathname), undefined);
});
