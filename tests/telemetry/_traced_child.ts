/**
 * The program the tracing tests run with OpenTelemetry on (or off): a runtime on the fixture
 * project (tests/fixtures/telemetry) served over HTTP. Prints `{"url": ...}` once listening;
 * stops when its stdin closes. With a node name, it joins the store's cluster as that node
 * (short leases, so that three nodes share the partitions quickly).
 *
 * Run: `deno run -A tests/telemetry/_traced_child.ts <kv location> [node]`
 *
 * @module
 */
import { Runtime } from "../../lib/runtime/runtime.ts";
import { serve } from "../../lib/server/serve.ts";

const node = Deno.args[1];
const dir = new URL("../fixtures/telemetry", import.meta.url).pathname;
const runtime = await Runtime.open({
  projectDir: dir,
  kv: Deno.args[0] ?? ":memory:",
  machines: ["machines.ts"],
  plugins: ["plugins"],
  log: (level, message) => console.error(`${level}: ${message}`),
  cluster: node === undefined ? undefined : { node, partitions: 6, leaseMs: 2000, renewMs: 200 },
});
const server = await serve(runtime, { port: 0, inspector: false });
console.log(JSON.stringify({ url: server.url }));
for await (const _ of Deno.stdin.readable) {
  // The parent closes stdin to stop.
}
await server.close();
await runtime.close();
