// `statecraft plugin ...` as a user runs it: the CLI as a subprocess, with the task's flags.
import assert from "node:assert/strict";
import { sdkSpecifier } from "../../lib/cli/plugin_scaffold.ts";
import { type CliResult, noStackTrace, ROOT, runDeno, withTempDir } from "./_run_cli.ts";

const MIXED = "tests/fixtures/plugins/cli_mixed";
const MIXED_YAML = (name: string) => `${MIXED}/${name}/plugin.yaml`;

/** Runs `statecraft plugin <args>` from the repository root, or from `cwd`. */
function plugin(args: string[], cwd: string | URL = ROOT): Promise<CliResult> {
  return runDeno([
    "run",
    "--unstable-kv",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run=deno",
    "--config",
    new URL("deno.json", ROOT).pathname,
    new URL("cli.ts", ROOT).pathname,
    "plugin",
    ...args,
  ], cwd);
}

Deno.test("plugin check: problems at file:line:col, ok lines, a summary, exit 1", async () => {
  const r = await plugin(["check", "--plugins", MIXED]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split("\n"), [
    `${MIXED_YAML("bad-version")}:3:10 version: "1.2" is not a semantic version (like 1.2.0)`,
    `${MIXED_YAML("bad-version")}:5:14 idempotent[0]: "stop" is not in provides`,
    "echo: ok (1.0.0, worker, unsigned)",
    `${MIXED_YAML("needs-ghost")}:6:3 requires.ghost: plugin needs-ghost requires ghost ` +
    "^2.0.0, which is not installed",
    "checked 3 plugins: 1 ok, 2 with problems",
  ]);
  assert.equal(r.stderr, "");
});

Deno.test("plugin check: the bundled plugins pass (default directory plugins/)", async () => {
  const r = await plugin(["check"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split("\n"), [
    "audit-log: ok (1.0.0, worker, unsigned)",
    "metrics: ok (1.0.0, worker, unsigned)",
    "notifier: ok (1.0.0, worker, unsigned)",
    "checked 3 plugins: 3 ok, 0 with problems",
  ]);
});

Deno.test("plugin list: a table of every plugin, the failed ones with their reason; --json", async () => {
  const r = await plugin(["list", "--plugins", MIXED]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split("\n"), [
    "NAME         VERSION  ISOLATION  STATE   ACTIONS",
    "bad-version  -        -          failed  -",
    "echo         1.0.0    worker     active  echo, fail",
    "needs-ghost  1.0.0    worker     failed  -",
    "",
    "bad-version: invalid plugin manifest (2 problems):",
    `  ${MIXED_YAML("bad-version")}:3:10 version: "1.2" is not a semantic version (like 1.2.0)`,
    `  ${MIXED_YAML("bad-version")}:5:14 idempotent[0]: "stop" is not in provides`,
    "needs-ghost: plugin needs-ghost requires ghost ^2.0.0, which is not installed",
  ]);

  const json = await plugin(["list", "--plugins", MIXED, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const rows = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r.name, r.state, r.version, r.isolation, r.actions]), [
    ["bad-version", "failed", null, null, []],
    ["echo", "active", "1.0.0", "worker", ["echo", "fail"]],
    ["needs-ghost", "failed", "1.0.0", "worker", []],
  ]);
  assert.equal(rows[1].error, null);
  assert.equal(rows[1].dir, new URL(`${MIXED}/echo`, ROOT).pathname);
  assert.match(rows[2].error, /requires ghost \^2\.0\.0/);
});

Deno.test("plugin call: the result as JSON; errors on one line with exit code 1", async () => {
  const ok = await plugin(["call", "echo", "echo", '{"n":[1,"a"]}', "--plugins", MIXED]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), { echo: { n: [1, "a"] } });
  assert.equal(ok.stderr, "");

  // A plugin-side error: its name and message, on one line.
  const failed = await plugin(["call", "echo", "fail", "--plugins", MIXED]);
  assert.equal(failed.code, 1);
  assert.equal(failed.stdout, "");
  assert.equal(failed.stderr, 'error: plugin "echo": RangeError: asked to fail on two lines\n');

  const badJson = await plugin(["call", "echo", "echo", "{n:1}", "--plugins", MIXED]);
  assert.equal(badJson.code, 1);
  assert.match(badJson.stderr, /^error: the payload is not JSON \(.+\): write it in single quotes/);

  const unknown = await plugin(["call", "needs-ghost", "go", "--plugins", MIXED]);
  assert.equal(unknown.code, 1);
  assert.equal(
    unknown.stderr,
    'error: plugin "needs-ghost" did not load: plugin needs-ghost requires ghost ^2.0.0, ' +
      "which is not installed\n",
  );
  for (const r of [failed, badJson, unknown]) assert.ok(noStackTrace(r.stderr), r.stderr);
});

