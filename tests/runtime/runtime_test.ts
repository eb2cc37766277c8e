// The runtime: configuration, script loading, and the wiring of machines, store and plugins.
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/runtime/config.ts";
import { loadScripts } from "../../lib/runtime/scripts.ts";
import { Runtime, type TransitionEvent } from "../../lib/runtime/runtime.ts";
import { waitFor } from "../_wait.ts";

const FIXTURES = new URL("../fixtures/runtime/", import.meta.url).pathname;

Deno.test("config: defaults, ${VAR} substitution, every problem with line and column", () => {
  const config = parseConfig(
    "kv: ${STORE:-/tmp/x.kv}\nplugins: [plugins, more]\nsigning:\n  unsigned: deny\n",
    "statecraft.yaml",
    () => undefined,
  );
  assert.equal(config.kv, "/tmp/x.kv");
  assert.deepEqual(config.plugins, ["plugins", "more"]);
  assert.equal(config.signing.unsigned, "deny");
  assert.deepEqual(config.machines, ["examples/*.ts", "examples/*.scxml"]);
  assert.equal(config.limits, undefined);
  const limited = parseConfig("limits:\n  maxCausalHops: 500\n", "statecraft.yaml");
  assert.equal(limited.limits?.maxCausalHops, 500);
  assert.throws(
    () => parseConfig("limits:\n  maxCausalHops: 0\n", "statecraft.yaml"),
    /statecraft\.yaml:2:18 limits\.maxCausalHops: /,
  );
  assert.throws(
    () =>
      parseConfig(
        "kvv: x\nserver:\n  port: high\nsigning:\n  unsigned: maybe\n",
        "statecraft.yaml",
      ),
    (e: unknown) => {
      const message = (e as Error).message;
      assert.match(message, /^invalid configuration \(3 problems\)/);
      assert.match(message, /statecraft\.yaml:1:1 kvv: unknown key; did you mean "kv"\?/);
      assert.match(message, /statecraft\.yaml:3:9 server\.port: /);
      assert.match(message, /statecraft\.yaml:5:13 signing\.unsigned: /);
      return true;
    },
  );
});

Deno.test("scripts: a load error names the file and line; a circular import prints the cycle", async () => {
  const result = await loadScripts([
    `${FIXTURES}cycle/a.ts`,
    new URL("../fixtures/cli_bad_definition.ts", import.meta.url).pathname,
    new URL("../../examples/door.ts", import.meta.url).pathname,
  ]);
  assert.deepEqual(result.machines.map((m) => m.machine.id), ["door"]);
  const [cycle, bad] = result.errors;
  assert.equal(cycle.message, "circular import: a.ts -> b.ts -> a.ts");
  assert.match(bad.file, /cli_bad_definition\.ts$/);
  assert.equal(typeof bad.line, "number");
  assert.match(bad.message, /unknown target "runing"/);
});

async function openRuntime(): Promise<{ rt: Runtime; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-runtime-" });
  const rt = await Runtime.open({
    projectDir: FIXTURES,
    kv: `${dir}/state.kv`,
    machines: ["machines.ts"],
    plugins: ["plugins"],
    log: () => {},
  });
  return { rt, dir };
}

