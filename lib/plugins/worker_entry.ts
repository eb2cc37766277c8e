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
// A worker that calls Deno.exit() just ends: nothing tells the host. Say it first.
const exit = Deno.exit;
(Deno as { exit: (code?: number) => never }).exit = (code?: number): never => {
  scope.postMessage({ t: "exit", code: code ?? 0 });
  return exit(code);
};

runPlugin({
  send: (message) => scope.postMessage(message),
  onMessage: (handler) => {
    scope.onmessage = (e) => handler(e.data);
  },
});
