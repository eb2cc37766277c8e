/**
 * The REPL session in-process over a Runtime (temp KV, no plugins): completion of commands,
 * machines, instances and accepted events; handles; rollback's default; load; `--watch`
 * hot reload.
 */
import assert from "node:assert/strict";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { ReplSession } from "../../lib/repl/session.ts";
import { completeLine } from "../../lib/repl/complete.ts";
import { watchScripts } from "../../lib/repl/hot_reload.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const MOD = new URL("../../mod.ts", import.meta.url).href;

interface Captured {
  session: ReplSession;
  lines: string[];
  errors: string[];
  close(): Promise<void>;
}

async function open(machines: string[], projectDir = ROOT): Promise<Captured> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_" });
  const runtime = await Runtime.open({
    projectDir,
    kv: `${dir}/state.kv`,
    machines,
    noPlugins: true,
    log: () => {},
  });
  const lines: string[] = [];
  const errors: string[] = [];
  const session = new ReplSession(runtime, {
    line: (t) => lines.push(t),
    error: (t) => errors.push(t),
  }, { timings: false, cwd: ROOT });
  return {
    session,
    lines,
    errors,
    close: async () => {
      await runtime.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("completion: commands, machines, instances, accepted events, handle members", async () => {
  const t = await open(["examples/door.ts"]);
  try {
    const { session } = t;
    assert.equal(await session.execute("spawn door front"), "ok");
    assert.deepEqual(await completeLine(session, "sp"), [["spawn "], "sp"]);
    assert.deepEqual(await completeLine(session, "spawn d"), [["door "], "d"]);
    assert.deepEqual(await completeLine(session, "send fr"), [["front "], "fr"]);
    // The events the instance accepts in its current configuration (guards ignored).
    assert.deepEqual(await completeLine(session, "send front "), [["LOCK", "OPEN"], ""]);
    assert.deepEqual(await completeLine(session, "send front O"), [["OPEN"], "O"]);
    await session.execute("send front OPEN");
    assert.deepEqual(await completeLine(session, "send front "), [["CLOSE"], ""]);
    assert.deepEqual(await completeLine(session, 'front.send("'), [["CLOSE"], ""]);
    assert.deepEqual(await completeLine(session, "front.sta"), [
      ["front.state", "front.status"],
      "front.sta",
    ]);
    await session.execute("checkpoint front open-door");
    assert.deepEqual(await completeLine(session, "rollback front o"), [["open-door"], "o"]);
    assert.deepEqual(await completeLine(session, "help wa"), [["watch"], "wa"]);
    assert.deepEqual(await completeLine(session, "diagram d"), [["door "], "d"]);
    assert.deepEqual(await completeLine(session, "diagram front --m"), [["--mermaid"], "--m"]);
    assert.deepEqual(await completeLine(session, "send nobody "), [[], ""]);
    assert.deepEqual(t.errors, []);
  } finally {
    await t.close();
  }
});

Deno.test("session: handles, rollback to the last checkpoint, errors do not end it", async () => {
  const t = await open(["examples/door.ts"]);
  try {
    const { session, lines, errors } = t;
    await session.execute("spawn door front");
    assert.equal(await session.execute("rollback front"), "failed");
    assert.match(errors.pop()!, /no checkpoint before seq 0; give a seq or a label/);
    await session.execute('await front.send("OPEN")');
    await session.execute("checkpoint front");
    await session.execute("send front CLOSE");
    await session.execute('await front.send("LOCK", { code: "0000" })');
    lines.length = 0;
    assert.equal(await session.execute("rollback front"), "ok");
    assert.deepEqual(lines, ["front rolled back to seq 1: secure.opened"]);
    assert.equal(await session.execute("front.matches('secure.opened')"), "ok");
    assert.equal(lines.at(-1), "true");
    assert.equal(await session.execute("front = 1"), "failed");
    assert.equal(await session.execute("history"), "failed");
    assert.equal(errors.at(-1), "error: usage: history <id>");
    assert.equal(await session.execute("state front extra"), "failed");
    assert.equal(await session.execute("exit"), "exit");
    assert.equal(session.failures, 4);
  } finally {
    await t.close();
  }
});

Deno.test("load and --watch: scripts added, updated on a code change, kept on a shape change", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_watch_" });
  const script = (label: string, extra: string) =>
    `import { defineMachine } from "${MOD}";\n` +
    `export const pump = defineMachine({ id: "pump", initial: "off", states: {\n` +
    `  off: { on: { ON: "on" }, entry: () => "${label}" }, on: { on: { OFF: "off" } },${extra}\n` +
    `} });\n`;
  await Deno.writeTextFile(`${dir}/pump.ts`, script("v1", ""));
  await Deno.writeTextFile(`${dir}/empty.ts`, "export const nothing = 1;\n");
  const t = await open([], dir);
  try {
    const { session, lines, errors } = t;
    assert.equal(await session.execute(`load ${dir}/empty.ts`), "failed");
    assert.match(errors.join("\n"), /empty\.ts: exports no machine/);
    assert.equal(await session.execute("load /nowhere/x.ts"), "failed");
    assert.equal(await session.execute(`load ${dir}/pump.ts`), "ok");
    assert.equal(lines.at(-1), "added pump (pump.ts)");
    await session.execute("spawn pump p1");
    const stop = watchScripts(session);
    try {
      const waitFor = async (re: RegExp) => {
        for (let i = 0; i < 100 && !lines.some((l) => re.test(l)); i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(lines.some((l) => re.test(l)), `no line matching ${re} in:\n${lines.join("\n")}`);
      };
      await new Promise((r) => setTimeout(r, 100));
      await Deno.writeTextFile(`${dir}/pump.ts`, script("v2", ""));
      await waitFor(/^reload: updated pump \(/);
      await Deno.writeTextFile(`${dir}/pump.ts`, script("v3", ` broken: {},`));
      await waitFor(/^reload: kept pump \(.*\): the states or transitions of "pump" changed/);
    } finally {
      stop();
    }
    assert.equal(await session.execute("send p1 ON"), "ok");
    assert.equal(lines.at(-1), "ON: off -> on");
  } finally {
    await t.close();
    await Deno.remove(dir, { recursive: true });
  }
});
