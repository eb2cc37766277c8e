// `statecraft instance cancel|fork|redrive` as a user runs it: a store built in-process, the
// CLI as a subprocess. The tests written with `backendTest` run on a Deno KV file and on
// PostgreSQL (`--kv postgres://...`, a schema of its own per test).
import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { backendTest, type TestBackend } from "../persist/_backends.ts";
import { counter, toggle } from "../fixtures/kv_counter.ts";
import { noStackTrace, runDeno, STORE_FLAGS } from "./_run_cli.ts";

const FIXTURE = "tests/fixtures/kv_counter.ts";

/** Runs `statecraft instance <args> --kv <path> --machines <fixture>`. */
function instance(path: string, args: string[]) {
  return runDeno(
    [
      "run",
      ...STORE_FLAGS,
      "cli.ts",
      "instance",
      ...args,
      "--kv",
      path,
      "--machines",
      FIXTURE,
    ],
    undefined,
    { STATECRAFT_KEY: "" },
  );
}

function open(path: string): Promise<Store> {
  return openStore({ path, machines: [counter, toggle], mode: "inspect" });
}

/**
 * c1, c2 counters in `counting.low`; c3 counter in `idle`; t1 toggle in `on`; on a store of
 * `backend` (a KV file or a PostgreSQL schema), or a KV file under /tmp when none is given.
 */
async function withStore(
  fn: (path: string) => Promise<void>,
  backend?: TestBackend,
): Promise<void> {
  const dir = backend === undefined
    ? await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_instance_" })
    : undefined;
  const path = dir === undefined ? await backend!.path() : `${dir}/state.kv`;
  const store = await openStore({
    path,
    machines: [counter, toggle],
    clock: new VirtualClock(Date.UTC(2025, 0, 1)),
  });
  try {
    for (const id of ["c1", "c2"]) {
      await store.create("counter", id);
      await store.send(id, "INC");
    }
    await store.create("counter", "c3");
    await store.create("toggle", "t1");
    await store.send("t1", "FLIP");
  } finally {
    await store.close();
  }
  try {
    await fn(path);
  } finally {
    if (dir !== undefined) await Deno.remove(dir, { recursive: true });
  }
}

backendTest("instance cancel <id>: cancelled with the reason and who, journaled", async (b) => {
  await withStore(async (path) => {
    const r = await instance(path, ["cancel", "c1", "--reason", "customer asked", "--by", "alice"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "c1  cancelled  counting.low\n");
    const store = await open(path);
    try {
      const info = await store.get("c1");
      assert.equal(info?.status, "cancelled");
      const last = (await store.history("c1")).at(-1);
      assert.equal(last?.kind, "cancel");
      assert.equal(last?.by, "alice");
      assert.equal(last?.reason, "customer asked");
      assert.equal((await store.get("c2"))?.status, "active", "the others untouched");
    } finally {
      await store.close();
    }
  }, b);
});

backendTest(
  "instance fork <id> --at <seq> --id <newId>: a linked fork from that seq",
  async (b) => {
    await withStore(async (path) => {
      const r = await instance(path, ["fork", "c1", "--at", "0", "--id", "c1-early"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "c1-early  idle\n");
      const latest = await instance(path, ["fork", "c1"]);
      assert.equal(latest.code, 0, latest.stderr);
      assert.equal(latest.stdout, "c1-fork  counting.low\n");
      const store = await open(path);
      try {
        assert.deepEqual((await store.forks("c1")).map((f) => [f.id, f.seq, f.by]), [
          ["c1-early", 0, "cli"],
          ["c1-fork", 1, "cli"],
        ]);
        const [first] = await store.history("c1-early");
        assert.equal(first.kind, "fork");
      } finally {
        await store.close();
      }
    }, b);
  },
);

backendTest(
  "instance bulk cancel: a dry run lists and changes nothing, then a summary",
  async (b) => {
    await withStore(async (path) => {
      const cancel = [
        "cancel",
        "--machine",
        "counter",
        "--state",
        "counting",
        "--reason",
        "promotion withdrawn",
      ];
      const dry = await instance(path, [...cancel, "--dry-run"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.deepEqual(dry.stdout.trim().split("\n").sort(), ["c1", "c2"]);
      assert.equal(dry.stderr, "dry run: 2 instances would be cancelled; nothing changed\n");
      let store = await open(path);
      try {
        for (const id of ["c1", "c2", "c3", "t1"]) {
          assert.equal((await store.get(id))?.status, "active", id);
        }
      } finally {
        await store.close();
      }

      const real = await instance(path, cancel);
      assert.equal(real.code, 0, real.stderr);
      assert.deepEqual(real.stdout.trim().split("\n").sort(), ["c1", "c2"]);
      assert.equal(real.stderr, "cancelled 2 of 2 instances\n", "no progress bar off a terminal");
      store = await open(path);
      try {
        assert.deepEqual(
          (await store.list({ status: "cancelled" })).items.map((i) => i.id).sort(),
          ["c1", "c2"],
        );
        assert.equal((await store.get("c3"))?.status, "active");
      } finally {
        await store.close();
      }
    }, b);
  },
);

backendTest("instance bulk fork and redrive: per-instance failures counted, exit 1", async (b) => {
  await withStore(async (path) => {
    const fork = await instance(path, ["fork", "--machine", "toggle", "--suffix", "-copy"]);
    assert.equal(fork.code, 0, fork.stderr);
    assert.equal(fork.stdout, "t1-copy\n");
    assert.equal(fork.stderr, "forked 1 of 1 instance\n");

    const redrive = await instance(path, ["redrive", "--status", "active", "--machine", "toggle"]);
    assert.equal(redrive.code, 1);
    assert.equal(redrive.stdout, "");
    const lines = redrive.stderr.trim().split("\n");
    assert.equal(lines.at(-1), "redriven 0 of 2 instances, 2 failed");
    assert.match(
      lines[0],
      /^failed t1(-copy)?: redrive "t1(-copy)?": (.* and )?no failed invocation/,
    );
  }, b);
});

backendTest("instance errors: one line, exit 1", async (b) => {
  await withStore(async (path) => {
    const cases: [string[], RegExp][] = [
      [
        ["cancel", "nope", "--reason", "x"],
        /^error: no instance "nope" in this store \(see kv ls\)\n$/,
      ],
      [["cancel", "c1"], /^error: instance cancel: --reason is required\n$/],
      [
        ["redrive", "c1"],
        /^error: redrive "c1": (.* and )?no failed invocation .*nothing to retry\n$/,
      ],
      [
        ["fork", "c1", "--at", "9"],
        /^error: fork: instance "c1" has journal entries 0\.\.1; cannot fork at 9\n$/,
      ],
      [["redrive"], /^error: instance redrive: give an instance id, or select instances/],
      [
        ["cancel", "c1", "--machine", "counter", "--reason", "x"],
        /^error: instance cancel c1: .*give either an id or a filter\n$/,
      ],
      [
        ["fork", "--machine", "counter", "--at", "0"],
        /^error: instance fork: --at and --id are for one instance/,
      ],
      [["cancel", "--where", "nonsense", "--reason", "x"], /^error: --where: /],
    ];
    for (const [args, expected] of cases) {
      const r = await instance(path, args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, expected, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.ok(noStackTrace(r.stderr), r.stderr);
    }
  }, b);
});
