// Schedules and operator actions on three real `statecraft serve` processes sharing one store
// (a Deno KV file, or PostgreSQL: docs/cluster.md runs both in cluster mode), the way an
// operator drives them: over HTTP, to any node, and with the CLI beside them.
//
// Operator actions: a cancel, a fork and a redrive sent to a node that does not own the
// instance run on the owner (the journal entry names it, with `by`), and every node reports the
// result; a bulk cancel with a `where` clause, as a dry run then for real, gives the summary of
// exactly the instances the clause selects; `statecraft instance` run as another process on the
// store while the nodes run does what docs/operations.md says it does (reads and dry runs work,
// writes are refused with one line naming the way through a node; nothing changes).
//
// Schedules: a schedule added over HTTP on one node, every second, sending an event to one
// instance: each tick lands once in its journal (tick ids consecutive, none twice) across the
// three nodes; after a SIGKILL of the node firing it the ticks go on, still each once (the ones
// due while nobody owned the schedule caught up); pause, resume and rm over HTTP on other nodes
// than the one it was added on take effect on the node that fires it.
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { partitionOf } from "../../lib/cluster/partition.ts";
import type { JournalEntry } from "../../lib/persist/types.ts";
import { runDeno, STORE_FLAGS } from "../cli/_run_cli.ts";
import { backendTest, type TestBackend } from "../persist/_backends.ts";
import {
  type ClusterView,
  clusterView,
  postJson,
  request,
  ServeNode,
  sleep,
  until,
} from "./_nodes.ts";

const PROJECT = new URL("../fixtures/cluster/", import.meta.url).pathname.replace(/\/$/, "");
const MACHINES = "tests/fixtures/cluster/machines.ts";
const CONFIG = parseYaml(Deno.readTextFileSync(`${PROJECT}/statecraft.yaml`)) as {
  cluster: { leaseMs: number; renewMs: number };
};
/** A takeover after a SIGKILL: lease + one round, with room for a loaded 2-core machine. */
const TAKEOVER_MS = CONFIG.cluster.leaseMs + CONFIG.cluster.renewMs;
/** How long the test looks for ticks that must not come (a paused or removed schedule). */
const QUIET_MS = 1_600;
/** How long the owners must stay the same before the test relies on them. */
const STABLE_MS = 3 * CONFIG.cluster.renewMs;
/** Polling deadline for anything the nodes do on their own (generous: 2 shared cores). */
const DEADLINE_MS = 30_000;

type View = ClusterView;

/** The node that owns `key`'s partition, as a live node reports it. */
function ownerIn(view: View, key: string): string | null {
  const p = partitionOf(key, view.partitions);
  return view.partitionTable.find((row) => row.partition === p)?.owner ?? null;
}

/** The first id `<prefix><n>` whose partition `owner` owns. */
function idOwnedBy(view: View, owner: ServeNode, prefix: string): string {
  for (let i = 0; i < 10_000; i++) {
    if (ownerIn(view, `${prefix}${i}`) === owner.name) return `${prefix}${i}`;
  }
  throw new Error(`${owner.name} owns none of ${prefix}0..9999`);
}

