/**
 * Entry module of a plugin subprocess (`isolation: process`): the same protocol as a Worker,
 * as JSON lines on stdin/stdout. Protocol lines start with an ASCII record separator (0x1e);
 * anything else the plugin prints is passed to the host as log output. console.* is routed to
 * the host's logger so that it cannot corrupt the protocol stream.
 *
 * @module
 */
import { runPlugin } from "./plugin_runtime.ts";
import type { HostMessage, PluginMessage } from "./protocol.ts";

const RS = "\x1e";
const encoder = new TextEncoder();

function writeAll(bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

function send(message: PluginMessage): void {
  writeAll(encoder.encode(RS + JSON.stringify(message) + "\n"));
}

for (const level of ["debug", "info", "warn", "error"] as const) {
  console[level] = (...args: unknown[]) =>
    send({
      t: "log",
      level,
      message: args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" "),
    });
}
console.log = console.info;

const receiver: { handler: ((message: HostMessage) => void) | null } = { handler: null };
runPlugin({ send, onMessage: (h) => (receiver.handler = h) });

const decoder = new TextDecoder();
let buffer = "";
for await (const chunk of Deno.stdin.readable) {
  buffer += decoder.decode(chunk, { stream: true });
  let nl: number;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    if (line === "") continue;
    receiver.handler?.(JSON.parse(line) as HostMessage);
  }
}
// The host closed stdin: it wants us gone.
Deno.exit(0);
