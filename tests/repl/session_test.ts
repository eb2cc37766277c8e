/**
 * The REPL session in-process over a Runtime (temp KV, no plugins): completion of commands,
 * machines, instances and accepted events; handles; rollback's default; load; `--watch`
 * hot reload.
 */
import assert from "node:assert/strict";
import { completeLine } from "../../lib/repl/complete.ts";
import { watchScripts } from "../../lib/repl/hot_reload.ts";
import { openSession as open } from "./_session.ts";
import { waitFor } from "../_wait.ts";

const MOD = new URL("../../mod.ts", import.meta.url).href;

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
  const t = await open([], { projectDir: dir });
  try {
    const { session, lines, errors } = t;
    assert.equal(await session.execute(`load ${dir}/empty.ts`), "failed");
    assert.match(errors.join("\n"), /empty\.ts: exports no machine/);
    assert.equal(await session.execute("load /nowhere/x.ts"), "failed");
    assert.equal(await session.execute(`load ${dir}/pump.ts`), "ok");
    assert.equal(lines.at(-1), "added pump (pump.ts)");
    await session.execute("spawn pump p1");
    // Deno.watchFs watches from the moment it returns: a write right after is seen.
    const stop = watchScripts(session);
    const printed = (re: RegExp) =>
      waitFor(`a line matching ${re}`, () => {
        if (lines.some((l) => re.test(l))) return true;
        throw new Error(`printed so far:\n${lines.join("\n")}`);
      }, { retryErrors: true });
    try {
      await Deno.writeTextFile(`${dir}/pump.ts`, script("v2", ""));
      await printed(/^reload: updated pump \(/);
      await Deno.writeTextFile(`${dir}/pump.ts`, script("v3", ` broken: {},`));
      await printed(/^reload: kept pump \(.*\): the states or transitions of "pump" changed/);
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
