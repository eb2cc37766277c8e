/**
 * The worker-mode infinite loop case, in its own process: a Web Worker in a busy loop cannot
 * be terminated and keeps its process alive, so the test runs this script, reads the one line
 * of JSON it prints, and kills it.
 *
 * Run: `deno run --unstable-worker-options --allow-read tests/plugins/_busy_worker_child.ts`
 *
 * @module
 */
import type { WorkerHost } from "../../lib/plugins/host.ts";
import { assertServes, rejection, startPlugin } from "./_hosts.ts";

/** The call timeout of the busy plugin. */
const TIMEOUT_MS = 300;

const good = await startPlugin("worker", "good");
const busy = await startPlugin("worker", "busy-loop", { limits: { callTimeoutMs: TIMEOUT_MS } });
const host = busy.host as WorkerHost;

const serves = async (): Promise<string> => {
  try {
    await assertServes(good);
    return "yes";
  } catch (e) {
    return String(e);
  }
};

const { error, ms } = await rejection(host.call("spin", null));
const observed: Record<string, unknown> = {
  timeoutMs: TIMEOUT_MS,
  error: { name: error.name, code: (error as { code?: string }).code, message: error.message },
  ms,
  stuck: host.stuck,
  alive: host.alive,
  exits: busy.exits,
  goodServes: await serves(),
};
// The stuck worker does not answer anything else either.
observed.pingAfter = await host.ping(200);
const next = await rejection(host.call("ok", null, 200));
observed.nextCall = { code: (next.error as { code?: string }).code, message: next.error.message };
// stop() cannot end the loop (Worker.terminate() does not), but the host lets it go.
await host.stop();
observed.aliveAfterStop = host.alive;
observed.goodServesAfterStop = await serves();
await good.host.stop();
console.log(JSON.stringify(observed));