/** The answer's body, after checking its status. */
function expectStatus<T>(r: { status: number; body: unknown }, status: number, what: string): T {
  assert.equal(r.status, status, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as T;
}

/** An instance's journal, read through `node`. */
async function journal(node: ServeNode, id: string): Promise<JournalEntry[]> {
  const r = await request(`${node.url}/instances/${id}/history?limit=10000`, {
    timeoutMs: 10_000,
  });
  return expectStatus<{ items: JournalEntry[] }>(r, 200, `history of ${id} on ${node.name}`)
    .items;
}

interface Info {
  id: string;
  status: string;
  configuration: string[];
  context: Record<string, unknown>;
  cancelled?: { by: string; reason: string };
}

async function info(node: ServeNode, id: string): Promise<Info> {
  return expectStatus<Info>(
    await request(`${node.url}/instances/${id}`),
    200,
    `${id} on ${node.name}`,
  );
}

/** `statecraft instance ...` as another process on the store at `store`. */
function instanceCli(store: string, args: string[]) {
  return runDeno(
    ["run", ...STORE_FLAGS, "cli.ts", "instance", ...args, "--kv", store, "--machines", MACHINES],
    undefined,
    { STATECRAFT_KEY: "" },
  );
}

/**
 * The cluster once its shares have settled: every partition owned by a live node, every live
 * node owning some, and no owner changed for `STABLE_MS` (more than two balance rounds), so
 * that the owners the test reads are the ones that will act.
 */
async function settled(nodes: ServeNode[]): Promise<View> {
  let last = "";
  let since = 0;
  return await until(
    async () => {
      const view = await clusterView(nodes);
      const live = new Set(nodes.filter((n) => n.live).map((n) => n.name));
      const owners = view.partitionTable.map((p) => p.owner);
      const allOwned = owners.every((o) => o !== null && live.has(o));
      const everyNode = [...live].every((name) => owners.includes(name));
      const table = JSON.stringify(owners);
      if (!allOwned || !everyNode || table !== last) {
        last = allOwned && everyNode ? table : "";
        since = Date.now();
        return undefined;
      }
      return Date.now() - since >= STABLE_MS ? view : undefined;
    },
    DEADLINE_MS,
    `every partition owned by a live node, every live node owning some, for ${STABLE_MS} ms`,
    100,
  );
}

async function operatorActions(nodes: ServeNode[], flagDir: string) {
  const [a, b, c] = nodes;
  const view = await settled(nodes);

  // Cancel: the instance is a's; created through b, cancelled through c.
  const x = idOwnedBy(view, a, "x");
  expectStatus(await postJson(`${b.url}/instances`, { machine: "tally", id: x }), 201, "create");
  expectStatus(await postJson(`${c.url}/instances/${x}/events`, { type: "ADD" }), 200, "ADD");
  const cancelled = expectStatus<Info>(
    await postJson(`${c.url}/instances/${x}/cancel`, { reason: "customer asked", by: "alice" }),
    200,
    `cancel ${x} through ${c.name}`,
  );
  assert.equal(cancelled.status, "cancelled");
  const cancelEntry = (await journal(b, x)).at(-1)!;
  assert.deepEqual(
    [cancelEntry.kind, cancelEntry.node, cancelEntry.by, cancelEntry.reason],
    ["cancel", a.name, "alice", "customer asked"],
    "the owner committed the cancel",
  );
  for (const n of nodes) {
    const seen = await info(n, x);
    assert.deepEqual(
      [seen.status, seen.cancelled?.by, seen.cancelled?.reason],
      ["cancelled", "alice", "customer asked"],
      `${x} as seen from ${n.name}`,
    );
  }
  const refused = await postJson(`${b.url}/instances/${x}/events`, { type: "ADD" });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.match(JSON.stringify(refused.body), /cancelled/);

  // Fork: the origin is a's, the fork's id b's; sent to c, run by b.
  const src = idOwnedBy(view, a, "src");
  expectStatus(await postJson(`${a.url}/instances`, { machine: "tally", id: src }), 201, "create");
  for (let i = 0; i < 3; i++) {
    expectStatus(await postJson(`${b.url}/instances/${src}/events`, { type: "ADD" }), 200, "ADD");
  }
  const forkId = idOwnedBy(view, b, `${src}-f`);
  const forked = expectStatus<Info & { seq: number }>(
    await postJson(`${c.url}/instances/${src}/fork`, { id: forkId, seq: 2, by: "carol" }),
    201,
    `fork ${src} through ${c.name}`,
  );
  assert.deepEqual([forked.id, forked.seq, forked.context], [forkId, 0, { n: 2 }]);
  const forkEntry = (await journal(a, forkId))[0];
  assert.deepEqual(
    [forkEntry.kind, forkEntry.node, forkEntry.by, forkEntry.origin],
    ["fork", b.name, "carol", { id: src, seq: 2 }],
    "the fork's owner committed it",
  );
  for (const n of nodes) {
    assert.deepEqual((await info(n, forkId)).context, { n: 2 }, `${forkId} on ${n.name}`);
    const forks = expectStatus<{ items: { id: string; seq: number; by: string }[] }>(
      await request(`${n.url}/instances/${src}/forks`),
      200,
      `forks of ${src} on ${n.name}`,
    );
    assert.deepEqual(forks.items.map((f) => [f.id, f.seq, f.by]), [[forkId, 2, "carol"]]);
  }
  const again = await postJson(`${a.url}/instances/${src}/fork`, { id: forkId });
  assert.equal(again.status, 409, `a fork onto an existing id: ${JSON.stringify(again.body)}`);

  // Redrive: the job is c's (its invocation runs there); it fails while the flag file is
  // missing; the file made, a redrive sent to a runs it again on c.
  const j = idOwnedBy(view, c, "job");
  const flag = `${flagDir}/${j}.ok`;
  expectStatus(
    await postJson(`${b.url}/instances`, { machine: "job", id: j, context: { flag } }),
    201,
    "create job",
  );
  await until(
    async () => (await info(a, j)).configuration[0] === "failed" ? true : undefined,
    DEADLINE_MS,
    `${j} failed (seen from ${a.name})`,
  );
  await Deno.writeTextFile(flag, "ok");
  const redriven = expectStatus<Info & { seq: number }>(
    await postJson(`${a.url}/instances/${j}/redrive`, { by: "dave" }),
    200,
    `redrive ${j} through ${a.name}`,
  );
  const redriveEntry = (await journal(b, j)).find((e) => e.seq === redriven.seq)!;
  assert.deepEqual(
    [redriveEntry.kind, redriveEntry.node, redriveEntry.by, redriveEntry.to, redriveEntry.retried],
    ["redrive", c.name, "dave", 0, 1],
    "the owner committed the redrive",
  );
  for (const n of nodes) {
    await until(
      async () => (await info(n, j)).status === "done" ? true : undefined,
      DEADLINE_MS,
      `${j} done after the redrive, seen from ${n.name}`,
    );
  }
  const retried = (await journal(c, j)).filter((e) => e.kind === "invoke");
  assert.deepEqual(
    retried.map((e) => e.node),
    [c.name, c.name],
    "the invocation's two results, both on the owner",
  );
  const nothing = await postJson(`${b.url}/instances/${j}/redrive`, {});
  assert.equal(nothing.status, 400, JSON.stringify(nothing.body));
  assert.match(JSON.stringify(nothing.body), /nothing to retry/);
}

/**
 * Orders on every node, totals on both sides of 100; the CLI beside the nodes, then a bulk
 * cancel over HTTP with a `where` clause.
 */
async function bulkAndCli(nodes: ServeNode[], store: string) {
  const [a, b, c] = nodes;
  const view = await settled(nodes);
  const totals: Record<string, number> = {};
  for (const [i, owner] of nodes.entries()) {
    totals[idOwnedBy(view, owner, `order-lo-${i}-`)] = 50 + i;
    totals[idOwnedBy(view, owner, `order-hi-${i}-`)] = 150 + i;
  }
  for (const [id, total] of Object.entries(totals)) {
    const via = nodes[id.length % 3];
    expectStatus(
      await postJson(`${via.url}/instances`, { machine: "order", id, context: { total } }),
      201,
      `create ${id}`,
    );
  }
  const high = Object.keys(totals).filter((id) => totals[id] >= 100).sort();
  const low = Object.keys(totals).filter((id) => totals[id] < 100).sort();

  // The CLI beside the running nodes: a bulk dry run with --where reads; a cancel joins the
  // cluster as a client while it runs, and the owner commits it.
  const cliDry = await instanceCli(store, [
    "cancel",
    "--machine",
    "order",
    "--where",
    "total<100",
    "--reason",
    "x",
    "--dry-run",
  ]);
  assert.equal(cliDry.code, 0, cliDry.stderr);
  assert.deepEqual(cliDry.stdout.trim().split("\n").sort(), low);
  assert.equal(
    cliDry.stderr,
    `dry run: ${low.length} instances would be cancelled; nothing changed\n`,
  );
  const cliCancel = await instanceCli(store, ["cancel", low[0], "--reason", "from the CLI"]);
  assert.equal(cliCancel.code, 0, cliCancel.stderr);
  assert.match(cliCancel.stdout, new RegExp(`^${low[0]}  cancelled `));
  const cliEntry = (await journal(a, low[0])).at(-1)!;
  assert.deepEqual(
    [cliEntry.kind, cliEntry.node, cliEntry.by, cliEntry.reason],
    ["cancel", ownerIn(view, low[0]), "cli", "from the CLI"],
    "cancelled by the owner, for the CLI",
  );
  for (const n of nodes) assert.equal((await info(n, low[0])).status, "cancelled", low[0]);
  // The CLI left the cluster when it ended.
  const members = await clusterView(nodes);
  assert.deepEqual(members.nodes.filter((n) => n.node.startsWith("cli-")), []);
  const stillActive = low.slice(1);

  // A bulk cancel over HTTP with a `where` clause: a dry run, then for real.
  const bulkCancel = {
    filter: { machine: "order", where: ["total>=100"] },
    reason: "promotion withdrawn",
    by: "erin",
  };
  type Summary = { action: string; dryRun: boolean; matched: string[]; done: string[] };
  const dry = expectStatus<Summary>(
    await postJson(`${b.url}/operations/cancel`, { ...bulkCancel, dryRun: true }),
    200,
    "bulk cancel, dry run",
  );
  assert.deepEqual(
    { ...dry, matched: [...dry.matched].sort() },
    { action: "cancel", dryRun: true, matched: high, done: [], failed: [] },
  );
  for (const id of high) assert.equal((await info(c, id)).status, "active", `${id} after dry run`);
  const real = expectStatus<Summary>(
    await postJson(`${b.url}/operations/cancel`, bulkCancel),
    200,
    "bulk cancel",
  );
  assert.deepEqual(
    { ...real, matched: [...real.matched].sort(), done: [...real.done].sort() },
    { action: "cancel", dryRun: false, matched: high, done: high, failed: [] },
  );
  for (const id of high) {
    const entry = (await journal(a, id)).at(-1)!;
    assert.deepEqual(
      [entry.kind, entry.node, entry.by, entry.reason],
      ["cancel", ownerIn(view, id), "erin", "promotion withdrawn"],
      `${id}: cancelled by its owner`,
    );
    for (const n of nodes) assert.equal((await info(n, id)).status, "cancelled", id);
  }
  for (const id of stillActive) assert.equal((await info(a, id)).status, "active", id);
}

/** The ticks of schedule `name` in `instance`'s journal: tick ms -> how many entries. */
async function ticksIn(
  node: ServeNode,
  instance: string,
  name: string,
): Promise<Map<number, number>> {
  const prefix = `sch:${name}:`;
  const ticks = new Map<number, number>();
  for (const e of await journal(node, instance)) {
    if (e.eventId?.startsWith(prefix)) {
      assert.equal(e.by, `schedule:${name}`, `who sent ${e.eventId}`);
      const tick = Number(e.eventId.slice(prefix.length));
      ticks.set(tick, (ticks.get(tick) ?? 0) + 1);
    }
  }
  return ticks;
}

/** Each tick once, one a second, none missing between the first and the last. */
function assertEachTickOnce(ticks: Map<number, number>, what: string): number[] {
  const sorted = [...ticks.keys()].sort((x, y) => x - y);
  const twice = [...ticks].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], `${what}: ticks journaled more than once`);
  const gaps = sorted.slice(1).filter((t, i) => t - sorted[i] !== 1000);
  assert.deepEqual(
    gaps.map((t) => new Date(t).toISOString()),
    [],
    `${what}: ticks missing before these (${sorted.map((t) => t % 100_000).join(" ")})`,
  );
  return sorted;
}

