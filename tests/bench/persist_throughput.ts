/**
 * Durable throughput and ack latency of the store, on Deno KV (a local file) and on PostgreSQL
 * (a server on this machine), each beside a raw-storage baseline run in the same process:
 * the same durable writes per event done directly on the storage (`_raw_baseline.ts` says why
 * that shape is the fair one). Issue #10. A script rather than `Deno.bench`: it reports
 * throughput and latency percentiles of many concurrent sends, which `Deno.bench` does not.
 *
 *   deno task bench:store                       # both backends, default sizes
 *   deno run --allow-read --allow-write=/tmp --allow-env --allow-net=127.0.0.1 \
 *     --allow-run --allow-sys tests/bench/persist_throughput.ts [options]
 *
 * Per backend, in order:
 *  1. one instance, sequential: every event waits for its own commit (`--sequential N`
 *     events, 2000; 0 skips);
 *  2. closed loop at `--instances` (1000): one worker per instance, each sending its next
 *     event when the last is acknowledged; then the raw baseline in the same shape;
 *  3. open loop at `--rate` (20000; 0 skips) offered events/s, `--events` (20) per instance;
 *  4. closed loop round-robin at `--many` (100000; 0 skips) instances: created first, in
 *     batches; then `--instances` workers each take the next instance id in round-robin
 *     order, so with more instances than the store's cache (10,000) every event is for an
 *     instance not in memory; then the raw baseline in the same shape; then the time to
 *     reopen that store and read one instance.
 *
 * Closed loops run `--warmup` (2) seconds, then are measured for `--seconds` (5). The store
 * and its raw baseline run `--rounds` (3) times, alternately, so that load from elsewhere on a
 * shared machine hits both alike: events/s and latencies are each side's median round, the
 * ratio is the median of the rounds' ratios (each printed).
 * The raw baseline carries as many events per atomic write as the store did in the run it is
 * compared with (its measured commits per storage operation), with `--raw-inflight` writes in
 * flight (default: the store's, 2) and the same workers.
 *
 * Options: --backend kv|postgres|both (both). PostgreSQL: `--pg-url URL` or
 * `STATECRAFT_TEST_PG=URL` to use a running server; otherwise a throwaway server is started
 * by `tests/_pg.ts` (needs PostgreSQL's `initdb`, `pg_ctl`, `pg_isready`; skipped with
 * a message when they are absent).
 */
import { parseArgs } from "node:util";
import { defineMachine } from "../../mod.ts";
import { openStore, type Store } from "../../lib/persist/store.ts";
import { closedLoop, type LoopResult, percentile } from "./_closed_loop.ts";
import {
  type EventShape,
  FALLBACK_SHAPE,
  probeShape,
  RawBatcher,
  RawDenoKv,
  RawPostgres,
  type RawTarget,
} from "./_raw_baseline.ts";

const { values: opt } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "both" },
    "pg-url": { type: "string" },
    instances: { type: "string", default: "1000" },
    many: { type: "string", default: "100000" },
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    sequential: { type: "string", default: "2000" },
    rate: { type: "string", default: "20000" },
    events: { type: "string", default: "20" },
    "raw-inflight": { type: "string" },
    "create-batch": { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
  },
});
const BACKENDS = opt.backend === "both" ? ["kv", "postgres"] : [opt.backend!];
for (const b of BACKENDS) {
  if (b !== "kv" && b !== "postgres") {
    throw new Error(`--backend ${b}: expected kv, postgres or both`);
  }
}
const INSTANCES = Number(opt.instances);
const MANY = Number(opt.many);
const MEASURE_MS = Number(opt.seconds) * 1000;
const WARMUP_MS = Number(opt.warmup) * 1000;
const SEQUENTIAL = Number(opt.sequential);
const RATE = Number(opt.rate);
const PER = Number(opt.events);
const CREATE_BATCH = Number(opt["create-batch"]);
/** Atomic writes the store's committer keeps in flight (lib/persist/group_commit.ts). */
const STORE_INFLIGHT = 2;
const ROUNDS = Math.max(1, Number(opt.rounds));
const RAW_INFLIGHT = opt["raw-inflight"] === undefined
  ? STORE_INFLIGHT
  : Number(opt["raw-inflight"]);

