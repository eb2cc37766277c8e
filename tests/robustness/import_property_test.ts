// Issue #14, `kv import`: files made from the lines of a real export, mutated (fields dropped,
// retyped, swapped; lines truncated, duplicated, reordered, dropped; junk lines; the file cut
// short). `kv import` either succeeds, and then every instance it imported loads at `kv show`
// and `kv history`, or fails with an error naming a line of the file (`file:line: ...`) and
// writes nothing. In process, on Deno KV (and a few cases on PostgreSQL when it is available).
// STATECRAFT_FUZZ_RUNS runs more cases.
import assert from "node:assert/strict";
import fc from "fast-check";
import { VirtualClock } from "../../mod.ts";
import { openStore } from "../../lib/persist/store.ts";
import { kvHistoryCommand, kvImportCommand, kvShowCommand } from "../../lib/cli/kv.ts";
import { CliError } from "../../lib/cli/cli_error.ts";
import { counter, toggle } from "../fixtures/kv_counter.ts";
import { pgAvailable, pgServer } from "../_pg.ts";
import { pathsOf, valueAt } from "./_json_paths.ts";
import { nameArb, outcome, params, PROTO_NAMES } from "./_property.ts";

const FIXTURE = "tests/fixtures/kv_counter.ts";
const T0 = Date.UTC(2025, 0, 1);
const SILENT = { line: () => {}, warn: () => {} };

/** The lines of a real export: counters in every state, a toggle, journals, checkpoints. */
async function exportLines(dir: string): Promise<string[]> {
  const clock = new VirtualClock(T0);
  const store = await openStore({ path: `${dir}/source.kv`, machines: [counter, toggle], clock });
  try {
    await store.create("counter", "c1");
    await store.send("c1", "INC");
    await store.send("c1", "INC");
    await store.checkpoint("c1", "two");
    await store.send("c1", "PAUSE"); // a pending timer
    await store.create("counter", "c2");
    await store.send("c2", "INC");
    await store.send("c2", "FINISH"); // done
    await store.create("toggle", "t1");
    await store.send("t1", "FLIP");
    const lines: string[] = [];
    for await (const r of store.export()) lines.push(JSON.stringify(r));
    return lines;
  } finally {
    await store.close();
  }
}

const RETYPED: unknown[] = [
  null,
  0,
  -1,
  1e20,
  "",
  "x",
  "counter",
  "toggle",
  "on",
  "counting.low",
  [],
  {},
  true,
  [["a"]],
  { type: "" },
];

type Edit =
  | { op: "field"; line: number; at: number; to: number; drop: boolean }
  | { op: "name"; line: number; at: number; name: string }
  | { op: "dropLine"; line: number }
  | { op: "duplicate"; line: number }
  | { op: "swap"; line: number; other: number }
  | { op: "truncateLine"; line: number; keep: number }
  | { op: "junk"; line: number; text: string }
  | { op: "cut"; keep: number };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("field" as const),
      line: fc.nat(),
      at: fc.nat(),
      to: fc.nat(),
      drop: fc.boolean(),
    }),
  },
  fc.record({
    op: fc.constant("name" as const),
    line: fc.nat(),
    at: fc.nat(),
    name: fc.oneof(nameArb, fc.constantFrom(...PROTO_NAMES)),
  }),
  fc.record({ op: fc.constant("dropLine" as const), line: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), line: fc.nat() }),
  fc.record({ op: fc.constant("swap" as const), line: fc.nat(), other: fc.nat() }),
  fc.record({ op: fc.constant("truncateLine" as const), line: fc.nat(), keep: fc.nat() }),
  fc.record({
    op: fc.constant("junk" as const),
    line: fc.nat(),
    text: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.json({ maxDepth: 2 }),
      fc.constantFrom(`{"type":"journal","id":"c1","entry":{"seq":1}}`, `{}`, `[]`, `null`, ` `),
    ),
  }),
  fc.record({ op: fc.constant("cut" as const), keep: fc.nat() }),
);

