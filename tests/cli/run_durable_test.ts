import assert from "node:assert/strict";
import type { Machine } from "../../mod.ts";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { job } from "../fixtures/run_recorder.ts";
import { noStackTrace, ROOT, runDeno, withTempDir } from "./_run_cli.ts";

const RECORDER = "tests/fixtures/run_recorder.ts";
const PLUGINS = "tests/fixtures/plugins/run_plugins";
const DOOR = "tests/fixtures/cli_door.ts";

/** Runs the CLI the way `deno task statecraft` does, writing only under /tmp. */
function statecraft(...args: string[]) {
  return runDeno(["run", "--allow-read", "--allow-write=/tmp", "--allow-env", "cli.ts", ...args]);
}

Deno.test("run --kv --plugins: a durable instance calls a plugin by send and by invoke", async () => {
  await withTempDir("statecraft_run_", async (dir) => {
    const kv = `${dir}/state.kv`;
    await Deno.writeTextFile(`${dir}/events.jsonl`, `{"type":"START","job":"j-1"}\n`);
    const r = await statecraft(
      "run",
      RECORDER,
      "--kv",
      kv,
      "--plugins",
      PLUGINS,
      "--events-file",
      `${dir}/events.jsonl`,
      "--for",
      "10s", // an upper bound: the run ends as soon as the job is done
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const id = /^instance: (job-[0-9a-z]+)$/m.exec(r.stdout)?.[1];
    assert.ok(id !== undefined, r.stdout);
    assert.equal(
      r.stdout,
      [
        "plugins: recorder",
        `instance: ${id}`,
        "start: idle",
        "START: idle -> working",
        "done.invoke.report: working -> done (done)",
        "status: done",
        "configuration: done",
        `context: {"result":{"recorded":"invoke"}}`,
        `output: {"recorded":"invoke"}`,
        "",
      ].join("\n"),
    );

    // The store holds what the run printed, and the plugin's KV what it was sent.
    const runtime = await Runtime.open({
      projectDir: ROOT.pathname,
      kv,
      plugins: [new URL(PLUGINS, ROOT).pathname],
      machines: [],
      // extraMachines is typed Machine<Record<string, unknown>>[]: a typed context needs a cast.
      extraMachines: [job as unknown as Machine],
      log: () => {},
    });
    try {
      const history = await runtime.history(id);
      assert.deepEqual(
        history.map((e) => [e.seq, e.kind, e.event?.type ?? null, e.configuration]),
        [
          [0, "create", null, ["idle"]],
          [1, "event", "START", ["working"]],
          [2, "invoke", "done.invoke.report", ["done"]],
        ],
      );
      assert.equal(history.at(-1)!.status, "done");
      assert.deepEqual(await runtime.call("recorder", "calls"), {
        invoke: { via: "invoke", job: "j-1" },
        send: { type: "job.started", via: "send", job: "j-1" },
      });
    } finally {
      await runtime.close();
    }
  });
});

Deno.test("run --instance: a second run continues the durable instance", async () => {
  await withTempDir("statecraft_run_", async (dir) => {
    const common = ["--kv", `${dir}/state.kv`, "--plugins", PLUGINS, "--instance", "front"];
    const first = await statecraft("run", DOOR, ...common, "--events", "OPEN");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^plugins: recorder\ninstance: front\nstart: closed\n/);
    assert.match(first.stdout, /^OPEN: closed -> open$/m);
    const second = await statecraft("run", DOOR, ...common, "--events", "CLOSE,LOCK");
    assert.equal(second.code, 0, second.stderr);
    assert.equal(
      second.stdout,
      [
        "plugins: recorder",
        "instance: front (continued at seq 1)",
        "start: open",
        "CLOSE: open -> closed",
        "LOCK: closed -> locked",
        "status: active",
        "configuration: locked",
        `context: {"opened":1,"lockedBy":null}`,
        "",
      ].join("\n"),
    );
  });
});

Deno.test("run --config: the project file's paths are relative to its folder", async () => {
  await withTempDir("statecraft_run_", async (dir) => {
    const plugins = new URL(PLUGINS, ROOT).pathname;
    await Deno.writeTextFile(`${dir}/statecraft.yaml`, `kv: state.kv\nplugins: ["${plugins}"]\n`);
    const r = await statecraft(
      "run",
      DOOR,
      "--config",
      `${dir}/statecraft.yaml`,
      "--events",
      "OPEN",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^plugins: recorder\ninstance: door-[0-9a-z]+\nstart: closed\n/);
    assert.match(r.stdout, /^OPEN: closed -> open$/m);
    assert.ok((await Deno.stat(`${dir}/state.kv`)).isFile, "the KV file is beside the config");
  });
});

Deno.test("run --durable: mistakes are errors on stderr with exit code 1", async () => {
  await withTempDir("statecraft_run_", async (dir) => {
    const kv = ["--kv", `${dir}/state.kv`, "--plugins", PLUGINS];
    const rejected = await statecraft("run", DOOR, ...kv, "--events", "BREAK,OPEN");
    assert.equal(rejected.code, 1);
    assert.match(rejected.stdout, /^BREAK: closed -> broken \(done\)$/m);
    assert.match(rejected.stdout, /^status: done$/m);
    assert.match(rejected.stderr, /^error: --events item 2: .*OPEN/m);
    assert.ok(noStackTrace(rejected.stderr));

    const virtual = await statecraft("run", DOOR, ...kv, "--virtual-time");
    assert.equal(virtual.code, 1);
    assert.match(virtual.stderr, /^error: --virtual-time runs in memory/);

    const config = await statecraft("run", DOOR, "--config", `${dir}/nope.yaml`);
    assert.equal(config.code, 1);
    assert.equal(config.stderr, `error: --config: ${dir}/nope.yaml: file not found\n`);

    await Deno.writeTextFile(`${dir}/statecraft.yaml`, "kv: 3\nmachnes: []\n");
    const bad = await statecraft("run", DOOR, "--config", `${dir}/statecraft.yaml`);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^error: cannot open the runtime: invalid configuration \(2 problems\)/,
    );
    assert.match(bad.stderr, /^ {2}\S+\/statecraft\.yaml:1:5 kv: must be a string/m);
    assert.ok(noStackTrace(bad.stderr));
  });
});