const counter = defineMachine({
  id: "counter",
  context: { n: 0 },
  states: { on: { on: { INC: { actions: ({ context }) => context.n++ } } } },
});

/** One line of the report. */
interface Row {
  backend: string;
  case: string;
  store: LoopResult | null;
  /** Events/s when `store` is null (sequential, open loop). */
  storeRate?: number;
  perOp: number | null;
  raw: LoopResult | null;
  rawPerOp?: number;
  /** Store / raw of each round, and their median (the reported ratio). */
  ratios?: number[];
  ratio?: number;
  targets: { text: string; met: boolean | null }[];
}
const rows: Row[] = [];
const notes: string[] = [];

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const ms = (n: number): string => (Number.isNaN(n) ? "-" : n.toFixed(1));
const log = (s: string): void => console.error(`[bench] ${s}`);

/** Counts the store's commits per storage operation over a loop's measured window. */
function windowStats(store: Store): {
  onWindowStart(): void;
  onWindowEnd(): void;
  perOp(): number;
} {
  let a = store.commitStats, b = a;
  return {
    onWindowStart: () => (a = store.commitStats),
    onWindowEnd: () => (b = store.commitStats),
    perOp: () => (b.commits - a.commits) / Math.max(1, b.operations - a.operations),
  };
}

async function createAll(store: Store, ids: readonly string[]): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += CREATE_BATCH) {
    await Promise.all(ids.slice(i, i + CREATE_BATCH).map((id) => store.create("counter", id)));
  }
  return ids.length / ((performance.now() - t0) / 1000);
}

/** A store run and its raw baseline, median of `--rounds` alternating rounds. */
interface Compared {
  store: LoopResult;
  perOp: number;
  raw: LoopResult;
  rawPerOp: number;
  /** Store / raw events/s of each round (the two ran back to back), and their median. */
  ratios: number[];
  ratio: number;
}

/** The report line of a compared case. */
function comparedRow(
  backend: string,
  name: string,
  c: Compared,
  targets: Row["targets"],
): Row {
  return {
    backend,
    case: name,
    store: c.store,
    perOp: c.perOp,
    raw: c.raw,
    rawPerOp: c.rawPerOp,
    ratios: c.ratios,
    ratio: c.ratio,
    targets,
  };
}

/**
 * Runs the closed loop on the store, then the same loop on the raw target batched as the
 * store batched, `ROUNDS` times alternating (the store and the raw target stay open, so a
 * burst of load from elsewhere hits both alike). Reports the median round of each.
 */
async function compare(
  label: string,
  store: Store,
  raw: RawTarget,
  ids: readonly string[],
  mode: "owned" | "round-robin",
): Promise<Compared> {
  const rounds: { store: LoopResult; perOp: number; raw: LoopResult; rawPerOp: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    log(`${label}: store, round ${round + 1} of ${ROUNDS}`);
    const w = windowStats(store);
    const s = await closedLoop({
      send: (id) => store.send(id, "INC"),
      ids,
      workers: INSTANCES,
      mode,
      warmupMs: WARMUP_MS,
      measureMs: MEASURE_MS,
      ...w,
    });
    const perOp = w.perOp();
    log(`${label}: raw, ${perOp.toFixed(1)} events per write, round ${round + 1} of ${ROUNDS}`);
    const batcher = new RawBatcher(raw, perOp, RAW_INFLIGHT);
    let a = { ...batcher.stats }, b = a;
    const r = await closedLoop({
      send: (id) => batcher.send(id),
      ids,
      workers: INSTANCES,
      mode,
      warmupMs: WARMUP_MS,
      measureMs: MEASURE_MS,
      onWindowStart: () => (a = { ...batcher.stats }),
      onWindowEnd: () => (b = { ...batcher.stats }),
    });
    const rawPerOp = (b.commits - a.commits) / Math.max(1, b.operations - a.operations);
    rounds.push({ store: s, perOp, raw: r, rawPerOp });
  }
  const byStore = [...rounds].sort((x, y) => x.store.eventsPerSecond - y.store.eventsPerSecond);
  const byRaw = [...rounds].sort((x, y) => x.raw.eventsPerSecond - y.raw.eventsPerSecond);
  const m = Math.floor(rounds.length / 2);
  const ratios = rounds.map((x) => x.store.eventsPerSecond / x.raw.eventsPerSecond);
  return {
    store: byStore[m].store,
    perOp: byStore[m].perOp,
    raw: byRaw[m].raw,
    rawPerOp: byRaw[m].rawPerOp,
    ratios,
    ratio: [...ratios].sort((x, y) => x - y)[m],
  };
}

