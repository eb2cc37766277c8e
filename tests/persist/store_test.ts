// The durable store, in one process: what a user of openStore relies on.
import assert from "node:assert/strict";
import { z } from "zod";
import { defineMachine, EventError, type Snapshot, VirtualClock } from "../../mod.ts";
import { type ExportRecord, openStore, type Store, StoreError } from "../../lib/persist/store.ts";
import { StoreDataError } from "../../lib/persist/codec.ts";
import { K } from "../../lib/persist/keys.ts";
import { openBackend } from "../../lib/persist/open_backend.ts";
import { backendTest, type TestBackend } from "./_backends.ts";
import { waitFor } from "../_wait.ts";

const counter = defineMachine({
  id: "counter",
  version: 1,
  context: { n: 0, blob: "" },
  schemas: { events: { ADD: z.object({ by: z.number() }) } },
  states: {
    on: {
      on: {
        INC: { actions: ({ context }) => context.n++ },
        ADD: { actions: ({ context, event }) => context.n += event.by as number },
        BLOB: { actions: ({ context, event }) => context.blob = event.blob as string },
        STOP: "off",
      },
    },
    off: { on: { START: "on" } },
  },
});

const door = defineMachine({
  id: "door",
  states: { closed: { on: { OPEN: "open" } }, open: { on: { CLOSE: "closed" } } },
});

async function withStore(
  b: TestBackend,
  fn: (store: Store, path: string) => Promise<void>,
  options: { encryptionKey?: string } = {},
): Promise<void> {
  const path = await b.path();
  const store = await openStore({ path, machines: [counter, door], ...options });
  try {
    await fn(store, path);
  } finally {
    await store.close();
  }
}

backendTest("create, send, get: each ack carries the committed configuration", async (b) => {
  await withStore(b, async (store) => {
    const created = await store.create("counter", "c1", { context: { n: 10 } });
    assert.equal(created.seq, 0);
    assert.deepEqual(created.configuration, ["on"]);
    const r1 = await store.send("c1", "INC");
    assert.deepEqual(r1, {
      id: "c1",
      seq: 1,
      configuration: ["on"],
      status: "active",
      duplicate: false,
    });
    const r2 = await store.send("c1", { type: "STOP" });
    assert.deepEqual(r2.configuration, ["off"]);
    const info = await store.get("c1");
    assert.equal(info?.seq, 2);
    assert.deepEqual(info?.context, { n: 11, blob: "" });
    assert.equal(await store.get("nope"), null);
  });
});

backendTest("state survives closing and reopening the store", async (b) => {
  const path = await b.path();
  try {
    const a = await openStore({ path, machines: [counter] });
    await a.create("counter", "c");
    for (let i = 0; i < 5; i++) await a.send("c", "INC");
    await a.close();
    const b = await openStore({ path, machines: [counter] });
    const info = await b.get("c");
    assert.deepEqual(info?.context, { n: 5, blob: "" });
    await b.send("c", "INC");
    assert.equal((await b.get("c"))?.seq, 6);
    await b.close();
  } finally {
    await b.cleanup();
  }
});

backendTest(
  "idempotency: an event id is applied once and acknowledged with its original result",
  async (b) => {
    await withStore(b, async (store) => {
      await store.create("counter", "c");
      const first = await store.send("c", "INC", { eventId: "evt-1" });
      await store.send("c", "STOP");
      const again = await store.send("c", "INC", { eventId: "evt-1" });
      assert.equal(again.duplicate, true);
      assert.equal(again.seq, first.seq);
      assert.deepEqual(again.configuration, ["on"], "the original result, not the current state");
      const info = await store.get("c");
      assert.equal((info?.context as { n: number }).n, 1);
      assert.equal(info?.seq, 2);
    });
  },
);

backendTest("a rejected event commits nothing and the instance goes on", async (b) => {
  await withStore(b, async (store) => {
    await store.create("counter", "c");
    await assert.rejects(store.send("c", { type: "ADD", by: "x" }), EventError);
    await assert.rejects(store.send("c", { type: "" }), EventError);
    await assert.rejects(
      store.send("missing", "INC"),
      (e: unknown) => e instanceof StoreError && e.code === "not_found",
    );
    await store.send("c", { type: "ADD", by: 5 });
    const info = await store.get("c");
    assert.equal(info?.seq, 1);
    assert.equal((info?.context as { n: number }).n, 5);
  });
});