function edit(lines: string[], edits: Edit[]): string[] {
  const out = [...lines];
  for (const e of edits) {
    if (out.length === 0) break;
    const i = "line" in e ? e.line % out.length : 0;
    switch (e.op) {
      case "field": {
        let value: unknown;
        try {
          value = JSON.parse(out[i]);
        } catch {
          break;
        }
        const paths = pathsOf(value, 300, 10);
        if (paths.length === 0) break;
        const path = paths[e.at % paths.length];
        const parent = valueAt(value, path.slice(0, -1)) as Record<string | number, unknown>;
        const key = path[path.length - 1];
        if (e.drop) {
          if (Array.isArray(parent) && typeof key === "number") parent.splice(key, 1);
          else delete parent[key];
        } else parent[key] = structuredClone(RETYPED[e.to % RETYPED.length]);
        out[i] = JSON.stringify(value);
        break;
      }
      case "name": {
        // A state id, an instance id or a key replaced by an odd name.
        out[i] = out[i].replace(
          /"(c1|c2|t1|counting\.low|on|off|two|counter)"/,
          JSON.stringify(e.name),
        );
        break;
      }
      case "dropLine":
        out.splice(i, 1);
        break;
      case "duplicate":
        out.splice(i, 0, out[i]);
        break;
      case "swap": {
        const j = e.other % out.length;
        [out[i], out[j]] = [out[j], out[i]];
        break;
      }
      case "truncateLine":
        out[i] = out[i].slice(0, e.keep % (out[i].length + 1));
        break;
      case "junk":
        out.splice(i, 0, e.text.replaceAll("\n", " "));
        break;
      case "cut":
        out.length = e.keep % (out.length + 1);
        break;
    }
  }
  return out;
}

/** Every key of the store but its format record: what an import writes. */
async function keysIn(path: string): Promise<string[]> {
  const store = await openStore({ path, machines: [counter, toggle], mode: "inspect" });
  try {
    const keys: string[] = [];
    for await (const e of store.backend.list({ prefix: ["sc"] })) {
      if (e.key[1] !== "format" && e.key[1] !== "meta") keys.push(JSON.stringify(e.key));
    }
    return keys;
  } finally {
    await store.close();
  }
}

async function importProperty(
  location: () => Promise<string>,
  dir: string,
  ciRuns: number,
): Promise<{ ok: number; refused: number }> {
  const lines = await exportLines(dir);
  const counts = { ok: 0, refused: 0, n: 0 };
  await fc.assert(
    fc.asyncProperty(fc.array(editArb, { maxLength: 4 }), async (edits) => {
      const content = edit(lines, edits);
      const file = `${dir}/case-${counts.n++}.jsonl`;
      await Deno.writeTextFile(file, content.join("\n") + "\n");
      const path = await location();
      const options = { kv: path, machines: [FIXTURE] };
      const result = await outcome("kv import", () => kvImportCommand(file, options, SILENT));
      if ("error" in result) {
        counts.refused++;
        const e = result.error;
        assert.ok(e instanceof CliError, `not a CliError: ${e.name}: ${e.message}`);
        assert.ok(e.message.startsWith(`${file}:`), `names no line: ${e.message}`);
        assert.match(e.message.slice(file.length), /^:\d+: \S/, e.message);
        assert.deepEqual(await keysIn(path), [], `written by a failed import: ${e.message}`);
        return;
      }
      counts.ok++;
      assert.equal(result.ok, 0);
      const imported = new Set(
        content.flatMap((l) => {
          try {
            const r = JSON.parse(l);
            return r?.type === "instance" ? [r.id] : [];
          } catch {
            return [];
          }
        }),
      );
      for (const id of imported) {
        const show = await outcome(`kv show ${id}`, () => kvShowCommand(id, options, SILENT));
        assert.ok("ok" in show, `kv show ${id}: ${"error" in show ? show.error.message : ""}`);
        const history = await outcome(
          `kv history ${id}`,
          () => kvHistoryCommand(id, options, SILENT),
        );
        assert.ok(
          "ok" in history,
          `kv history ${id}: ${"error" in history ? history.error.message : ""}`,
        );
      }
    }),
    params(ciRuns, 20_000),
  );
  return counts;
}

Deno.test("kv import: mutated export files import and load, or fail at a line writing nothing", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_import_prop_" });
  try {
    let n = 0;
    const counts = await importProperty(() => Promise.resolve(`${dir}/store-${n++}.kv`), dir, 80);
    console.log(`kv import (Deno KV): ${counts.ok} imported, ${counts.refused} refused`);
    assert.ok(counts.ok > 0 && counts.refused > 0, JSON.stringify(counts));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const pg = pgAvailable();
Deno.test({
  name: "kv import on PostgreSQL: mutated export files import and load, or fail writing nothing",
  ignore: !pg.ok,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_import_prop_" });
    try {
      const server = await pgServer();
      const counts = await importProperty(() => Promise.resolve(server.url()), dir, 15);
      console.log(`kv import (PostgreSQL): ${counts.ok} imported, ${counts.refused} refused`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
