// Cluster mode, a network cut (issue #11): one of three `statecraft serve` nodes on one PostgreSQL
// runs in a network namespace of this test's own and reaches the database over a veth pair; the
// test takes that link down under load, then brings it back. Checked: within lease + one renewal
// (+ margin) every partition has a live owner among the two other nodes; the cut node answers
// (503 from /health, a 5xx to a send) within a bound instead of hanging; after the link is back it
// rejoins and takes a share again; and, as in chaos_test.ts, every acknowledged event is in its
// journal once at its acknowledged seq, seqs have no gaps, and the cut node committed nothing from
// its lease's end until the link came back (journal entries carry `node` and `time`).
//
// Runs as root where `ip netns` works (iproute2) and PostgreSQL's binaries are installed;
// elsewhere it is registered as ignored, with the reason printed. Traffic goes only to loopback
// and to the addresses of the veth pairs it makes (10.213.<n>.0/29); see tests/cluster/_netns.ts.
// NETNS_SEED=<n> repeats the load's random choices.
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import type { JournalEntry } from "../../lib/persist/types.ts";
import { NetNs, netnsUnavailable, NetPg, NsNode, type Target } from "./_netns.ts";
import { random, request, ServeNode, sleep, until } from "./_nodes.ts";

const PROJECT = new URL("../fixtures/cluster/", import.meta.url).pathname.replace(/\/$/, "");
const { cluster: CLUSTER } = parseYaml(Deno.readTextFileSync(`${PROJECT}/statecraft.yaml`)) as {
  cluster: { leaseMs: number; renewMs: number; partitions: number };
};
const LEASE_MS = CLUSTER.leaseMs;
const RENEW_MS = CLUSTER.renewMs;
/** Beyond lease + renewal: the takeover round's writes, polling, a busy 2-core machine. */
const MARGIN_MS = 1500;
const TAKEOVER_BOUND_MS = LEASE_MS + RENEW_MS + MARGIN_MS;
/** How long an answer of the cut node may take (`/health` waits 2 s for the store). */
const CUT_ANSWER_BOUND_MS = 6000;
/** The link stays down this long: well past the cut node's leases. */
const CUT_MS = LEASE_MS + RENEW_MS + 3000;
const LOAD_MS = 3000;
const WORKERS = 5;
const REQUEST_TIMEOUT_MS = 4000;
const OP_DEADLINE_MS = 40_000;
const SEED = Number(Deno.env.get("NETNS_SEED") ?? Math.floor(Math.random() * 2 ** 31));
/**
 * The namespaced node's store parameters: it gives up on an unreachable server after 1.5 s, a
 * connection attempt after 0.8 s, and a query left without reply (its connection cut while the
 * query was in flight) after 3 s, instead of the defaults' 10 s, 5 s and 30 s.
 */
const CUT_NODE_PARAMS = "&retryMs=1500&connectTimeoutMs=800&queryTimeoutMs=3000";

const WHY_NOT = netnsUnavailable();
if (WHY_NOT !== null) console.log(`netns test ignored: ${WHY_NOT}`);

type Res = { status: number; body: unknown };