Deno.test("runtime: durable instances; transitions reach the bus after the commit", async () => {
  const { rt, dir } = await openRuntime();
  try {
    assert.deepEqual([...rt.machines.keys()], ["caller"]);
    assert.deepEqual(rt.plugins.list().map((p) => [p.name, p.state]), [["recorder", "active"]]);
    const seen: TransitionEvent[] = [];
    rt.watch((t) => seen.push(t), "c1");
    await rt.spawn("caller", "c1");
    assert.deepEqual(await rt.acceptedEvents("c1"), ["ASK", "NOTIFY", "POKE"]);
    const ack = await rt.send("c1", "POKE");
    assert.deepEqual(ack.configuration, ["poked"]);
    await waitFor("both transitions on the bus", () => seen.length === 2);
    assert.deepEqual(seen.map((t) => [t.kind, t.event, t.from, t.to]), [
      ["create", "create", [], ["idle"]],
      ["event", "POKE", ["idle"], ["poked"]],
    ]);
    const undone = await rt.undo("c1");
    assert.deepEqual(undone.configuration, ["idle"]);
    await assert.rejects(rt.undo("c1"), /has no event to undo/, "undo follows the rollback back");
  } finally {
    await rt.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runtime: machines call plugins by send and by invoke; plugin emits reach instances", async () => {
  const { rt, dir } = await openRuntime();
  try {
    await rt.spawn("caller", "c2");
    await rt.send("c2", { type: "NOTIFY", text: "hello" });
    await waitFor(
      "the recorder's call",
      async () => ((await rt.call("recorder", "seen")) as unknown[]).length === 1,
    );
    assert.deepEqual(await rt.call("recorder", "seen"), [{ type: "note", text: "hello" }]);

    await rt.send("c2", "ASK");
    await waitFor("c2 idle", async () => (await rt.get("c2"))?.configuration[0] === "idle");
    assert.deepEqual((await rt.get("c2"))?.context, { result: { recorded: 2 } });
    const kinds = (await rt.history("c2")).map((e) => `${e.kind}:${e.event?.type ?? ""}`);
    assert.deepEqual(kinds, [
      "create:",
      "event:NOTIFY",
      "event:ASK",
      "invoke:done.invoke.asking:invoke0",
    ]);

    await rt.call("recorder", "poke", { instance: "c2" });
    await waitFor("c2 poked", async () => (await rt.get("c2"))?.configuration[0] === "poked");
    const last = (await rt.history("c2")).at(-1)!;
    assert.equal(last.by, "plugin:recorder");
  } finally {
    await rt.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runtime: reload moves instances to a changed definition only when compatible", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-reload-" });
  const lib = new URL("../../mod.ts", import.meta.url).href;
  const script = (body: string) =>
    `import { defineMachine } from "${lib}";\nexport const m = defineMachine(${body});\n`;
  try {
    await Deno.writeTextFile(
      `${dir}/m.ts`,
      script(
        `{ id: "m", version: 1, context: { n: 0 }, states: { a: { on: { INC: { actions: ({ context }) => context.n += 1 } } } } }`,
      ),
    );
    const rt = await Runtime.open({
      projectDir: dir,
      kv: `${dir}/s.kv`,
      machines: ["m.ts"],
      noPlugins: true,
      log: () => {},
    });
    try {
      await rt.spawn("m", "x");
      await rt.send("x", "INC");
      // Same shape, new code: instances move to it.
      await Deno.writeTextFile(
        `${dir}/m.ts`,
        script(
          `{ id: "m", version: 1, context: { n: 0 }, states: { a: { on: { INC: { actions: ({ context }) => context.n += 10 } } } } }`,
        ),
      );
      assert.deepEqual((await rt.reload()).map((o) => [o.machine, o.result]), [["m", "updated"]]);
      await rt.send("x", "INC");
      assert.deepEqual((await rt.get("x"))?.context, { n: 11 });
      // New shape, no migration: they keep the old definition, and the outcome says why.
      await Deno.writeTextFile(
        `${dir}/m.ts`,
        script(
          `{ id: "m", version: 2, context: { n: 0 }, states: { a: { on: { INC: "b" } }, b: {} } }`,
        ),
      );
      const [outcome] = await rt.reload();
      assert.equal(outcome.result, "kept");
      assert.match(
        outcome.reason ?? "",
        /changed \(version 1 -> 2\) and it declares no migration from 1/,
      );
      await rt.send("x", "INC");
      assert.deepEqual((await rt.get("x"))?.context, { n: 21 });
    } finally {
      await rt.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the published JSON Schema of statecraft.yaml is the one the runtime validates with", async () => {
  const { configJsonSchema } = await import("../../lib/runtime/config.ts");
  const published = JSON.parse(
    await Deno.readTextFile(new URL("../../schemas/statecraft.schema.json", import.meta.url)),
  );
  assert.deepEqual(published, configJsonSchema());
});