Deno.test("plugin new: a scaffold that passes check and answers hello; no overwrite", async () => {
  await withTempDir("statecraft_plugin_cli_", async (dir) => {
    const plugins = `${dir}/plugins`;
    const created = await plugin(["new", "greeter", "--plugins", plugins]);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(created.stdout.trimEnd().split("\n"), [
      `created ${plugins}/greeter/plugin.yaml`,
      `created ${plugins}/greeter/mod.ts`,
      `try it: statecraft plugin call greeter hello '{"name":"x"}' --plugins ${plugins}`,
    ]);
    // Outside the repository, the SDK is imported by its absolute file URL.
    const mod = await Deno.readTextFile(`${plugins}/greeter/mod.ts`);
    assert.ok(mod.includes(`from "${new URL("lib/plugins/sdk.ts", ROOT).href}";`), mod);

    const check = await plugin(["check", "--plugins", plugins]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.equal(
      check.stdout,
      "greeter: ok (0.1.0, worker, unsigned)\nchecked 1 plugin: 1 ok, 0 with problems\n",
    );
    const hello = await plugin(["call", "greeter", "hello", '{"name":"x"}', "--plugins", plugins]);
    assert.equal(hello.code, 0, hello.stderr);
    assert.deepEqual(JSON.parse(hello.stdout), { greeting: "hello, x", from: "greeter 0.1.0" });

    const again = await plugin(["new", "greeter", "--plugins", plugins]);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      `error: ${plugins}/greeter already exists: choose another name or remove it\n`,
    );
    const badName = await plugin(["new", "Greeter", "--plugins", plugins]);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /^error: "Greeter" is not a valid plugin name/);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(plugins))).map((e) => e.name),
      ["greeter"],
    );
  });
});

Deno.test("plugin new: the SDK import is relative inside the repository, a file URL outside", () => {
  const sdk = "/repo/lib/plugins/sdk.ts";
  assert.equal(sdkSpecifier("/repo/plugins/greeter", sdk, "/repo"), "../../lib/plugins/sdk.ts");
  assert.equal(sdkSpecifier("/repo/a/b/c/greeter", sdk, "/repo"), "../../../../lib/plugins/sdk.ts");
  assert.equal(
    sdkSpecifier("/srv/plugins/greeter", sdk, "/repo"),
    "file:///repo/lib/plugins/sdk.ts",
  );
  assert.equal(
    sdkSpecifier("/repository/greeter", "/repo dir/lib/plugins/sdk.ts", "/repo dir"),
    "file:///repo%20dir/lib/plugins/sdk.ts",
  );
});

Deno.test("plugin keygen, sign, verify: the signing round trip and the signing policy", async () => {
  await withTempDir("statecraft_plugin_cli_", async (dir) => {
    assert.equal((await plugin(["new", "signed", "--plugins", "plugins"], dir)).code, 0);

    const keygen = await plugin(["keygen", "--out", "release"], dir);
    assert.equal(keygen.code, 0, keygen.stderr);
    const fingerprint = /^fingerprint: ([0-9a-f]{16})$/m.exec(keygen.stdout)?.[1];
    assert.ok(fingerprint !== undefined, keygen.stdout);
    assert.equal((await Deno.stat(`${dir}/release.key`)).mode! & 0o777, 0o600);
    const again = await plugin(["keygen", "--out", "release"], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: release\.key exists: keygen does not replace keys/);

    const sign = await plugin(["sign", "signed", "--key", "release.key"], dir);
    assert.equal(sign.code, 0, sign.stderr);
    assert.equal(sign.stdout, `signed plugins/signed (2 files) with key ${fingerprint}\n`);

    const verify = await plugin(["verify", "plugins/signed", "--trusted-key", "release.pub"], dir);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stdout, `ok (signed by ${fingerprint})\n`);

    // Only signed plugins, and this key trusted: it loads.
    const call = await plugin(
      ["call", "signed", "hello", "--unsigned", "deny", "--trusted-key", "release.pub"],
      dir,
    );
    assert.equal(call.code, 0, call.stderr);
    assert.equal(JSON.parse(call.stdout).greeting, "hello, world");

    await Deno.writeTextFile(`${dir}/plugins/signed/mod.ts`, "// changed\n", { append: true });
    const changed = await plugin(["verify", "signed"], dir);
    assert.equal(changed.code, 1);
    assert.equal(changed.stdout, "mod.ts changed\n");
    const refused = await plugin(["call", "signed", "hello"], dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /does not match its signature \(mod\.ts changed\): refused/);
  });
});