/** POST with the target's headers (its bearer token), bounded. */
function post(
  node: Target,
  path: string,
  body: unknown,
  key?: string,
  timeoutMs = REQUEST_TIMEOUT_MS,
) {
  return request(`${node.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...node.headers,
      ...(key === undefined ? {} : { "idempotency-key": key }),
    },
    body: JSON.stringify(body),
    timeoutMs,
  });
}

/**
 * Closed-loop load on `tally` instances: creates (with an Idempotency-Key) and ADDs with unique
 * keys, each to a random node and retried with the same key on another one after no answer or a
 * 5xx; a few acknowledged keys are sent again and must come back as duplicates of the first seq.
 */
class Load {
  readonly instances: string[] = [];
  readonly tried = new Set<string>();
  /** key -> instance, of every ADD tried. */
  readonly sent = new Map<string, string>();
  readonly acks = new Map<string, { instance: string; seq: number; node: string }>();
  readonly wrong: string[] = [];
  requests = 0;
  retries = 0;
  duplicates = 0;
  #stopped = false;
  #aborted = false;
  #n = 0;
  readonly #rng = random(SEED);

  constructor(readonly nodes: () => Target[]) {}

  run(): Promise<void> {
    const loop = async () => {
      while (!this.#stopped) {
        const r = this.#rng.next();
        if (this.instances.length < 3 || r < 0.1) await this.#create();
        else if (r < 0.14) await this.#again();
        else await this.#add(this.#rng.pick(this.instances), `add-${SEED}-${++this.#n}`);
      }
    };
    return Promise.all(Array.from({ length: WORKERS }, loop)).then(() => {});
  }

  stop(aborting = false): void {
    this.#stopped = true;
    this.#aborted ||= aborting;
  }

  async #create(): Promise<void> {
    const id = `tally-${SEED}-${++this.#n}`;
    this.tried.add(id);
    const ok = await this.#until(
      `create ${id}`,
      "/instances",
      { machine: "tally", id },
      `mk-${id}`,
    );
    if (ok !== null) this.instances.push(id);
  }

  async #add(instance: string, key: string): Promise<void> {
    this.sent.set(key, instance);
    const ok = await this.#until(
      `ADD ${key}`,
      `/instances/${instance}/events`,
      { type: "ADD" },
      key,
    );
    if (ok === null) return;
    const { seq } = ok.res.body as { seq: number };
    const before = this.acks.get(key);
    if (before !== undefined && before.seq !== seq) {
      this.wrong.push(`${key}: seq ${before.seq}, then ${seq}`);
    }
    this.acks.set(key, { instance, seq, node: ok.node.name });
  }

  async #again(): Promise<void> {
    const key = this.#rng.pick([...this.acks.keys()]);
    if (key === undefined) return;
    const first = this.acks.get(key)!;
    const ok = await this.#until(`again ${key}`, `/instances/${first.instance}/events`, {
      type: "ADD",
    }, key);
    if (ok === null) return;
    const { seq, duplicate } = ok.res.body as { seq: number; duplicate?: boolean };
    if (duplicate !== true || seq !== first.seq) {
      this.wrong.push(
        `${key} again on ${ok.node.name}: seq ${seq} duplicate ${duplicate}, first ${first.seq}`,
      );
    }
    this.duplicates++;
  }

  /** One operation until a 2xx (null: a wrong answer, recorded, or no answer before the deadline). */
  async #until(what: string, path: string, body: unknown, key: string) {
    const deadline = Date.now() + OP_DEADLINE_MS;
    let previous: Target | undefined;
    let why = "";
    for (let attempt = 0; !this.#aborted; attempt++) {
      if (Date.now() > deadline) {
        this.wrong.push(`${what}: no acknowledgement within ${OP_DEADLINE_MS} ms (${why})`);
        return null;
      }
      if (attempt > 0) {
        this.retries++;
        await sleep(this.#rng.int(20, Math.min(400, 25 * 2 ** attempt)));
      }
      const choice = this.nodes().filter((n) => n !== previous && n.state !== "starting");
      const node = previous = this.#rng.pick(choice);
      this.requests++;
      let res: Res;
      try {
        res = await post(node, path, body, key);
      } catch (e) {
        why = `${node.name}: ${e instanceof Error ? e.name : e}`;
        continue;
      }
      if (res.status >= 500) {
        why = `${node.name}: ${res.status}`;
        continue;
      }
      if (res.status === 200 || res.status === 201) return { res, node };
      this.wrong.push(`${what} on ${node.name}: ${res.status} ${JSON.stringify(res.body)}`);
      return null;
    }
    return null;
  }
}

interface Status {
  partitions: number;
  partitionTable: { partition: number; owner: string | null; epoch: number; expiresAt: number }[];
  stats: Record<string, number>;
}

/**
 * Milliseconds from `since` (Date.now()) until `via` reports every partition leased (not
 * expired) to one of `owners`, each of `mustOwn` owning at least one.
 */
async function ownedBy(
  label: string,
  via: Target,
  owners: string[],
  mustOwn: string[],
  since: number,
  deadlineMs: number,
): Promise<number> {
  let seen = "";
  await until(
    async () => {
      const r = await request(`${via.url}/cluster`, { timeoutMs: 2000 });
      if (r.status !== 200) throw new Error(`${via.name}: ${r.status} ${JSON.stringify(r.body)}`);
      const now = Date.now();
      const table = (r.body as Status).partitionTable;
      const bad = table.filter((p) =>
        p.owner === null || !owners.includes(p.owner) || p.expiresAt <= now
      );
      const count = (n: string) => table.filter((p) => p.owner === n).length;
      seen =
        `${bad.length} partitions without a live owner (${JSON.stringify(bad.slice(0, 2))}); ` +
        `owned: ${mustOwn.map((n) => `${n} ${count(n)}`).join(", ")}`;
      return bad.length === 0 && mustOwn.every((n) => count(n) > 0) ? true : undefined;
    },
    deadlineMs,
    label,
    50,
  ).catch((e) => {
    throw new Error(`${e.message}; last seen: ${seen}`);
  });
  return Date.now() - since;
}

