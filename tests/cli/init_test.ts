/**
 * `statecraft init` and the library by name, as a new user meets them outside this repository:
 * a project written into a folder under /tmp, its own `deno task check`, `deno task test` and a
 * scripted REPL session through `deno task start`; a program of its own importing
 * `@statecraft/statecraft` and keeping a durable instance; the CLI installed as a command.
 *
 * @module
 */
import assert from "node:assert/strict";
import { initProject as init, runInProject as deno, withTempDir } from "./_run_cli.ts";

const ROOT_DIR = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const decoder = new TextDecoder();

const FILES = [
  "deno.json",
  "statecraft.yaml",
  "machines/order.ts",
  "plugins/greeter/plugin.yaml",
  "plugins/greeter/mod.ts",
  "tests/order_test.ts",
  ".gitignore",
  "README.md",
];

Deno.test("init: a project outside the repo whose own check, test and REPL work", async (t) => {
  await withTempDir("statecraft_init_", async (tmp) => {
    const dir = `${tmp}/shop`;
    const made = await init(dir);
    assert.equal(made.code, 0, made.stderr);
    for (const f of FILES) {
      assert.ok((await Deno.stat(`${dir}/${f}`)).isFile, `${f} written`);
      assert.match(made.stdout, new RegExp(`created .*${f.replace(".", "\\.")}`));
    }
    const config = JSON.parse(await Deno.readTextFile(`${dir}/deno.json`));
    assert.deepEqual(config.links, [await Deno.realPath(ROOT_DIR)]);
    assert.equal(config.imports["@statecraft/statecraft"], "jsr:@statecraft/statecraft@^0.1.0");
    // No file of the repository is copied: the project's sources import the library by name.
    const machine = await Deno.readTextFile(`${dir}/machines/order.ts`);
    assert.match(machine, /from "@statecraft\/statecraft"/);
    assert.doesNotMatch(
      machine + await Deno.readTextFile(`${dir}/tests/order_test.ts`),
      /\.\.\/\.\./,
    );

    await t.step("deno task check: fmt, lint, type check and statecraft check pass", async () => {
      const r = await deno(["task", "check"], dir);
      assert.equal(r.code, 0, r.output);
    });

    await t.step("deno task test: the kit's paths pass, with a coverage table", async () => {
      const r = await deno(["task", "test"], dir);
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /ok \| 4 passed \(8 steps\) \| 0 failed/);
      // Every state, transition and guard outcome of the chart: the template's tests cover it.
      assert.match(r.output, /order\s+5\/5\s+100\.0%\s+6\/6\s+100\.0%\s+1\/1\s+100\.0%\s+1\/1/);
    });

    await t.step("deno task start: a scripted REPL session on the project's machine", async () => {
      const session = [
        "spawn order o1",
        "send o1 CHECKOUT",
        "send o1 ADD",
        "send o1 CHECKOUT",
        "send o1 PAY",
        `call greeter hello {"name":"ada"}`,
        "",
      ].join("\n");
      const r = await deno(["task", "start"], dir, session);
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /CHECKOUT: .*\(no transition\)/);
      assert.match(r.output, /CHECKOUT: cart -> awaitingPayment/);
      assert.match(r.output, /PAY: awaitingPayment -> paid/);
      assert.match(r.output, /hello, ada/);
      // Durable: a second session finds the instance where the first left it.
      const again = await deno(["task", "start"], dir, "state o1\n");
      assert.match(again.output, /paid/);
    });

    await t.step("refuses to overwrite, naming every file; --force overwrites", async () => {
      await Deno.writeTextFile(`${dir}/machines/order.ts`, "// mine\n");
      const refused = await init(dir);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /already has deno\.json, .*machines\/order\.ts.*--force/);
      assert.equal(await Deno.readTextFile(`${dir}/machines/order.ts`), "// mine\n");
      const forced = await init(dir, "--force");
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal(await Deno.readTextFile(`${dir}/machines/order.ts`), machine);
    });
  });
});

Deno.test("init: --no-link imports the published package; --link must be a Statecraft copy", async () => {
  await withTempDir("statecraft_init_", async (tmp) => {
    const plain = await init(`${tmp}/a`, "--no-link");
    assert.equal(plain.code, 0, plain.stderr);
    const config = JSON.parse(await Deno.readTextFile(`${tmp}/a/deno.json`));
    assert.equal(config.links, undefined);
    assert.match(plain.stdout, /published jsr:@statecraft\/statecraft/);

    const wrong = await init(`${tmp}/b`, "--link", tmp);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /--link .*: no deno\.json naming @statecraft\/statecraft/);
    await assert.rejects(Deno.stat(`${tmp}/b/deno.json`), Deno.errors.NotFound);
  });
});

Deno.test("the library by name: a program outside the repo keeps a durable instance", async () => {
  await withTempDir("statecraft_byname_", async (dir) => {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports: { "@statecraft/statecraft": "jsr:@statecraft/statecraft@^0.1.0" },
        links: [ROOT_DIR],
        unstable: ["kv"],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { defineMachine, openStore } from "@statecraft/statecraft";
const lamp = defineMachine({ id: "lamp", initial: "off", states: {
  off: { on: { TOGGLE: "on" } }, on: { on: { TOGGLE: "off" } } } });
const store = await openStore({ path: Deno.args[0], machines: [lamp] });
if (Deno.args[1] === "create") await store.create("lamp", "l1");
const r = await store.send("l1", { type: "TOGGLE" });
console.log(JSON.stringify({ seq: r.seq, configuration: r.configuration }));
await store.close();
`,
    );
    const kv = `${dir}/state.kv`;
    const flags = ["run", "--allow-read", `--allow-write=${dir}`, "--allow-env", "main.ts"];
    const first = await deno([...flags, kv, "create"], dir);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /"seq":1,"configuration":\["on"\]/);
    const second = await deno([...flags, kv], dir);
    assert.equal(second.code, 0, second.output);
    assert.match(second.output, /"seq":2,"configuration":\["off"\]/);
  });
});

Deno.test("deno install: the CLI as a command, run from any folder", async () => {
  await withTempDir("statecraft_install_", async (dir) => {
    const installed = await deno([
      "install",
      "--global",
      "--root",
      dir,
      "--name",
      "statecraft",
      "--config",
      `${ROOT_DIR}/deno.json`,
      "--allow-read",
      "--allow-env",
      `${ROOT_DIR}/cli.ts`,
    ], dir);
    assert.equal(installed.code, 0, installed.output);
    await Deno.writeTextFile(
      `${dir}/lamp.ts`,
      `import { defineMachine } from "@statecraft/statecraft";
export const lamp = defineMachine({ id: "lamp", initial: "off", states: {
  off: { on: { TOGGLE: "on" } }, on: {} } });
`,
    );
    // The installed launcher is a shell script that execs `deno run <flags> <cli.ts> "$@"`; the
    // tests may run `deno` but not a shell, so its command line is run as it is written.
    const launcher = await Deno.readTextFile(`${dir}/bin/statecraft`);
    const exec = /^exec deno (.*) "\$@"$/m.exec(launcher);
    assert.ok(exec, launcher);
    const args = exec[1].split(" ").map((a) => a.replace(/^'(.*)'$/, "$1"));
    assert.ok(args.includes("--allow-read") && args.includes("--allow-env"), launcher);
    const out = await new Deno.Command("deno", {
      args: [...args, "run", "lamp.ts", "--events", "TOGGLE"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /configuration: on/);
  });
});
