/**
 * Embedding Statecraft in your own program: open a `Runtime` on the project's defaults (the
 * machines in `examples/`, the plugins in `plugins/`), add a machine of your own, start durable
 * instances, send them events and read them back.
 *
 * The store is `:memory:` unless `STATECRAFT_KV` names a KV file (or a KV Connect URL): with a
 * file, every event below is committed to it before `send` resolves, and
 * `deno task statecraft kv history <id> --kv <file>` shows it afterwards.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-net=127.0.0.1:8787 examples/embed.ts
 * STATECRAFT_KV=/tmp/embed.kv deno run --allow-read --allow-write --allow-env --allow-net=127.0.0.1:8787 examples/embed.ts
 * ```
 *
 * (`--allow-net` for the bundled notifier plugin: a plugin never gets a permission its host
 * lacks.) In your own project (`statecraft init`), import from `@statecraft/statecraft` instead of
 * `../mod.ts`.
 *
 * @module
 */
import { defineMachine, Runtime } from "../mod.ts";

/** A coin-operated turnstile: a machine of the embedding program, not of a script. */
export const turnstile = defineMachine({
  id: "turnstile",
  initial: "locked",
  states: {
    locked: { on: { COIN: "unlocked" } },
    unlocked: { on: { PUSH: "locked" } },
  },
});

if (import.meta.main) {
  const runtime = await Runtime.open({
    kv: Deno.env.get("STATECRAFT_KV") ?? ":memory:",
    extraMachines: [turnstile],
  });
  try {
    // A machine of the program, and one the defaults loaded from examples/door.ts.
    const gate = await runtime.spawn("turnstile");
    await runtime.send(gate.id, "COIN");
    const pushed = await runtime.send(gate.id, "PUSH"); // resolves once durable
    console.log(`${gate.id}: ${pushed.configuration.join(", ")} (seq ${pushed.seq})`);

    const door = await runtime.spawn("door", `door-${Date.now().toString(36)}`);
    await runtime.send(door.id, "OPEN");
    await runtime.send(door.id, { type: "CLOSE" });
    await runtime.send(door.id, { type: "LOCK", code: "0000" }); // a payload the schema checks
    const info = await runtime.get(door.id);
    console.log(`${door.id}: ${info?.configuration.join(", ")} ${JSON.stringify(info?.context)}`);
    for (const entry of await runtime.history(door.id)) {
      const event = entry.event === undefined ? "" : ` ${entry.event.type}`;
      console.log(`  ${entry.seq} ${entry.kind}${event} -> ${entry.configuration.join(", ")}`);
    }
  } finally {
    await runtime.close();
  }
}
