/**
 * Entry module of a plugin Worker: the worker is created with the plugin's Deno permissions
 * (read access to its own folder, to load its code, plus what its manifest declares).
 *
 * @module
 */
import { runPlugin } from "./plugin_runtime.ts";
import type { HostMessage, PluginMessage } from "./protocol.ts";

const scope = self as unknown as {
  postMessage(message: PluginMessage): void;
  onmessage: ((e: MessageEvent<HostMessage>) => void) | null;
};
// A worker that calls Deno.exit() or self.close() just ends: nothing tells the host. Say it.
const exit = Deno.exit;
(Deno as { exit: (code?: number) => never }).exit = (code?: number): never => {
  scope.postMessage({ t: "exit", code: code ?? 0 });
  return exit(code);
};
const close = (self as unknown as { close(): void }).close.bind(self);
(self as unknown as { close(): void }).close = () => {
  scope.postMessage({ t: "exit", code: 0 });
  close();
};
// Inside a worker, Deno.pid is the host's, and a process may signal itself without the run
// permission: Deno.kill would let a plugin kill its host. Plugins in workers have no use for
// it; refuse it outright.
(Deno as { kill: unknown }).kill = () => {
  throw new Deno.errors.NotCapable("Deno.kill is not available to plugins in worker isolation");
};

runPlugin({
  send: (message) => scope.postMessage(message),
  onMessage: (handler) => {
    scope.onmessage = (e) => handler(e.data);
  },
});