async function schedules(nodes: ServeNode[]) {
  const live = () => nodes.filter((n) => n.live);
  const anyLive = () => live()[0];
  const adder = nodes[1];
  await settled(nodes);
  const beat = "beat";
  expectStatus(
    await postJson(`${nodes[0].url}/instances`, { machine: "tally", id: beat }),
    201,
    "beat",
  );
  const added = expectStatus<{ name: string; paused: boolean }>(
    await postJson(`${adder.url}/schedules`, {
      name: "beat",
      cron: "* * * * * *",
      send: { instance: beat, event: "ADD" },
    }),
    201,
    `add the schedule on ${adder.name}`,
  );
  assert.equal(added.paused, false);

  // A window of several ticks on three nodes.
  await until(
    async () => (await ticksIn(anyLive(), beat, "beat")).size >= 3 ? true : undefined,
    DEADLINE_MS,
    "three ticks",
    200,
  );
  const current = await clusterView(nodes);
  const firer = nodes.find((n) => n.name === ownerIn(current, "schedule:beat"))!;
  const beforeKill = assertEachTickOnce(await ticksIn(anyLive(), beat, "beat"), "three nodes");
  console.log(
    `schedules: ${beforeKill.length} ticks on three nodes, fired by ${firer.name} ` +
      `(beat journaled by ${ownerIn(current, beat)}); SIGKILL ${firer.name}`,
  );

  // SIGKILL the node that fires it: the ticks go on, each once, the missed ones caught up.
  const killedAt = Date.now();
  firer.signal("SIGKILL");
  const after = killedAt + TAKEOVER_MS + 1_000;
  await until(
    async () => {
      const ticks = await ticksIn(anyLive(), beat, "beat");
      return [...ticks.keys()].filter((t) => t >= after).length >= 2 ? ticks : undefined;
    },
    DEADLINE_MS,
    "two ticks well after the takeover",
    200,
  );
  const afterKill = assertEachTickOnce(await ticksIn(anyLive(), beat, "beat"), "after SIGKILL");
  assert.ok(afterKill[0] === beforeKill[0], "the journal starts with the same first tick");
  const newView = await clusterView(nodes);
  const newFirer = ownerIn(newView, "schedule:beat");
  assert.ok(newFirer !== firer.name && live().some((n) => n.name === newFirer), newFirer ?? "");
  const record = expectStatus<{ fired: number; skipped: number; failed: number }>(
    await request(`${anyLive().url}/schedules/beat`),
    200,
    "the schedule",
  );
  assert.deepEqual([record.skipped, record.failed], [0, 0], JSON.stringify(record));
  console.log(
    `schedules: ${afterKill.length} ticks, each once; ${newFirer} fires it after the SIGKILL`,
  );

  // Pause, resume and rm, each through a node other than the one it was added on.
  const others = () => live().filter((n) => n !== adder);
  const pauser = others()[0];
  const resumer = others().at(-1)!;
  const paused = expectStatus<{ paused: boolean }>(
    await postJson(`${pauser.url}/schedules/beat/pause`, {}),
    200,
    `pause on ${pauser.name}`,
  );
  assert.equal(paused.paused, true);
  const pausedAt = Date.now();
  for (const n of live()) {
    const seen = await request(`${n.url}/schedules/beat`);
    assert.equal((seen.body as { paused: boolean }).paused, true, `paused, seen from ${n.name}`);
  }
  await sleep(QUIET_MS);
  const whilePaused = [...(await ticksIn(anyLive(), beat, "beat")).keys()].filter((t) =>
    t > pausedAt
  );
  assert.deepEqual(whilePaused, [], "no tick after the pause");

  const resumeAt = Date.now();
  const resumed = expectStatus<{ paused: boolean }>(
    await postJson(`${resumer.url}/schedules/beat/resume`, {}),
    200,
    `resume on ${resumer.name}`,
  );
  assert.equal(resumed.paused, false);
  const ticks = await until(
    async () => {
      const t = await ticksIn(anyLive(), beat, "beat");
      return [...t.keys()].some((k) => k > resumeAt) ? t : undefined;
    },
    DEADLINE_MS,
    "a tick after the resume",
    200,
  );
  assert.deepEqual(
    [...ticks.keys()].filter((t) => t > pausedAt && t <= resumeAt),
    [],
    "paused ticks never fire",
  );
  assert.ok([...ticks.values()].every((n) => n === 1), "each tick once");
  const counted = await until(
    async () => {
      const n = (await info(anyLive(), beat)).context.n as number;
      const t = await ticksIn(anyLive(), beat, "beat");
      return n === t.size ? n : undefined;
    },
    DEADLINE_MS,
    "beat's count equal to its ticks",
  );
  assert.ok(counted >= afterKill.length + 1, `${counted} ADDs`);

  const remover = others()[0];
  const removed = await request(`${remover.url}/schedules/beat`, { method: "DELETE" });
  assert.equal(removed.status, 204, JSON.stringify(removed.body));
  const removedAt = Date.now();
  for (const n of live()) {
    assert.equal((await request(`${n.url}/schedules/beat`)).status, 404, `gone on ${n.name}`);
  }
  await sleep(QUIET_MS);
  const afterRm = [...(await ticksIn(anyLive(), beat, "beat")).keys()].filter((t) => t > removedAt);
  assert.deepEqual(afterRm, [], "no tick after rm");
}

