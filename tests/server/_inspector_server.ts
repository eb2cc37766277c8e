/**
 * The inspector as `statecraft serve` mounts it (the HTTP API of lib/server/app.ts plus
 * `inspectorRoutes`), on a real socket, over a runtime on virtual time: the example machines
 * and the test's own, with timers that fire only when a test moves the clock.
 *
 * @module
 */
import type { Machine } from "../../core.ts";
import type { Runtime } from "../../lib/runtime/runtime.ts";
import { createApp } from "../../lib/server/app.ts";
import { inspectorRoutes } from "../../lib/server/inspector.ts";
import { testRuntime, type VirtualTime } from "../../lib/testing/harness.ts";
import { door } from "../../examples/door.ts";
import { trafficLight } from "../../examples/traffic_light.ts";
import { vendingMachine } from "../../examples/vending_machine.ts";

/** Every event examples/door.ts knows, sorted. */
export const DOOR_EVENTS: readonly string[] = [
  "CLOSE",
  "DEADBOLT",
  "FORCE",
  "LOCK",
  "OPEN",
  "RELEASE_DEADBOLT",
  "RESET",
  "SILENCE",
  "UNLOCK",
];

/** A served inspector. */
export interface Served {
  /** The runtime behind it. */
  runtime: Runtime;
  /** Its clock: `advance` lets timers fire. */
  time: VirtualTime;
  /** The page's URL (`http://127.0.0.1:<port>/`). */
  url: string;
  close(): Promise<void>;
}

/** Serves the inspector over the examples (door, vending machine, traffic light) and `extra`. */
// deno-lint-ignore no-explicit-any
export async function serveInspector(extra: Machine<any, any>[] = []): Promise<Served> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_inspector_" });
  const time = await testRuntime({
    projectDir: dir,
    machines: [...extra, door, vendingMachine, trafficLight],
    log: () => {},
  });
  const runtime = time.runtime;
  const closing = new AbortController();
  const app = createApp(runtime, {
    signal: closing.signal,
    extend: (app) => inspectorRoutes(app, runtime),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const { port } = server.addr as Deno.NetAddr;
  return {
    runtime,
    time,
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      closing.abort();
      await server.shutdown();
      await time.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
