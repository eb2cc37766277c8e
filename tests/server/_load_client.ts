// The load test's client, a second process: creates the instances, then `clients` concurrent
// loops send ADD events with an Idempotency-Key each (every tenth key is sent twice, as a
// client retrying would), until `total` requests or the deadline. Prints a JSON summary.
//
// deno run --allow-net=127.0.0.1 tests/server/_load_client.ts <url> <instances> <total> <clients> <ms>
const [url, instancesArg, totalArg, clientsArg, msArg] = Deno.args;
const instances = Number(instancesArg), total = Number(totalArg);
const clients = Number(clientsArg), deadline = Date.now() + Number(msArg);

const statuses: Record<string, number> = {};
const acked: Record<string, string[]> = {};
const duplicates: string[] = [];
const errors: string[] = [];
const latencies: number[] = [];

function count(status: number): void {
  statuses[status] = (statuses[status] ?? 0) + 1;
}

async function request(path: string, body: unknown, key?: string): Promise<Response | null> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key !== undefined) headers["idempotency-key"] = key;
  try {
    return await fetch(`${url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  } catch (e) {
    errors.push(e instanceof Error ? e.message : String(e));
    return null;
  }
}

// Create the instances, `clients` at a time.
let next = 0;
await Promise.all(Array.from({ length: clients }, async () => {
  while (next < instances) {
    const i = next++;
    const res = await request("/instances", { machine: "tally", id: `load-${i}` });
    if (res === null) continue;
    count(res.status);
    await res.body?.cancel();
  }
}));

let sent = 0;
const started = performance.now();
await Promise.all(Array.from({ length: clients }, async () => {
  while (sent < total && Date.now() < deadline) {
    const i = sent++;
    const id = `load-${i % instances}`;
    const key = `k-${i}`;
    const times = i % 10 === 0 ? 2 : 1;
    for (let t = 0; t < times; t++) {
      const t0 = performance.now();
      const res = await request(`/instances/${id}/events`, { type: "ADD" }, key);
      if (res === null) continue;
      latencies.push(performance.now() - t0);
      count(res.status);
      if (res.status !== 200) {
        errors.push(`${res.status} ${await res.text()}`);
        continue;
      }
      const body = await res.json() as { duplicate: boolean };
      if (body.duplicate) duplicates.push(key);
      else (acked[id] ??= []).push(key);
    }
  }
}));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const requests = latencies.length;
console.log(JSON.stringify({
  statuses,
  acked,
  duplicates,
  errors: errors.slice(0, 20),
  errorCount: errors.length,
  sentKeys: sent,
  requests,
  seconds,
  perSecond: requests / seconds,
  p50: latencies[Math.floor(requests * 0.5)],
  p99: latencies[Math.floor(requests * 0.99)],
}));