/**
 * Three `statecraft serve` nodes (n1, n2, n3) on a new store of `backend`, ready; `fn` runs with
 * them and a folder under /tmp; every node is SIGKILLed afterwards, whatever happened (their
 * last output printed on a failure).
 */
async function withNodes(
  backend: TestBackend,
  label: string,
  fn: (nodes: ServeNode[], store: string, dir: string) => Promise<void>,
): Promise<void> {
  const started = performance.now();
  const store = await backend.path();
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_serve_ops_" });
  const nodes = ["n1", "n2", "n3"].map((name) => new ServeNode(name, PROJECT, store));
  try {
    await Promise.all(nodes.map((n) => n.ready()));
    const up = performance.now();
    await fn(nodes, store, dir);
    console.log(
      `${label} (${backend.name}): nodes up after ${Math.round(up - started)} ms, the test ` +
        `${Math.round(performance.now() - up)} ms`,
    );
  } catch (e) {
    for (const n of nodes) console.error(`--- ${n.name} (${n.state}):\n${n.tail.join("\n")}`);
    throw e;
  } finally {
    await Promise.all(nodes.map((n) => n.dispose()));
    await Deno.remove(dir, { recursive: true });
  }
}

backendTest(
  "three serve nodes: cancel, fork and redrive through a node that does not own the instance",
  (backend) =>
    withNodes(backend, "operator actions", (nodes, _, dir) => operatorActions(nodes, dir)),
);

backendTest(
  "three serve nodes: the instance CLI beside them; a bulk cancel with where over HTTP",
  (backend) => withNodes(backend, "bulk and CLI", (nodes, store) => bulkAndCli(nodes, store)),
);

backendTest(
  "three serve nodes: a schedule fires each tick once, through a SIGKILL, pause, resume, rm",
  (backend) => withNodes(backend, "schedules", (nodes) => schedules(nodes)),
);