backendTest("create refuses an existing id and an unknown machine", async (b) => {
  await withStore(b, async (store) => {
    await store.create("door", "d");
    await assert.rejects(store.create("door", "d"), /instance "d" already exists/);
    await assert.rejects(
      store.create("nope", "x"),
      /unknown machine "nope" \(registered: counter, door\)/,
    );
    await assert.rejects(store.create("door", ""), /non-empty string/);
  });
});

backendTest(
  "the journal records every event with seq, time, who sent it and the configuration",
  async (b) => {
    await withStore(b, async (store) => {
      await store.create("door", "d", { by: "tester" });
      await store.send("d", "OPEN", { by: "alice", eventId: "x1" });
      await store.send("d", "CLOSE");
      const h = await store.history("d");
      assert.deepEqual(
        h.map((
          e,
        ) => [e.seq, e.kind, e.by, e.event?.type ?? null, e.eventId ?? null, e.configuration]),
        [
          [0, "create", "tester", null, null, ["closed"]],
          [1, "event", "alice", "OPEN", "x1", ["open"]],
          [2, "event", "api", "CLOSE", null, ["closed"]],
        ],
      );
      assert.ok(h.every((e) => typeof e.time === "number"));
      assert.deepEqual((await store.history("d", { from: 1, limit: 1 })).map((e) => e.seq), [1]);
      await assert.rejects(store.history("ghost"), /no instance "ghost"/);
    });
  },
);

backendTest(
  "list: by machine, state, status and update time, through indexes, with cursors",
  async (b) => {
    await withStore(b, async (store) => {
      for (let i = 0; i < 7; i++) await store.create("door", `d${i}`);
      await store.create("counter", "c0");
      for (const i of [1, 3, 5]) await store.send(`d${i}`, "OPEN");
      const ids = (page: { items: { id: string }[] }) => page.items.map((x) => x.id).sort();
      assert.deepEqual(ids(await store.list({ machine: "door", state: "open" })), [
        "d1",
        "d3",
        "d5",
      ]);
      assert.deepEqual(ids(await store.list({ state: "closed" })), ["d0", "d2", "d4", "d6"]);
      assert.deepEqual(ids(await store.list({ machine: "counter" })), ["c0"]);
      assert.equal((await store.list({ status: "active" })).items.length, 8);
      const all: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ machine: "door", limit: 3, cursor });
        all.push(...page.items.map((x) => x.id));
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined && pages < 10);
      assert.deepEqual(all.sort(), ["d0", "d1", "d2", "d3", "d4", "d5", "d6"]);
      assert.ok(pages >= 3);
      const future = Date.now() + 60_000;
      assert.deepEqual(ids(await store.list({ updatedAfter: future })), []);
      await store.archive("d1");
      assert.deepEqual(ids(await store.list({ machine: "door", state: "open" })), ["d3", "d5"]);
      assert.deepEqual(ids(await store.list({ status: "archived" })), ["d1"]);
    });
  },
);

backendTest("checkpoint and rollback: by label or seq, recorded in the journal", async (b) => {
  await withStore(b, async (store) => {
    await store.create("counter", "c");
    await store.send("c", "INC");
    await store.send("c", "INC");
    const cp = await store.checkpoint("c", "two");
    assert.equal(cp.seq, 2);
    await assert.rejects(store.checkpoint("c", "two"), /already has a checkpoint "two"/);
    await store.send("c", "INC");
    await store.send("c", "STOP");
    const back = await store.rollback("c", { checkpoint: "two" });
    assert.deepEqual(back.configuration, ["on"]);
    assert.equal((back.context as { n: number }).n, 2);
    assert.equal(back.seq, 5, "a rollback is itself a journal entry");
    const toOne = await store.rollback("c", { seq: 1 });
    assert.equal((toOne.context as { n: number }).n, 1);
    const toFour = await store.rollback("c", { seq: 4 });
    assert.deepEqual(toFour.configuration, ["off"], "rolling forward to an entry after a rollback");
    assert.equal((toFour.context as { n: number }).n, 3);
    const h = await store.history("c");
    assert.deepEqual(h.filter((e) => e.kind === "rollback").map((e) => e.to), [2, 1, 4]);
    await store.send("c", "START");
    await store.send("c", "INC");
    assert.equal(((await store.get("c"))?.context as { n: number }).n, 4);
    await assert.rejects(store.rollback("c", { seq: 999 }), /cannot roll back to 999/);
    await assert.rejects(store.rollback("c", { checkpoint: "nope" }), /no checkpoint "nope"/);
  });
});

