// `statecraft kv ...` as a user runs it: a store built in-process, the CLI as a subprocess.
import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { progressCounts, renderProgress } from "../../lib/cli/kv_progress.ts";
import { counter, toggle } from "../fixtures/kv_counter.ts";
import { noStackTrace, ROOT } from "./_run_cli.ts";

const FIXTURE = "tests/fixtures/kv_counter.ts";
const T0 = Date.UTC(2025, 0, 1);
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `statecraft kv <args> --kv <path> --machines <fixture>` the way the task does. */
async function kv(
  path: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Result> {
  const output = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "cli.ts",
      "kv",
      ...args,
      "--kv",
      path,
      "--machines",
      FIXTURE,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    // An empty key is no key: a STATECRAFT_KEY in the caller's environment must not leak in.
    env: { NO_COLOR: "1", STATECRAFT_KEY: "", ...env },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function open(path: string, encryptionKey?: string): Promise<Store> {
  return openStore({
    path,
    machines: [counter, toggle],
    encryptionKey,
    clock: new VirtualClock(T0),
    mode: "inspect",
  });
}

/**
 * A store in a fresh folder under /tmp, one second of virtual time per step:
 * - c1 counter: INC, INC (seq 2, checkpoint "two"), INC, PAUSE: `paused`, a timer pending;
 * - c2 counter: INC, FINISH: done;
 * - c3 counter: INC: `counting.low`;
 * - t1 toggle: FLIP: `on`.
 */
async function withStore(
  fn: (path: string, dir: string) => Promise<void>,
  encryptionKey?: string,
): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_kv_" });
  const path = `${dir}/state.kv`;
  const clock = new VirtualClock(T0);
  const store = await openStore({ path, machines: [counter, toggle], encryptionKey, clock });
  const step = () => clock.advance(1000);
  try {
    await store.create("counter", "c1"); // 0s
    step();
    await store.send("c1", "INC");
    step();
    await store.send("c1", "INC");
    step();
    await store.checkpoint("c1", "two"); // 3s
    step();
    await store.send("c1", "INC");
    step();
    await store.send("c1", "PAUSE"); // 5s
    step();
    await store.create("counter", "c2");
    step();
    await store.send("c2", "INC");
    step();
    await store.send("c2", "FINISH"); // 8s
    step();
    await store.create("counter", "c3");
    step();
    await store.send("c3", "INC"); // 10s
    step();
    await store.create("toggle", "t1");
    step();
    await store.send("t1", "FLIP"); // 12s
  } finally {
    await store.close();
  }
  try {
    await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The store's export, one JSON line per record. */
async function exportLines(path: string): Promise<string[]> {
  const store = await open(path);
  const lines: string[] = [];
  try {
    for await (const r of store.export()) lines.push(JSON.stringify(r));
  } finally {
    await store.close();
  }
  return lines;
}

Deno.test("kv ls: a table of instances, filtered by machine, state and status", async () => {
  await withStore(async (path) => {
    const all = await kv(path, ["ls"]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(
      all.stdout,
      [
        "ID  MACHINE  STATUS  SEQ  CONFIGURATION  UPDATED",
        `c1  counter  active    4  paused         ${at(5)}`,
        `c2  counter  done      2  finished       ${at(8)}`,
        `c3  counter  active    1  counting.low   ${at(10)}`,
        `t1  toggle   active    1  on             ${at(12)}`,
        "",
      ].join("\n"),
    );
    assert.equal(all.stderr, "");

    const ids = (r: Result) => r.stdout.split("\n").slice(1, -1).map((l) => l.split(" ")[0]);
    const byMachine = await kv(path, ["ls", "--machine", "toggle"]);
    assert.deepEqual(ids(byMachine), ["t1"]);
    // A compound state matches the instances inside it.
    const byState = await kv(path, ["ls", "--state", "counting"]);
    assert.deepEqual(ids(byState), ["c3"]);
    const byStatus = await kv(path, ["ls", "--status", "done"]);
    assert.deepEqual(ids(byStatus), ["c2"]);

    const limited = await kv(path, ["ls", "--limit", "2", "--json"]);
    assert.equal(limited.code, 0, limited.stderr);
    const rows = limited.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.id), ["c1", "c2"]);
    assert.deepEqual(rows[0].context, { n: 3 });
    assert.deepEqual(rows[0].configuration, ["paused"]);
    assert.match(limited.stderr, /more than 2 instances: raise --limit/);

    const none = await kv(path, ["ls", "--machine", "nothing"]);
    assert.equal(none.stdout, "no instances\n");
  });
});

Deno.test("kv show: status, configuration, context, timers and checkpoints", async () => {
  await withStore(async (path) => {
    const r = await kv(path, ["show", "c1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        "id: c1",
        "machine: counter",
        "status: active",
        "seq: 4",
        "configuration: paused",
        `created: ${at(0)}`,
        `updated: ${at(5)}`,
        "context: {",
        `  "n": 3`,
        "}",
        "timers:",
        `  after:paused:60000  after.60000.paused  due ${at(65)}`,
        "checkpoints:",
        `  0  ${at(0)}`,
        `  2  ${at(3)}  two`,
        "",
      ].join("\n"),
    );
    const json = await kv(path, ["show", "c3", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const info = JSON.parse(json.stdout);
    assert.deepEqual(info.configuration, ["counting", "counting.low"]);
    assert.deepEqual(info.timers, []);
    assert.deepEqual(info.checkpoints, [{ seq: 0, time: T0 + 9000 }]);
  });
});

Deno.test("kv history: one line per journal entry; --from and --limit", async () => {
  await withStore(async (path) => {
    const r = await kv(path, ["history", "c2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        `0  ${at(6)}  create  api  -       -> idle`,
        `1  ${at(7)}  event   api  INC     -> counting.low`,
        `2  ${at(8)}  event   api  FINISH  -> finished (done)`,
        "",
      ].join("\n"),
    );
    const page = await kv(path, ["history", "c1", "--from", "3", "--limit", "1"]);
    assert.equal(page.code, 0, page.stderr);
    assert.equal(page.stdout, `3  ${at(4)}  event  api  INC  -> counting.high\n`);
    assert.match(page.stderr, /continue with --from 4/);
  });
});

Deno.test("kv checkpoint and rollback: by label and by seq, visible in the store", async () => {
  await withStore(async (path) => {
    const cp = await kv(path, ["checkpoint", "c1", "--label", "paused"]);
    assert.equal(cp.code, 0, cp.stderr);
    assert.equal(cp.stdout, "4\n");

    const byLabel = await kv(path, ["rollback", "c1", "--to", "two"]);
    assert.equal(byLabel.code, 0, byLabel.stderr);
    assert.equal(byLabel.stdout, "counting.high\n");
    let store = await open(path);
    try {
      const info = await store.get("c1");
      assert.deepEqual(info?.configuration, ["counting", "counting.high"]);
      assert.deepEqual(info?.context, { n: 2 });
      assert.equal(info?.seq, 5);
      const [last] = await store.history("c1", { from: 5 });
      assert.equal(last.kind, "rollback");
      assert.equal(last.to, 2);
      assert.equal(last.by, "cli");
      assert.deepEqual((await store.checkpoints("c1")).find((c) => c.label === "paused")?.seq, 4);
    } finally {
      await store.close();
    }

    const bySeq = await kv(path, ["rollback", "c1", "--to", "4"]);
    assert.equal(bySeq.code, 0, bySeq.stderr);
    assert.equal(bySeq.stdout, "paused\n");
    store = await open(path);
    try {
      const info = await store.get("c1");
      assert.deepEqual(info?.configuration, ["paused"]);
      assert.deepEqual(info?.context, { n: 3 });
    } finally {
      await store.close();
    }

    const unknown = await kv(path, ["rollback", "c1", "--to", "nope"]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, `error: instance "c1" has no checkpoint "nope"\n`);
  });
});

Deno.test("kv export, then kv import into a fresh store: same instances and journals", async () => {
  await withStore(async (path, dir) => {
    const file = `${dir}/backup.jsonl`;
    const exported = await kv(path, ["export", "--out", file]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout, `exported 4 instances (21 records) to ${file}\n`);
    assert.equal(exported.stderr, "", "no progress bar when stderr is not a terminal");

    const stdout = await kv(path, ["export", "--machine", "toggle"]);
    assert.equal(stdout.code, 0, stdout.stderr);
    const records = stdout.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.type), ["instance", "journal", "journal", "checkpoint"]);
    assert.ok(records.every((r) => r.id === "t1"));

    const fresh = `${dir}/fresh/state.kv`;
    const imported = await kv(fresh, ["import", file]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(
      imported.stdout,
      `imported 4 instances (12 journal entries, 5 checkpoints) from ${file}\n`,
    );
    const a = await open(path);
    const b = await open(fresh);
    try {
      for (const id of ["c1", "c2", "c3", "t1"]) {
        assert.deepEqual(await b.get(id), await a.get(id), id);
        assert.deepEqual(await b.history(id), await a.history(id), id);
        assert.deepEqual(await b.checkpoints(id), await a.checkpoints(id), id);
      }
    } finally {
      await a.close();
      await b.close();
    }

    const again = await kv(fresh, ["import", file]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `error: ${file}:1: instance "c1" already exists in this store\n`);
  });
});

Deno.test("kv import: a bad line is named with its line number and nothing is imported", async () => {
  await withStore(async (path, dir) => {
    const lines = await exportLines(path);
    const file = `${dir}/bad.jsonl`;
    // A line cut short among the second instance's records: the first instance is complete.
    lines[9] = lines[9].slice(0, 20);
    await Deno.writeTextFile(file, lines.join("\n") + "\n");

    const fresh = `${dir}/fresh.kv`;
    const r = await kv(fresh, ["import", file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: ${file}:10: not valid JSON: .+\\n$`));
    assert.ok(noStackTrace(r.stderr));
    const target = await open(fresh);
    try {
      assert.deepEqual((await target.list()).items, []);
    } finally {
      await target.close();
    }

    await Deno.writeTextFile(file, `{"type":"journal","id":"c1","entry":{"seq":0}}\n`);
    const orphan = await kv(fresh, ["import", file]);
    assert.equal(orphan.code, 1);
    assert.equal(
      orphan.stderr,
      `error: ${file}:1: a journal record for "c1" must follow its instance record\n`,
    );
  });
});

Deno.test("kv: an unknown instance or store is a one-line error, exit code 1", async () => {
  await withStore(async (path, dir) => {
    for (const args of [["show", "nope"], ["history", "nope"], ["checkpoint", "nope"]]) {
      const r = await kv(path, args);
      assert.equal(r.code, 1, args.join(" "));
      assert.equal(r.stderr, `error: no instance "nope" in this store (see kv ls)\n`);
      assert.equal(r.stdout, "");
    }
    const missing = await kv(`${dir}/typo.kv`, ["ls"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: no store at .*typo\.kv: check --kv/);
    await assert.rejects(Deno.stat(`${dir}/typo.kv`), Deno.errors.NotFound);
  });
});

Deno.test("kv: an encrypted store opens with $STATECRAFT_KEY, and says when the key is wrong", async () => {
  await withStore(async (path) => {
    const wrong = await kv(path, ["ls"], { STATECRAFT_KEY: "not the key" });
    assert.equal(wrong.code, 1);
    assert.equal(
      wrong.stderr,
      `error: store ${path}: wrong encryption key (the key comes from $STATECRAFT_KEY)\n`,
    );
    const none = await kv(path, ["show", "c1"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^error: store .* is encrypted: set \$STATECRAFT_KEY/);
    const right = await kv(path, ["show", "c1", "--key-env", "MY_KEY"], { MY_KEY: "s3cret" });
    assert.equal(right.code, 0, right.stderr);
    assert.match(right.stdout, /^context: \{\n {2}"n": 3\n\}$/m);
  }, "s3cret");
});

Deno.test("kv progress line: a bar, then the counts", () => {
  assert.equal(
    renderProgress(0.5, progressCounts(123, 4567)),
    "[##########----------] 123 instances, 4567 records",
  );
  assert.equal(renderProgress(undefined, progressCounts(1, 1)), "1 instance, 1 record");
});

Deno.test("kv import: records whose snapshots cannot load are refused by line, nothing written", async () => {
  await withStore(async (path, dir) => {
    const lines = await exportLines(path);
    // The cases: each once in the last instance's record (t1), after good instances.
    const at = lines.findLastIndex((l) => JSON.parse(l).type === "instance");
    const c1 = JSON.parse(lines[0]);
    const mutate = (
      f: (r: Record<string, unknown> & { snapshot: Record<string, unknown> }) => void,
    ) => {
      const copy = [...lines];
      const r = JSON.parse(copy[at]);
      f(r);
      copy[at] = JSON.stringify(r);
      return copy;
    };
    const cases: [string, string[], string][] = [
      [
        "wrong hash",
        mutate((r) => r.snapshot.hash = "123"),
        `snapshot.hash: instance "t1" was stored under version unversioned (hash 123) of machine "toggle"`,
      ],
      [
        "illegal configuration",
        mutate((r) => r.snapshot.configuration = ["on", "off"]),
        `snapshot.configuration: illegal configuration: the machine "toggle" has 2 active children`,
      ],
      [
        "another machine's snapshot",
        mutate((r) => r.snapshot = { ...c1.snapshot, id: "t1" }),
        `snapshot.machine: the snapshot of "t1" belongs to machine "counter", not "toggle"`,
      ],
      [
        "bad date",
        mutate((r) => r.createdAt = "yesterday"),
        `createdAt: must be a clock time (ms from the epoch, at most 8640000000000000), not "yesterday"`,
      ],
    ];
    for (const [what, content, message] of cases) {
      const file = `${dir}/backup.jsonl`;
      await Deno.writeTextFile(file, content.join("\n") + "\n");
      const fresh = `${dir}/fresh-${what.replaceAll(" ", "_").replace("'", "")}.kv`;
      const r = await kv(fresh, ["import", file]);
      assert.equal(r.code, 1, what);
      assert.ok(
        r.stderr.startsWith(`error: ${file}:${at + 1}: ${message}`),
        `${what}: ${r.stderr}`,
      );
      assert.ok(noStackTrace(r.stderr), what);
      assert.doesNotMatch(r.stderr, /bug in statecraft/, what);
      const target = await open(fresh);
      try {
        assert.deepEqual((await target.list()).items, [], `${what}: nothing imported`);
      } finally {
        await target.close();
      }
    }
  });
});