/** Everything one backend needs: where its stores and its raw baseline live. */
interface Backend {
  name: string;
  /** A fresh, empty store location for one case. */
  location(name: string): string;
  raw(name: string): Promise<RawTarget>;
  close(): Promise<void>;
}

async function runBackend(be: Backend): Promise<void> {
  const ratioTarget = (c: Compared) => ({
    text: "store >= 0.8x raw",
    met: c.ratio >= 0.8,
  });

  // 1. One instance, sequential.
  if (SEQUENTIAL > 0) {
    log(`${be.name}: 1 instance, sequential`);
    const store = await openStore({ path: be.location("seq"), machines: [counter] });
    try {
      await store.create("counter", "one");
      const t0 = performance.now();
      for (let i = 0; i < SEQUENTIAL; i++) await store.send("one", "INC");
      const rate = SEQUENTIAL / ((performance.now() - t0) / 1000);
      rows.push({
        backend: be.name,
        case: "1 instance, sequential",
        store: null,
        storeRate: rate,
        perOp: null,
        raw: null,
        targets: [],
      });
    } finally {
      await store.close();
    }
  }

  // 2. Closed loop, one worker per instance; the raw baseline in the same shape.
  let closedRate = NaN;
  {
    log(`${be.name}: ${INSTANCES} instances, closed loop`);
    const ids = Array.from({ length: INSTANCES }, (_, i) => `c${i}`);
    const store = await openStore({ path: be.location("closed"), machines: [counter] });
    const raw = await be.raw("closed");
    let c: Compared;
    try {
      await createAll(store, ids);
      await raw.seed(ids);
      c = await compare(`${be.name}: ${INSTANCES} instances`, store, raw, ids, "owned");
    } finally {
      await store.close();
      await raw.close();
    }
    closedRate = c.store.eventsPerSecond;
    const targets = [ratioTarget(c)];
    if (be.name === "PostgreSQL") {
      targets.push({ text: ">= 5,000 events/s", met: c.store.eventsPerSecond >= 5000 });
    }
    rows.push(comparedRow(be.name, `${fmt(INSTANCES)} instances, closed loop`, c, targets));
  }

  // 3. Open loop: events arrive at a fixed rate, spread over the instances.
  if (RATE > 0) {
    log(`${be.name}: ${INSTANCES} instances, open loop at ${RATE}/s`);
    const store = await openStore({ path: be.location("open"), machines: [counter] });
    try {
      const ids = Array.from({ length: INSTANCES }, (_, i) => `o${i}`);
      await createAll(store, ids);
      const total = INSTANCES * PER;
      const lat: number[] = [];
      const pending: Promise<void>[] = [];
      const before = store.commitStats;
      const t0 = performance.now();
      let sent = 0;
      while (sent < total) {
        const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
        for (; sent < Math.min(due, total); sent++) {
          const s = performance.now();
          pending.push(
            store.send(ids[sent % ids.length], "INC").then(() => {
              lat.push(performance.now() - s);
            }),
          );
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(pending);
      const secs = (performance.now() - t0) / 1000;
      lat.sort((a, b) => a - b);
      const after = store.commitStats;
      rows.push({
        backend: be.name,
        case: `${fmt(INSTANCES)} instances, open loop at ${fmt(RATE)}/s offered`,
        store: { events: total, seconds: secs, eventsPerSecond: total / secs, latencies: lat },
        perOp: (after.commits - before.commits) / (after.operations - before.operations),
        raw: null,
        targets: [],
      });
    } finally {
      await store.close();
    }
  }

  // 4. Closed loop round-robin over many instances; the raw baseline in the same shape; then
  //    reopening that store.
  if (MANY > 0) {
    log(`${be.name}: creating ${MANY} instances`);
    const ids = Array.from({ length: MANY }, (_, i) => `r${i}`);
    const path = be.location("many");
    const store = await openStore({ path, machines: [counter] });
    const raw = await be.raw("many");
    let c: Compared;
    try {
      const creates = await createAll(store, ids);
      notes.push(
        `${be.name}: ${fmt(MANY)} creates at ${fmt(creates)}/s (batches of ${CREATE_BATCH})`,
      );
      await raw.seed(ids);
      c = await compare(
        `${be.name}: ${MANY} instances round-robin`,
        store,
        raw,
        ids,
        "round-robin",
      );
    } finally {
      await store.close();
      await raw.close();
    }
    const t0 = performance.now();
    const reopened = await openStore({ path, machines: [counter] });
    const opened = performance.now() - t0;
    const info = await reopened.get(ids[MANY - 1]);
    const firstGet = performance.now() - t0 - opened;
    await reopened.close();
    if (info === null) throw new Error("the last instance is missing");
    notes.push(
      `${be.name}: open a store of ${fmt(MANY)} instances: ${opened.toFixed(1)} ms; ` +
        `first get ${firstGet.toFixed(1)} ms`,
    );
    rows.push(comparedRow(
      be.name,
      `${fmt(MANY)} instances, closed loop round-robin, ${fmt(INSTANCES)} workers`,
      c,
      [
        ratioTarget(c),
        {
          text: `within 1.5x of ${fmt(INSTANCES)} instances`,
          met: closedRate / c.store.eventsPerSecond <= 1.5,
        },
      ],
    ));
  }
}

function kvBackend(dir: string): Backend {
  return {
    name: "Deno KV",
    location: (name) => `${dir}/kv-${name}.kv`,
    raw: async (name) => await RawDenoKv.open(`${dir}/raw-${name}.kv`, shape),
    close: () => Promise.resolve(),
  };
}

async function pgBackend(): Promise<Backend | null> {
  const given = opt["pg-url"];
  let at: (schema: string) => string;
  let stop = (): Promise<void> => Promise.resolve();
  if (given !== undefined) {
    at = (schema) => {
      const u = new URL(given);
      u.searchParams.set("schema", schema);
      return u.toString();
    };
  } else {
    // STATECRAFT_TEST_PG, or a throwaway server started here.
    const { pgAvailable, pgServer } = await import("../_pg.ts");
    const available = pgAvailable();
    if (!available.ok) {
      notes.push(`PostgreSQL skipped: ${available.reason}`);
      return null;
    }
    log("starting PostgreSQL (tests/_pg.ts)");
    const server = await pgServer();
    at = (schema) => server.url(schema);
    stop = () => server.stop();
  }
  // The raw baseline makes its own schema; `schema=` is the store's parameter, not pg's.
  const rawUrl = new URL(at("public"));
  rawUrl.searchParams.delete("schema");
  const run = `bench_${Date.now().toString(36)}`;
  const schemas: string[] = [];
  {
    const { default: pg } = await import("pg");
    const c = new pg.Client({ connectionString: rawUrl.toString() });
    await c.connect();
    try {
      const v = (await c.query("SHOW server_version")).rows[0].server_version;
      const f = (await c.query("SHOW fsync")).rows[0].fsync;
      const sc = (await c.query("SHOW synchronous_commit")).rows[0].synchronous_commit;
      const where = given ?? Deno.env.get("STATECRAFT_TEST_PG");
      const shown = where === undefined ? "tests/_pg.ts" : new URL(where);
      if (shown instanceof URL && shown.password !== "") shown.password = "***";
      notes.push(
        `PostgreSQL ${v} (${shown}), ` +
          `fsync=${f}, synchronous_commit=${sc}`,
      );
    } finally {
      await c.end();
    }
  }
  return {
    name: "PostgreSQL",
    location: (name) => {
      schemas.push(`${run}_${name}`);
      return at(`${run}_${name}`);
    },
    raw: async () => await RawPostgres.open(rawUrl.toString(), shape, RAW_INFLIGHT),
    close: async () => {
      // The stores' schemas (a server given by URL keeps running after the benchmark).
      const { default: pg } = await import("pg");
      const c = new pg.Client({ connectionString: rawUrl.toString() });
      await c.connect();
      try {
        for (const schema of schemas) await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
        await stop();
      }
    },
  };
}

console.log(
  `store benchmark: --backend ${opt.backend} --instances ${INSTANCES} --many ${MANY} ` +
    `--seconds ${MEASURE_MS / 1000} --warmup ${WARMUP_MS / 1000} --rounds ${ROUNDS} ` +
    `(raw writes in flight: ${RAW_INFLIGHT})`,
);

// The values the store writes for one event, read back from a real store.
const dir = await Deno.makeTempDir({ prefix: "statecraft-bench-" });
let shape: EventShape = FALLBACK_SHAPE;
try {
  {
    const store = await openStore({ path: `${dir}/probe.kv`, machines: [counter] });
    await store.create("counter", "c0");
    for (let i = 0; i < 3; i++) await store.send("c0", "INC");
    await store.close();
    const probed = await probeShape(`${dir}/probe.kv`, "c0");
    if (probed === null) notes.push("raw shape: the probe found no record; using the fallback");
    else shape = probed;
    notes.push(
      `raw shape per event: 1 check; record ${shape.recordBytes} B, journal entry ` +
        `${shape.journalBytes} B (V8-serialised); index move when the second changes`,
    );
  }
  for (const b of BACKENDS) {
    const be = b === "kv" ? kvBackend(dir) : await pgBackend();
    if (be === null) {
      console.log(notes[notes.length - 1]); // say it now, not only in the summary
      continue;
    }
    try {
      await runBackend(be);
    } finally {
      await be.close();
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

console.log(
  "| backend | case | store events/s | raw events/s | ratio | ack p50 ms | ack p99 ms | " +
    "raw p50 / p99 ms | commits per op (store / raw) | target | met? |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
for (const r of rows) {
  const rate = r.store?.eventsPerSecond ?? r.storeRate!;
  const lat = r.store?.latencies ?? [];
  const cells = [
    r.backend,
    r.case,
    fmt(rate),
    r.raw === null ? "-" : fmt(r.raw.eventsPerSecond),
    r.raw === null
      ? "-"
      : `${(rate / r.raw.eventsPerSecond).toFixed(2)}x${
        (r.ratios?.length ?? 0) > 1
          ? ` (rounds: ${r.ratios!.map((x) => x.toFixed(2)).join(", ")})`
          : ""
      }`,
    ms(percentile(lat, 0.5)),
    ms(percentile(lat, 0.99)),
    r.raw === null
      ? "-"
      : `${ms(percentile(r.raw.latencies, 0.5))} / ${ms(percentile(r.raw.latencies, 0.99))}`,
    r.perOp === null
      ? "-"
      : `${r.perOp.toFixed(1)}${r.rawPerOp === undefined ? "" : ` / ${r.rawPerOp.toFixed(1)}`}`,
    r.targets.map((t) => t.text).join("; ") || "-",
    r.targets.map((t) => (t.met === null ? "-" : t.met ? "yes" : "no")).join("; ") || "-",
  ];
  console.log(`| ${cells.join(" | ")} |`);
}
for (const n of notes) console.log(`- ${n}`);