backendTest("archive, unarchive, delete", async (b) => {
  await withStore(b, async (store) => {
    await store.create("door", "d");
    await store.archive("d");
    await assert.rejects(store.send("d", "OPEN"), /is archived/);
    assert.equal((await store.get("d"))?.archived, true);
    await store.unarchive("d");
    await store.send("d", "OPEN");
    assert.deepEqual((await store.history("d")).map((e) => e.kind), [
      "create",
      "archive",
      "unarchive",
      "event",
    ]);
    assert.equal(await store.delete("d"), true);
    assert.equal(await store.get("d"), null);
    assert.equal(await store.delete("d"), false);
    const left = [];
    for await (const e of store.backend.list({ prefix: ["sc"] })) {
      if (JSON.stringify(e.key).includes('"d"')) left.push(e.key);
    }
    assert.deepEqual(left, [], "nothing of the deleted instance is left");
  });
});

backendTest(
  "integrity: a tampered snapshot is detected and rebuilt from checkpoint + journal",
  async (b) => {
    await withStore(b, async (store, path) => {
      await store.create("counter", "c");
      for (let i = 0; i < 4; i++) await store.send("c", "INC");
      await store.close();
      const kv = await openBackend(path);
      const rec = (await kv.get<Record<string, unknown>>(K.inst("c"))).value!;
      const bytes = new Uint8Array(rec.inline as Uint8Array);
      const text = new TextDecoder().decode(bytes).replace('"n":4', '"n":9');
      await kv.atomic([], [{
        type: "set",
        key: K.inst("c"),
        value: { ...rec, inline: new TextEncoder().encode(text) },
      }]);
      await kv.close();
      const again = await openStore({ path, machines: [counter] });
      try {
        const info = await again.get("c");
        assert.equal(
          (info?.context as { n: number }).n,
          4,
          "the journal's truth, not the tampered value",
        );
        assert.equal(typeof info?.recoveredAt, "number");
        const kinds = (await again.history("c")).map((e) => e.kind);
        assert.equal(kinds.at(-1), "recovery");
        await again.send("c", "INC");
        assert.equal(((await again.get("c"))?.context as { n: number }).n, 5);
      } finally {
        await again.close();
      }
    });
  },
);

backendTest("a snapshot over 64 KiB is chunked and round-trips, and shrinks back", async (b) => {
  await withStore(b, async (store, path) => {
    await store.create("counter", "big");
    const blob = "x".repeat(150_000);
    await store.send("big", { type: "BLOB", blob: blob.slice(0, 50_000) });
    await store.send("big", { type: "BLOB", blob: blob.slice(0, 50_000) + "y" });
    const kv = await openBackend(path);
    const chunks = [];
    for await (const e of kv.list({ prefix: K.snapPrefix("big") })) chunks.push(e.key);
    await kv.close();
    assert.ok(chunks.length >= 1, "stored in chunks");
    const info = await store.get("big");
    assert.equal((info?.context as { blob: string }).blob.length, 50_001);
    await store.send("big", { type: "BLOB", blob: "small" });
    const kv2 = await openBackend(path);
    const after = [];
    for await (const e of kv2.list({ prefix: K.snapPrefix("big") })) after.push(e.key);
    await kv2.close();
    assert.deepEqual(after, [], "old chunks are deleted when the snapshot fits inline again");
    await assert.rejects(
      store.send("big", { type: "BLOB", blob: "z".repeat(70_000) }),
      /is \d+ bytes; at most 60000/,
    );
  });
});

backendTest(
  "encryption at rest: values are ciphertext; a wrong or missing key fails clearly",
  async (b) => {
    const path = await b.path();
    try {
      const store = await openStore({ path, machines: [counter], encryptionKey: "correct horse" });
      await store.create("counter", "secret", { context: { blob: "TOPSECRET" } });
      await store.send("secret", "INC");
      await store.close();
      const kv = await openBackend(path);
      for await (const e of kv.list({ prefix: ["sc"] })) {
        const raw = JSON.stringify(
          e.value,
          (_k, v) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v,
        );
        assert.ok(!raw.includes("TOPSECRET"), `plaintext found under ${JSON.stringify(e.key)}`);
      }
      await kv.close();
      await assert.rejects(
        openStore({ path, machines: [counter], encryptionKey: "wrong" }),
        (e: unknown) => e instanceof StoreDataError && /wrong encryption key/.test(e.message),
      );
      await assert.rejects(
        openStore({ path, machines: [counter] }),
        /is encrypted; open it with its encryption key/,
      );
      const again = await openStore({ path, machines: [counter], encryptionKey: "correct horse" });
      const info = await again.get("secret");
      assert.equal((info?.context as { blob: string }).blob, "TOPSECRET");
      assert.equal((await again.history("secret"))[1].event?.type, "INC");
      await again.close();
    } finally {
      await b.cleanup();
    }
  },
);