Deno.test({
  name: "cluster network cut (ip netns): the others take over, the cut node fails fast, rejoins",
  ignore: WHY_NOT !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const began = performance.now();
  console.log(
    `netns: seed ${SEED} (NETNS_SEED=${SEED}), lease ${LEASE_MS} ms, renew ${RENEW_MS} ms`,
  );
  let ns: NetNs | null = null;
  let pg: NetPg | null = null;
  const roots: ServeNode[] = [];
  let cut: NsNode | null = null;
  const nodes = (): Target[] => cut === null ? roots : [...roots, cut];
  const load = new Load(nodes);
  let loading: Promise<void> | null = null;
  try {
    ns = await NetNs.create();
    pg = await NetPg.start(ns.dbHost, `${ns.dbNs}/32`);
    const schema = `netns_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`;
    console.log(`netns: namespace ${ns.name}, database ${ns.dbHost}:${pg.port} (and 127.0.0.1)`);
    roots.push(new ServeNode("n1", PROJECT, pg.url("127.0.0.1", schema)));
    await roots[0].ready(); // the first creates the schema and the cluster's partitions
    roots.push(new ServeNode("n2", PROJECT, pg.url("127.0.0.1", schema)));
    cut = new NsNode("n3", ns, PROJECT, pg.url(ns.dbHost, schema, CUT_NODE_PARAMS));
    await Promise.all([roots[1].ready(), cut.ready()]);
    const all = ["n1", "n2", "n3"];
    const startMs = await ownedBy("start", roots[0], all, all, Date.now(), 20_000);
    console.log(`netns: three nodes, each with a share, after ${startMs} ms`);
    loading = load.run();
    await sleep(LOAD_MS);

    // --- the cut ----------------------------------------------------------------------------
    const n3 = cut;
    const acksBefore = load.acks.size;
    await ns.cut();
    const cutAt = Date.now();
    n3.state = "cut";
    const takeover = ownedBy(
      "takeover after the cut",
      roots[0],
      ["n1", "n2"],
      ["n1", "n2"],
      cutAt,
      TAKEOVER_BOUND_MS + 3000,
    );
    // The cut node's store is unreachable: /health says so (503), within a bound, not hanging.
    let healthAnswers = 0;
    const health = until(
      async () => {
        const t = Date.now();
        const r = await request(`${n3.url}/health`, { timeoutMs: CUT_ANSWER_BOUND_MS + 4000 });
        const took = Date.now() - t;
        healthAnswers++;
        assert.ok(took <= CUT_ANSWER_BOUND_MS, `/health of the cut node took ${took} ms`);
        return r.status === 503 ? { took, after: Date.now() - cutAt, body: r.body } : undefined;
      },
      15_000,
      "the cut node's /health answers 503",
      100,
    );
    const takeoverMs = await takeover;
    const h = await health;
    console.log(
      `netns: cut: every partition owned by n1/n2 after ${takeoverMs} ms (bound ${TAKEOVER_BOUND_MS}); ` +
        `n3 /health 503 after ${h.after} ms (that answer took ${h.took} ms, ${healthAnswers} polled): ` +
        JSON.stringify((h.body as { store?: string }).store).slice(0, 160),
    );
    // A send to the cut node, past its leases: a 5xx within the bound (the load retries such
    // sends elsewhere). Its key is registered: an ambiguous write may still land after the link
    // is back, and then counts as a send to that instance.
    await sleep(Math.max(0, cutAt + LEASE_MS + RENEW_MS - Date.now()));
    const probeKey = `probe-${SEED}`;
    const probeOn = load.instances[0];
    load.sent.set(probeKey, probeOn);
    const t = Date.now();
    const probe = await post(
      n3,
      `/instances/${probeOn}/events`,
      { type: "ADD" },
      probeKey,
      CUT_ANSWER_BOUND_MS + 10_000,
    )
      .catch((e) => ({ status: 0, body: `${e}` }));
    const probeMs = Date.now() - t;
    console.log(
      `netns: cut: a send to n3 answered ${probe.status} after ${probeMs} ms: ${
        JSON.stringify(probe.body).slice(0, 200)
      }`,
    );
    assert.ok(
      probe.status === 503,
      `a send to the cut node: ${probe.status} ${JSON.stringify(probe.body)}`,
    );
    assert.ok(probeMs <= CUT_ANSWER_BOUND_MS, `a send to the cut node took ${probeMs} ms`);
    const acksDuringCut = load.acks.size;
    await sleep(Math.max(0, cutAt + CUT_MS - Date.now()));
    const restoreAt = Date.now();
    await ns.restore();
    n3.state = "running";
    console.log(
      `netns: link down ${restoreAt - cutAt} ms; ${
        acksDuringCut - acksBefore
      } events acknowledged before the probe`,
    );
    const rejoinMs = await ownedBy(
      "rejoin after the link is back",
      roots[0],
      all,
      all,
      restoreAt,
      20_000,
    );
    await until(
      async () =>
        (await request(`${n3.url}/health`, { timeoutMs: 3000 })).status === 200 ? true : undefined,
      10_000,
      "n3 healthy again",
    );
    console.log(`netns: restored: n3 back with a share after ${rejoinMs} ms`);
    await sleep(LOAD_MS);
    load.stop();
    await loading;
    loading = null;

    // --- the checks -------------------------------------------------------------------------
    const problems = [...load.wrong];
    const journals = new Map<string, JournalEntry[]>();
    for (const [i, id] of load.instances.entries()) {
      const r = await request(`${roots[i % 2].url}/instances/${id}/history?limit=10000`, {
        timeoutMs: 10_000,
      });
      assert.equal(r.status, 200, `${id}: ${JSON.stringify(r.body)}`);
      journals.set(id, (r.body as { items: JournalEntry[] }).items);
    }
    const byNode = new Map<string, number>();
    let n3After = 0;
    for (const [id, journal] of journals) {
      if (journal[0]?.kind !== "create") {
        problems.push(`${id}: the journal does not start with its create`);
      }
      const at = new Map<string, number>();
      for (const [i, e] of journal.entries()) {
        if (e.seq !== i) problems.push(`${id}: seq ${e.seq} at position ${i}`);
        if (e.node === undefined || !all.includes(e.node)) {
          problems.push(`${id}: seq ${e.seq} by ${e.node}`);
        }
        byNode.set(`${e.node}`, (byNode.get(`${e.node}`) ?? 0) + 1);
        if (e.node === "n3" && e.time > cutAt + LEASE_MS && e.time < restoreAt) {
          problems.push(`${id}: seq ${e.seq} committed by n3 at ${e.time}, cut off since ${cutAt}`);
        }
        if (e.node === "n3" && e.time >= restoreAt) n3After++;
        if (e.eventId === undefined) continue;
        if (at.has(e.eventId)) {
          problems.push(`${id}: ${e.eventId} at seqs ${at.get(e.eventId)} and ${e.seq}`);
        }
        at.set(e.eventId, e.seq);
        if (e.kind === "event" && load.sent.get(e.eventId) !== id) {
          problems.push(`${id}: ${e.eventId} was not sent to it`);
        }
      }
    }
    for (const [key, ack] of load.acks) {
      const got = journals.get(ack.instance)?.[ack.seq];
      if (got?.eventId !== key) {
        problems.push(
          `${key}: acknowledged by ${ack.node} at ${ack.instance} seq ${ack.seq}, found ${got?.eventId}`,
        );
      }
    }
    const listed = new Set<string>();
    for (let cursor: string | undefined, page = 0; page === 0 || cursor !== undefined; page++) {
      const q = cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`;
      const r = await request(`${roots[0].url}/instances?limit=1000${q}`, { timeoutMs: 10_000 });
      const body = r.body as { items: { id: string }[]; cursor?: string };
      for (const i of body.items) listed.add(i.id);
      cursor = body.cursor;
    }
    for (const id of load.instances) {
      if (!listed.has(id)) problems.push(`${id}: created, not listed`);
    }
    for (const id of listed) if (!load.tried.has(id)) problems.push(`${id}: listed, never created`);
    assert.deepEqual(problems.slice(0, 40), [], `${problems.length} problems (seed ${SEED})`);
    assert.ok(n3After > 0, "n3 committed again after the link came back");

    const stats = await request(`${n3.url}/cluster`, { timeoutMs: 5000 });
    console.log(
      `netns: load: ${load.instances.length} instances, ${load.acks.size} events acknowledged, ` +
        `${load.duplicates} duplicates answered, ${load.requests} requests, ${load.retries} retries; ` +
        `commits by node ${JSON.stringify(Object.fromEntries([...byNode].sort()))}, n3 after the ` +
        `link came back ${n3After}; n3 stats ${JSON.stringify((stats.body as Status).stats)}`,
    );
    console.log(`netns: whole test ${Math.round((performance.now() - began) / 1000)} s`);
    assert.ok(
      takeoverMs <= TAKEOVER_BOUND_MS,
      `takeover ${takeoverMs} ms > ${TAKEOVER_BOUND_MS} ms (seed ${SEED})`,
    );
  } catch (e) {
    for (const n of [...roots, ...(cut === null ? [] : [cut])]) {
      console.log(`--- ${n.name} (${n.state}), last lines:\n${n.tail.slice(-20).join("\n")}`);
    }
    throw e;
  } finally {
    load.stop(true);
    await Promise.all([...roots, ...(cut === null ? [] : [cut])].map((n) => n.dispose()));
    if (loading !== null) await loading.catch(() => {});
    pg?.teardownSync();
    ns?.teardownSync();
  }
});
