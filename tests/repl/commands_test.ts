/**
 * REPL commands as a user types them: `undo` names the event it undid (after rollbacks too),
 * arguments that cannot be meant are refused with a clear error, syntax errors point at what
 * was typed, `plugins` lists each plugin once, `reload` picks up plugin folders.
 */
import assert from "node:assert/strict";
import { openSession } from "./_session.ts";

Deno.test("undo names the event it undid, after a rollback and when stepping back twice", async () => {
  const t = await openSession(["examples/door.ts"]);
  try {
    const { session, lines, errors } = t;
    await session.execute("spawn door u");
    for (const e of ["OPEN", "CLOSE", "OPEN"]) await session.execute(`send u ${e}`);
    // seq 1 OPEN, 2 CLOSE, 3 OPEN; the rollback (seq 4) restores the state after seq 1.
    await session.execute("rollback u 1");
    lines.length = 0;
    assert.equal(await session.execute("undo u"), "ok");
    assert.deepEqual(lines, ["undid OPEN (seq 1): u is in secure.closed"]);

    await session.execute("send u OPEN"); // seq 6
    await session.execute("send u CLOSE"); // seq 7
    lines.length = 0;
    await session.execute("undo u");
    await session.execute("undo u");
    assert.deepEqual(lines, [
      "undid CLOSE (seq 7): u is in secure.opened",
      "undid OPEN (seq 6): u is in secure.closed",
    ]);
    assert.deepEqual(errors, []);
  } finally {
    await t.close();
  }
});

Deno.test("spawn, send and call refuse arguments that are not what they need", async () => {
  const t = await openSession(["examples/door.ts"]);
  try {
    const { session, lines, errors } = t;
    const refused = async (line: string, message: RegExp) => {
      assert.equal(await session.execute(line), "failed", line);
      assert.match(errors.at(-1) ?? "", message, line);
    };
    await refused("spawn door ctx1 [1,2]", /the context must be a JSON object .*, not an array/);
    await refused('spawn door a "str"', /the context must be a JSON object .*, not a string/);
    await refused("spawn door b 42", /not a number/);
    await refused("spawn door c null", /not null/);
    await refused("spawn door d {code:1}", /the context is not JSON/);
    await refused('spawn door e \'{"code":"1"}\'', /no quotes around JSON/);
    await refused(
      "ls extra",
      /usage: ls \[--machine <id>\] \[--where <clause>\]\.\.\. \[--sort <by\[:asc\|:desc\]>\] \(unexpected "extra"\)/,
    );
    await refused("plugins all", /usage: plugins/);
    await refused("reload now", /usage: reload/);
    for (const id of ["ctx1", "a", "b", "c", "d", "e"]) {
      assert.equal(await session.execute(`state ${id}`), "failed", id);
    }
    await session.execute("spawn door front");
    await refused("send front LOCK [1]", /the payload must be a JSON object .*, not an array/);
    await refused('send front LOCK "0000"', /not a string/);

    // A context that is an object still works, with an id or without one.
    lines.length = 0;
    assert.equal(await session.execute('spawn door f {"failedAttempts":2}'), "ok");
    assert.equal(await session.execute("f.context.failedAttempts"), "ok");
    assert.equal(lines.at(-1), "2");
    assert.equal(await session.execute('spawn door {"failedAttempts":3}'), "ok");
    const id = /^(\S+) \(door\)/.exec(lines.at(-1) ?? "")?.[1];
    assert.ok(id !== undefined && !id.startsWith("{"), lines.at(-1) ?? "");
    const context = (await session.runtime.get(id))?.context as Record<string, unknown>;
    assert.equal(context.failedAttempts, 3);
  } finally {
    await t.close();
  }
});

Deno.test("a code line's syntax error names what was typed, with its column", async () => {
  const t = await openSession([]);
  try {
    const { session, errors } = t;
    assert.equal(await session.execute("1 +"), "failed");
    assert.equal(
      errors.at(-1),
      "error: SyntaxError: Expression expected at column 4\n  1 +\n     ^",
    );
    assert.equal(await session.execute("a b"), "failed");
    assert.match(errors.at(-1)!, /at column 3/);
    assert.doesNotMatch(errors.join("\n"), /Unexpected token '[})]'/);
  } finally {
    await t.close();
  }
});