backendTest(
  "definition changes: incompatible fails naming both versions; a migration runs",
  async (b) => {
    const path = await b.path();
    const v1 = defineMachine({
      id: "light",
      version: 1,
      states: { red: { on: { GO: "green" } }, green: { on: { STOP: "red" } } },
    });
    const v2 = defineMachine({
      id: "light",
      version: 2,
      states: { red: { on: { GO: "green" } }, green: { on: { STOP: "red" } }, amber: {} },
    });
    const v2m = defineMachine({
      ...v2.config,
      migrations: {
        "1": (s: Snapshot) => ({ ...s, version: 2, context: { migrated: true } }),
      },
    });
    try {
      const a = await openStore({ path, machines: [v1] });
      await a.create("light", "l");
      await a.send("l", "GO");
      await a.close();
      const b = await openStore({ path, machines: [v2] });
      await assert.rejects(
        b.get("l"),
        /stored under version 1 \(hash [0-9a-f]+\) of machine "light", which is now version 2 \(hash [0-9a-f]+\), and no migration/,
      );
      await b.close();
      const c = await openStore({ path, machines: [v2m] });
      const info = await c.get("l");
      assert.deepEqual(info?.configuration, ["green"]);
      assert.deepEqual(info?.context, { migrated: true });
      assert.equal(info?.version, 2);
      const last = (await c.history("l")).at(-1)!;
      assert.equal(last.kind, "migration");
      assert.equal(last.from, 1);
      assert.equal(last.toVersion, 2);
      await c.send("l", "STOP");
      await c.close();
    } finally {
      await b.cleanup();
    }
  },
);

backendTest(
  "durable timers fire through the journal; invocation results are journaled too",
  async (b) => {
    const timed = defineMachine({
      id: "timed",
      context: { result: "" },
      states: {
        waiting: { after: { 30: "working" } },
        working: {
          invoke: {
            id: "job",
            src: () => new Promise((r) => setTimeout(() => r("done!"), 10)),
            onDone: {
              target: "finished",
              actions: ({ context, event }) => context.result = event.output as string,
            },
          },
        },
        finished: {},
      },
    });
    const clock = new VirtualClock(Date.now());
    const store = await openStore({
      path: await b.path(),
      machines: [timed],
      timerPollMs: 20,
      clock,
    });
    try {
      await store.create("timed", "t");
      clock.advance(30); // the timer fires on virtual time; the invocation takes 10 real ms
      await waitFor(
        "the timer and the invocation's result",
        async () => (await store.get("t"))?.configuration[0] === "finished",
      );
      const info = await store.get("t");
      assert.deepEqual(info?.configuration, ["finished"]);
      assert.equal((info?.context as { result: string }).result, "done!");
      const h = await store.history("t");
      assert.deepEqual(h.map((e) => [e.kind, e.event?.type ?? null]), [
        ["create", null],
        ["timer", "after.30.waiting"],
        ["invoke", "done.invoke.job"],
      ]);
      const replayed = await store.rollback("t", { seq: 2 });
      assert.deepEqual(
        replayed.configuration,
        ["finished"],
        "replay reproduces timer and invoke entries",
      );
    } finally {
      await store.close();
      await b.cleanup();
    }
  },
);

backendTest("group commit: concurrent instances share KV operations", async (b) => {
  await withStore(b, async (store) => {
    const ids = Array.from({ length: 50 }, (_, i) => `g${i}`);
    await Promise.all(ids.map((id) => store.create("counter", id)));
    const before = store.commitStats;
    await Promise.all(ids.map(async (id) => {
      for (let k = 0; k < 10; k++) await store.send(id, "INC");
    }));
    const after = store.commitStats;
    const commits = after.commits - before.commits;
    const operations = after.operations - before.operations;
    assert.equal(commits, 500);
    assert.ok(operations < commits / 4, `${operations} operations for ${commits} commits`);
    for (const id of ids) assert.equal(((await store.get(id))?.context as { n: number }).n, 10);
  });
});

