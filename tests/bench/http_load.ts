// HTTP benchmark: requests/s and latency of `POST /instances/:id/events` with durable commits,
// measured by wrk (a Lua script makes the POST bodies and a unique Idempotency-Key per request)
// on loopback against `serve()`. Afterwards the journal is checked: every 2xx is one entry.
//
//   apt-get install -y wrk
//   deno run --allow-read --allow-write=/tmp --allow-env --allow-net=127.0.0.1 --allow-run=wrk \
//     tests/bench/http_load.ts [--instances 1000] [--connections 50] [--threads 1] [--seconds 10]
//     [--key both|yes|no]   (with and/or without an Idempotency-Key per request)
//     [--cluster]           (the server runs as one node in cluster mode)
//     [--http-only]         (the store's send answers at once, nothing is written: the HTTP
//                            stack alone, Deno.serve, Hono, validation and metrics)
//
// Targets: issue #7, at least 10,000 events/s, p99 under 25 ms; issue #11, at least 15,000/s,
// p99 under 25 ms, with and without keys (`--seconds 8`). docs/performance.md has the figures
// and what limits them (the durable store, not the HTTP layer).
import { parseArgs } from "node:util";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { serve } from "../../lib/server/serve.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    instances: { type: "string", default: "1000" },
    connections: { type: "string", default: "50" },
    threads: { type: "string", default: "1" },
    seconds: { type: "string", default: "10" },
    key: { type: "string", default: "both" },
    cluster: { type: "boolean", default: false },
    "http-only": { type: "boolean", default: false },
  },
});
const INSTANCES = Number(values.instances);

const dir = await Deno.makeTempDir({ prefix: "statecraft-http-bench-" });
const rt = await Runtime.open({
  projectDir: new URL("../fixtures/server/", import.meta.url).pathname,
  kv: `${dir}/state.kv`,
  machines: ["machines.ts"],
  noPlugins: true,
  log: () => {},
  // --cluster: the node runs in cluster mode (one node owning every partition).
  cluster: values.cluster ? { node: "bench-1" } : undefined,
});
const server = await serve(rt, { port: 0, inspector: false });
for (let i = 0; i < INSTANCES; i += 100) {
  await Promise.all(
    Array.from({ length: Math.min(100, INSTANCES - i) }, (_, k) => rt.spawn("tally", `b-${i + k}`)),
  );
}

if (values["http-only"]) {
  // The same answer the store gives, at once, for the cost of the HTTP layer by itself.
  rt.store.send = (id) =>
    Promise.resolve({
      id,
      seq: 1,
      configuration: ["counting"],
      status: "active",
      duplicate: false,
    });
}

async function run(withKey: boolean): Promise<{ requests: number; non2xx: number }> {
  const script = `${dir}/events-${withKey}.lua`;
  await Deno.writeTextFile(
    script,
    `
local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
end
function init(args)
  counter = 0
  math.randomseed(tid * 7919)
end
function request()
  counter = counter + 1
  local path = "/instances/b-" .. math.random(0, ${INSTANCES - 1}) .. "/events"
  local headers = {}
  headers["Content-Type"] = "application/json"
  ${withKey ? `headers["Idempotency-Key"] = "w" .. tid .. "-" .. counter` : ""}
  return wrk.format("POST", path, headers, '{"type":"ADD"}')
end
`,
  );
  const args = [
    "-t",
    values.threads,
    "-c",
    values.connections,
    "-d",
    `${values.seconds}s`,
    "--latency",
    "-s",
    script,
    server.url,
  ];
  console.log(`wrk ${args.join(" ")}   (Idempotency-Key: ${withKey ? "yes" : "no"})`);
  const out = await new Deno.Command("wrk", { args, stdout: "piped", stderr: "inherit" }).output();
  const text = new TextDecoder().decode(out.stdout);
  console.log(text);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(text);
  const p99ms = p99 === null
    ? NaN
    : Number(p99[1]) * (p99[2] === "us" ? 0.001 : p99[2] === "s" ? 1000 : 1);
  summary.push(
    `POST /instances/:id/events (Idempotency-Key: ${withKey ? "yes" : "no "}, ` +
      `${values.connections} connections): ${rps.toFixed(0)} requests/s, ` +
      `p99 ${p99ms.toFixed(2)} ms, ${requests} requests, ${non2xx} non-2xx`,
  );
  return { requests, non2xx };
}

const summary: string[] = [];
let requests = 0, non2xx = 0;
for (const withKey of values.key === "both" ? [false, true] : [values.key === "yes"]) {
  const r = await run(withKey);
  requests += r.requests;
  non2xx += r.non2xx;
}

// Every acknowledged request is one journal entry (a connection cut at the end by wrk may
// leave a request applied but not counted: at most one per connection).
let journaled = 0;
for (let i = 0; i < INSTANCES; i++) journaled += (await rt.get(`b-${i}`))!.seq;
await server.close();
await rt.close();
await Deno.remove(dir, { recursive: true });

console.log(summary.join("\n"));
console.log(
  `${requests} requests, ${non2xx} non-2xx, ${journaled} journal entries; ` +
    `targets: 10,000 events/s (issue #7), 15,000/s with and without keys (issue #11), p99 < 25 ms`,
);
if (non2xx > 0 || (!values["http-only"] && journaled < requests - non2xx)) {
  console.error("the journal does not account for every acknowledged request");
  Deno.exit(1);
}