const PLUGIN = new URL("../../lib/plugins/sdk.ts", import.meta.url).href;

async function writePlugin(
  root: string,
  name: string,
  body: string,
  requires: Record<string, string> = {},
): Promise<void> {
  await Deno.mkdir(`${root}/${name}`, { recursive: true });
  const needs = Object.entries(requires).map(([k, v]) => `  ${k}: "${v}"\n`).join("");
  await Deno.writeTextFile(
    `${root}/${name}/plugin.yaml`,
    `name: ${name}\nversion: 1.0.0\nisolation: worker\nprovides: [hello]\n` +
      (needs === "" ? "" : `requires:\n${needs}`),
  );
  await Deno.writeTextFile(
    `${root}/${name}/mod.ts`,
    `import { definePlugin } from "${PLUGIN}";\nexport default definePlugin(${body});\n`,
  );
}

Deno.test("plugins lists a failed plugin once; reload adds, reloads and removes plugin folders", async () => {
  const root = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_plugins_" });
  await writePlugin(
    root,
    "broken",
    `{ actions: { hello: () => 1 }, onLoad: () => { throw new Error("no config") } }`,
  );
  await writePlugin(root, "hi", `{ actions: { hello: () => "v1" } }`);
  const t = await openSession([], { plugins: [root] });
  try {
    const { session, lines, errors } = t;
    lines.length = 0;
    await session.execute("plugins");
    assert.equal(lines.filter((l) => l.startsWith("broken ")).length, 1, lines.join("\n"));
    assert.match(lines.find((l) => l.startsWith("broken "))!, /failed .*no config/);

    lines.length = 0;
    assert.equal(await session.execute("reload"), "ok");
    assert.deepEqual(lines, ["no changes"], "an unchanged failure is not news");

    await writePlugin(root, "added", `{ actions: { hello: () => "new" } }`);
    await writePlugin(root, "hi", `{ actions: { hello: () => "v2" } }`);
    await writePlugin(root, "broken", `{ actions: { hello: () => "fixed" } }`);
    lines.length = 0;
    assert.equal(await session.execute("reload"), "ok", errors.join("\n"));
    assert.deepEqual(lines.toSorted(), [
      "added plugin added",
      "added plugin broken",
      "reloaded plugin hi",
    ]);
    assert.equal(await session.runtime.call("hi", "hello"), "v2");
    assert.equal(await session.runtime.call("added", "hello"), "new");
    assert.equal(await session.runtime.call("broken", "hello"), "fixed");

    await Deno.remove(`${root}/added`, { recursive: true });
    lines.length = 0;
    await session.execute("reload");
    assert.ok(lines.includes("removed plugin added"), lines.join("\n"));
    lines.length = 0;
    await session.execute("plugins");
    assert.deepEqual(lines.map((l) => l.split(/\s+/)[0]).toSorted(), ["broken", "hi"]);
  } finally {
    await t.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("reload loads new plugins after the plugins they require, and refuses unmet requires", async () => {
  const root = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_plugins_" });
  const t = await openSession([], { plugins: [root] });
  try {
    const { session, lines, errors } = t;
    // "app" sorts first but requires "zbase"; "orphan" requires a plugin nobody has.
    await writePlugin(root, "app", `{ actions: { hello: () => "app" } }`, { zbase: "^1.0.0" });
    await writePlugin(root, "zbase", `{ actions: { hello: () => "base" } }`);
    await writePlugin(root, "orphan", `{ actions: { hello: () => 0 } }`, { nobody: "*" });
    lines.length = 0;
    // Some plugin did not load: the line fails, saying which and why; the others loaded.
    assert.equal(await session.execute("reload"), "failed");
    const added = lines.filter((l) => l.startsWith("added plugin "));
    assert.deepEqual(added, ["added plugin zbase", "added plugin app"], lines.join("\n"));
    assert.ok(
      errors.some((l) => /plugin orphan requires nobody \*, which is not installed/.test(l)),
      `the unmet requirement is reported: ${errors.join(" | ")}`,
    );
    assert.equal(await session.runtime.call("app", "hello"), "app");
    lines.length = 0;
    await session.execute("plugins");
    assert.match(lines.find((l) => l.startsWith("orphan "))!, /not loaded .*requires nobody/);
  } finally {
    await t.close();
    await Deno.remove(root, { recursive: true });
  }
});
