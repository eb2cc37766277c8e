/**
 * A Runtime on an in-memory store with the machines given (no scripts, no plugins, no log):
 * what the hostile-input tests of the REPL and the HTTP API run against.
 *
 * @module
 */
import type { Machine } from "../lib/core/machine.ts";
import { Runtime } from "../lib/runtime/runtime.ts";

/** Opens the runtime; close it (`await using` does). */
export async function memoryRuntime(
  // deno-lint-ignore no-explicit-any
  machines: Machine<any, any>[],
): Promise<Runtime & AsyncDisposable> {
  const runtime = await Runtime.open({
    kv: ":memory:",
    machines: [],
    noPlugins: true,
    extraMachines: machines as Machine<Record<string, unknown>>[],
    log: () => {},
  });
  return Object.assign(runtime, { [Symbol.asyncDispose]: () => runtime.close() });
}