backendTest("per instance, events apply one at a time in arrival order", async (b) => {
  await withStore(b, async (store) => {
    await store.create("door", "d");
    const results = await Promise.all(
      ["OPEN", "CLOSE", "OPEN", "CLOSE", "OPEN"].map((e) => store.send("d", e)),
    );
    assert.deepEqual(results.map((r) => r.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(results.map((r) => r.configuration[0]), [
      "open",
      "closed",
      "open",
      "closed",
      "open",
    ]);
  });
});

backendTest("inspect mode: nothing fires, reads and rollbacks work", async (b) => {
  const timed = defineMachine({ id: "timed", states: { a: { after: { 10: "b" } }, b: {} } });
  const path = await b.path();
  try {
    // Virtual time throughout: the timer cannot fire before the live store closes, and in
    // inspect mode it is overdue and every clock timer is run, so a timer that inspect mode
    // armed would fire here, deterministically (a real-time sleep raced it).
    const clock = new VirtualClock(Date.now());
    const live = await openStore({ path, machines: [timed], timerPollMs: 10_000, clock });
    await live.create("timed", "t");
    await live.close();
    const inspect = await openStore({
      path,
      machines: [timed],
      mode: "inspect",
      timerPollMs: 10_000,
      clock,
    });
    assert.deepEqual((await inspect.get("t"))?.configuration, ["a"]);
    clock.advance(60_000);
    assert.deepEqual((await inspect.get("t"))?.configuration, ["a"]);
    assert.deepEqual((await inspect.history("t")).map((e) => e.kind), ["create"]);
    await inspect.close();
  } finally {
    await b.cleanup();
  }
});

backendTest(
  "sends queued together commit together; each is acknowledged with its own result",
  async (b) => {
    await withStore(b, async (store) => {
      await store.create("counter", "b");
      const before = store.commitStats;
      const acks = await Promise.allSettled([
        store.send("b", "INC", { eventId: "a" }),
        store.send("b", { type: "ADD", by: "bad" }), // rejected by the schema, alone
        store.send("b", "INC", { eventId: "a" }), // the same id again in the same batch
        store.send("b", "STOP"),
        store.send("b", "INC"), // no transition in "off": applied, nothing changes
        store.send("b", "START", { eventId: "c" }),
      ]);
      const after = store.commitStats;
      assert.ok(after.commits - before.commits <= 3, `${after.commits - before.commits} commits`);
      const [a1, bad, a2, stop, inc, start] = acks;
      assert.equal(a1.status, "fulfilled");
      assert.equal(bad.status, "rejected");
      assert.ok(bad.status === "rejected" && bad.reason instanceof EventError);
      assert.ok(a1.status === "fulfilled" && a2.status === "fulfilled");
      assert.equal(a2.value.duplicate, true);
      assert.equal(a2.value.seq, a1.value.seq);
      assert.ok(
        stop.status === "fulfilled" && inc.status === "fulfilled" && start.status === "fulfilled",
      );
      assert.deepEqual([a1.value.seq, stop.value.seq, inc.value.seq, start.value.seq], [
        1,
        2,
        3,
        4,
      ]);
      assert.deepEqual(stop.value.configuration, ["off"]);
      assert.deepEqual(start.value.configuration, ["on"]);
      const h = await store.history("b");
      assert.deepEqual(h.map((e) => [e.seq, e.event?.type ?? "-"]), [
        [0, "-"],
        [1, "INC"],
        [2, "STOP"],
        [3, "INC"],
        [4, "START"],
      ]);
      assert.equal(((await store.get("b"))?.context as { n: number }).n, 1);
    });
  },
);

backendTest("a livelock in one send is rejected without losing the sends around it", async (b) => {
  const looping = defineMachine({
    id: "looping",
    context: { n: 0 },
    states: {
      a: { on: { INC: { actions: ({ context }) => context.n++ }, LOOP: "b" } },
      b: { always: "c" },
      c: { always: "b" },
    },
  });
  const store = await openStore({ path: await b.path(), machines: [looping] });
  try {
    await store.create("looping", "l");
    const acks = await Promise.allSettled([
      store.send("l", "INC"),
      store.send("l", "LOOP"),
      store.send("l", "INC"),
    ]);
    assert.deepEqual(acks.map((a) => a.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.match(String((acks[1] as PromiseRejectedResult).reason), /microsteps in one macrostep/);
    const info = await store.get("l");
    assert.deepEqual(info?.configuration, ["a"]);
    assert.equal((info?.context as { n: number }).n, 2);
    assert.deepEqual((await store.history("l")).map((e) => e.event?.type ?? "-"), [
      "-",
      "INC",
      "INC",
    ]);
  } finally {
    await store.close();
    await b.cleanup();
  }
});

backendTest(
  "a send whose commit fails leaves nothing behind in memory or in the journal",
  async (b) => {
    const backend = await openBackend(await b.path());
    // One byte of snapshot more than one commit of this backend may carry.
    const size = Math.ceil(backend.limits.bytes * 0.875) + 1000;
    const grow = defineMachine({
      id: "grow",
      context: { n: 0, big: "" },
      states: {
        on: {
          on: {
            INC: { actions: ({ context }) => context.n++ },
            GROW: {
              actions: ({ context }) => {
                context.n++;
                context.big = "x".repeat(size);
              },
            },
          },
        },
      },
    });
    const store = await openStore({ backend, machines: [grow] });
    try {
      await store.create("grow", "g");
      await assert.rejects(store.send("g", "GROW"), /one commit holds at most \d+ KiB/);
      assert.deepEqual((await store.get("g"))?.context, { n: 0, big: "" });
      await store.send("g", "INC");
      assert.deepEqual((await store.get("g"))?.context, { n: 1, big: "" });
      assert.deepEqual((await store.history("g")).map((e) => e.event?.type ?? "-"), ["-", "INC"]);
    } finally {
      await store.close();
      await b.cleanup();
    }
  },
);

backendTest(
  "an import that stops halfway leaves no half-imported instance; a retry works",
  async (b) => {
    await withStore(b, async (source) => {
      await source.create("door", "x");
      await source.send("x", "OPEN");
      const records: ExportRecord[] = [];
      for await (const r of source.export()) records.push(r);
      const target = await openStore({ path: await b.path(), machines: [door] });
      try {
        const failing = async function* () {
          yield records[0];
          yield records[1];
          throw new Error("the source broke");
        };
        await assert.rejects(target.import(failing()), /the source broke/);
        assert.equal(await target.get("x"), null);
        assert.deepEqual(await target.import(records), {
          instances: 1,
          journal: 2,
          checkpoints: 1,
        });
        assert.deepEqual((await target.get("x"))?.configuration, ["open"]);
        assert.equal((await target.history("x")).length, 2);
        await assert.rejects(target.import(records), /record 1: instance "x" already exists/);
      } finally {
        await target.close();
        await b.cleanup();
      }
    });
  },
);

backendTest("inspect mode writes nothing, even when a read migrates", async (b) => {
  const path = await b.path();
  const v1 = defineMachine({ id: "m", version: 1, states: { a: {} } });
  const v2 = defineMachine({
    id: "m",
    version: 2,
    states: { a: {}, b: {} },
    migrations: { "1": (s: Snapshot) => ({ ...s, version: 2 }) },
  });
  try {
    const live = await openStore({ path, machines: [v1] });
    await live.create("m", "x");
    await live.close();
    const inspect = await openStore({ path, machines: [v2], mode: "inspect" });
    assert.equal((await inspect.get("x"))?.version, 1);
    assert.deepEqual((await inspect.history("x")).map((e) => e.kind), ["create"]);
    await inspect.close();
  } finally {
    await b.cleanup();
  }
});

backendTest("create with an event id: a retry answers with the instance it made", async (b) => {
  await withStore(b, async (store) => {
    const first = await store.create("door", "d1", { eventId: "req-1" });
    assert.equal(first.duplicate, undefined);
    const again = await store.create("door", "d1", { eventId: "req-1" });
    assert.equal(again.duplicate, true);
    assert.equal(again.createdAt, first.createdAt);
    await assert.rejects(
      store.create("door", "d1", { eventId: "req-2" }),
      (e: unknown) => e instanceof StoreError && e.code === "exists",
    );
    await assert.rejects(store.create("door", "d1"), /already exists/);
    assert.equal((await store.history("d1")).length, 1, "created once");
  });
});
