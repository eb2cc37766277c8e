// Import (issue #14): every record is checked before it is written, and an import is all or
// nothing. A bad record after good ones leaves nothing behind; a store that goes away while
// the import writes (Deno KV closed under it, PostgreSQL killed) gives an ImportError that
// names exactly the instances left in the store. On Deno KV and PostgreSQL.
import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import { type ExportRecord, openStore, type Store } from "../../lib/persist/store.ts";
import { ImportError } from "../../lib/persist/transfer.ts";
import { counter, toggle } from "../fixtures/kv_counter.ts";
import { pgServer } from "../_pg.ts";
import { backendTest, type TestBackend } from "./_backends.ts";

const T0 = Date.UTC(2025, 0, 1);

function open(path: string): Promise<Store> {
  return openStore({ path, machines: [counter, toggle], clock: new VirtualClock(T0) });
}

/** Records of five instances (c0..c3 counters, t1 a toggle) with journals and a checkpoint. */
async function exported(backend: TestBackend): Promise<ExportRecord[]> {
  const store = await open(await backend.path());
  try {
    for (let i = 0; i < 4; i++) {
      await store.create("counter", `c${i}`);
      await store.send(`c${i}`, "INC");
    }
    await store.checkpoint("c1", "one");
    await store.create("toggle", "t1");
    await store.send("t1", "FLIP");
    const records: ExportRecord[] = [];
    for await (const r of store.export()) records.push(r);
    return records;
  } finally {
    await store.close();
  }
}

async function ids(store: Store): Promise<string[]> {
  return (await store.list()).items.map((i) => i.id).sort();
}

async function rejectsImport(
  store: Store,
  records: Iterable<ExportRecord> | AsyncIterable<ExportRecord>,
): Promise<ImportError> {
  try {
    await store.import(records);
  } catch (e) {
    assert.ok(e instanceof ImportError, `${e}`);
    return e;
  }
  assert.fail("the import succeeded");
}

backendTest("import: a bad record after good ones leaves nothing behind", async (backend) => {
  const records = await exported(backend);
  const cases: [string, (r: ExportRecord[]) => ExportRecord[], RegExp][] = [
    [
      "an illegal configuration",
      (r) => {
        const last = structuredClone(r);
        const i = last.findLastIndex((x) => x.type === "instance");
        const head = last[i] as Extract<ExportRecord, { type: "instance" }>;
        head.snapshot.configuration = ["on", "on"];
        return last;
      },
      /^record \d+: snapshot\.configuration\[1\]: "on" is listed twice/,
    ],
    [
      "a wrong hash",
      (r) => {
        const last = structuredClone(r);
        const i = last.findLastIndex((x) => x.type === "instance");
        (last[i] as Extract<ExportRecord, { type: "instance" }>).snapshot.hash = "0";
        return last;
      },
      /^record \d+: snapshot\.hash: instance "t1" was stored under version unversioned \(hash 0\)/,
    ],
    [
      "another machine's snapshot",
      (r) => {
        const last = structuredClone(r);
        const c = last.find((x) => x.type === "instance" && x.id === "c0") as Extract<
          ExportRecord,
          { type: "instance" }
        >;
        const i = last.findLastIndex((x) => x.type === "instance");
        (last[i] as Extract<ExportRecord, { type: "instance" }>).snapshot = {
          ...c.snapshot,
          id: "t1",
        };
        return last;
      },
      /^record \d+: snapshot\.machine: the snapshot of "t1" belongs to machine "counter", not "toggle"/,
    ],
    [
      "a bad date",
      (r) => {
        const last = structuredClone(r);
        const i = last.findLastIndex((x) => x.type === "instance");
        (last[i] as Extract<ExportRecord, { type: "instance" }>).updatedAt = 1e20;
        return last;
      },
      /^record \d+: updatedAt: must be a clock time/,
    ],
    [
      "an instance twice",
      (r) => [...r, r[0]],
      /^record \d+: id: instance "c0" is in the file twice/,
    ],
  ];
  for (const [what, mutate, pattern] of cases) {
    const store = await open(await backend.path());
    try {
      const e = await rejectsImport(store, mutate(records));
      assert.match(e.message, pattern, what);
      assert.match(e.message, /removed again: nothing was imported\)$/, `${what}: ${e.message}`);
      assert.deepEqual(e.written, [], what);
      assert.deepEqual(await ids(store), [], what);
      // Nothing at all is left: not a journal entry, not a snapshot chunk, not an index entry.
      const left: unknown[] = [];
      for await (const k of store.backend.list({ prefix: ["sc"] })) {
        if (k.key[1] !== "format" && k.key[1] !== "meta") left.push(k.key);
      }
      assert.deepEqual(left, [], `${what}: keys left`);
      // And the good records import.
      const counts = await store.import(records);
      assert.equal(counts.instances, 5, what);
      for (const id of await ids(store)) assert.ok(await store.get(id), `${what}: ${id} loads`);
    } finally {
      await store.close();
    }
  }
});

/** Records whose iteration calls `stop` once the first three instances are committed. */
async function* stoppingAfterThree(
  records: ExportRecord[],
  stop: () => Promise<void>,
): AsyncGenerator<ExportRecord> {
  let instances = 0;
  for (const r of records) {
    if (r.type === "instance" && ++instances === 4) {
      yield r; // the importer commits the third instance when it reads the fourth's record
      await stop();
      continue;
    }
    yield r;
  }
}

backendTest(
  "import: a Deno KV store closed under it names the instances it left",
  async (backend) => {
    const records = await exported(backend);
    const path = await backend.path();
    const store = await open(path);
    let e: ImportError;
    try {
      e = await rejectsImport(store, stoppingAfterThree(records, () => store.backend.close()));
    } finally {
      await store.close().catch(() => {});
    }
    assert.match(e.message, /could not be removed .* in the store: "c0", "c1", "c2"$/);
    assert.deepEqual(e.written, ["c0", "c1", "c2"]);
    const again = await open(path);
    try {
      assert.deepEqual(await ids(again), e.written);
      for (const id of e.written) assert.ok(await again.get(id), `${id} loads`);
    } finally {
      await again.close();
    }
  },
  { only: "deno-kv" },
);

backendTest("import: PostgreSQL killed mid-import, the error names the instances left", async (
  backend,
) => {
  const server = await pgServer();
  if (!server.canKill) return; // a server given by STATECRAFT_TEST_PG cannot be killed here
  const records = await exported(backend);
  const path = await backend.path();
  const store = await open(path);
  let e: ImportError;
  try {
    e = await rejectsImport(store, stoppingAfterThree(records, () => server.kill()));
  } finally {
    await server.start();
    await store.close().catch(() => {});
  }
  assert.equal(e.code, "unavailable");
  assert.match(e.message, /could not be removed .* in the store: "c0", "c1", "c2"$/);
  const again = await open(path);
  try {
    assert.deepEqual(await ids(again), e.written);
  } finally {
    await again.close();
  }
}, { only: "postgres" });
