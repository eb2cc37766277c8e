/**
 * A worker plugin signals "its own" process, which is the host's: run in a process of its own
 * so that the test survives if the signal kills the host. Prints one line of JSON with what
 * the host saw, if it is still alive to print it.
 *
 * Run: `deno run --unstable-worker-options --allow-read tests/plugins/_kill_host_child.ts SIGKILL`
 *
 * @module
 */
import { assertServes, startPlugin } from "./_hosts.ts";

const signal = (Deno.args[0] ?? "SIGKILL") as Deno.Signal;
const good = await startPlugin("worker", "good");
const bad = await startPlugin("worker", "run-command", { limits: { callTimeoutMs: 1000 } });
let outcome: Record<string, unknown>;
try {
  outcome = { value: await bad.host.call("kill", { pid: "self", signal }) };
} catch (e) {
  outcome = { error: (e as Error).message };
}
let goodServes = "yes";
try {
  await assertServes(good);
} catch (e) {
  goodServes = String(e);
}
await bad.host.stop();
await good.host.stop();
console.log(JSON.stringify({ ...outcome, goodServes, survived: true }));
