import assert from "node:assert/strict";
import { Machine } from "../../mod.ts";
import { loadScripts } from "../../lib/runtime/scripts.ts";
import { expandGlobs } from "../../lib/runtime/config.ts";
import {
  importScript,
  SOURCE_IMPORT_ENV,
  sourceImportEnabled,
} from "../../lib/runtime/script_source.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const FIXTURES = `${ROOT}/tests/fixtures/run_source`;

/** Runs `fn` with STATECRAFT_SOURCE_IMPORT=1, the switch a compiled binary turns on itself. */
async function withSwitch<T>(fn: () => Promise<T>): Promise<T> {
  Deno.env.set(SOURCE_IMPORT_ENV, "1");
  try {
    return await fn();
  } finally {
    Deno.env.delete(SOURCE_IMPORT_ENV);
  }
}

Deno.test("script source: the switch is off under deno run unless the variable says 1", async () => {
  assert.equal(sourceImportEnabled(), false);
  assert.equal(await withSwitch(() => Promise.resolve(sourceImportEnabled())), true);
});

Deno.test("script source: every example loads through the switch as it does normally", async () => {
  const files = await expandGlobs(["examples/*.ts"], ROOT);
  assert.ok(files.length >= 5, `examples found: ${files.length}`);
  const normal = await loadScripts(files);
  const viaSource = await withSwitch(() => loadScripts(files));
  assert.deepEqual(normal.errors, []);
  assert.deepEqual(viaSource.errors, []);
  const shape = (load: typeof normal) =>
    load.machines.map((m) => ({
      file: m.file,
      exportName: m.exportName,
      id: m.machine.id,
      hash: m.machine.hash,
      version: m.machine.version,
    }));
  assert.deepEqual(shape(viaSource), shape(normal));
  for (const m of viaSource.machines) {
    // The library is the running one, not a copy: instanceof holds, so the runtime accepts it.
    assert.ok(m.machine instanceof Machine, `${m.file} ${m.exportName}`);
    assert.notEqual(m.machine, normal.machines.find((n) => n.file === m.file)!.machine);
  }
});

Deno.test("script source: package-name imports, local modules and import.meta", async () => {
  const mod = await importScript(`${FIXTURES}/bare.ts`);
  assert.ok(mod.toggle instanceof Machine);
  // The helper saw its own folder through import.meta, and was loaded once.
  assert.equal((mod.toggle as Machine).id, "toggle");
  assert.equal(mod.sameHelper, true);
  const t = (mod.toggle as Machine).start();
  t.send("FLIP");
  assert.deepEqual(t.configuration, ["on"]);
  assert.deepEqual(t.context, { flips: 1 });

  // The short names a script beside the binary may use ("statecraft" is no import-map entry
  // here, so this script lives outside the checked tree).
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_source_" });
  try {
    await Deno.writeTextFile(
      `${dir}/short.ts`,
      `import { defineMachine } from "statecraft";\nimport { definePlugin } from "statecraft/plugin";\n` +
        `export const m = defineMachine({ id: "short", initial: "a", states: { a: {} } });\n` +
        `export const p = definePlugin({ actions: {} });\n`,
    );
    const short = await importScript(`${dir}/short.ts`);
    assert.ok(short.m instanceof Machine);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("script source: a load error names the script file, line and column", async () => {
  const file = `${FIXTURES}/throws.ts`;
  const load = await withSwitch(() => loadScripts([file]));
  assert.deepEqual(load.machines, []);
  assert.deepEqual(load.errors, [{ file, line: 5, col: 7, message: "Error: script blew up" }]);
  await assert.rejects(() => importScript(`${FIXTURES}/missing.ts`), Deno.errors.NotFound);
});

Deno.test("script source: `statecraft run` prints the same through the switch", async () => {
  const run = async (env: Record<string, string>) => {
    const output = await new Deno.Command("deno", {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        "cli.ts",
        "run",
        "examples/traffic_light.ts",
        "--virtual-time",
        "--for",
        "2m",
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      out: decoder.decode(output.stdout),
      err: decoder.decode(output.stderr),
    };
  };
  const [normal, viaSource] = await Promise.all([run({}), run({ [SOURCE_IMPORT_ENV]: "1" })]);
  assert.equal(normal.code, 0, normal.err);
  assert.equal(viaSource.code, 0, viaSource.err);
  assert.match(normal.out, /^start: operating\.green$/m);
  assert.equal(viaSource.out, normal.out);
});

Deno.test("script source: a plugin module loads from source with the running SDK", async () => {
  const mod = await importScript(`${ROOT}/tests/fixtures/plugins/run_plugins/recorder/mod.ts`);
  const plugin = mod.default as { actions: Record<string, unknown> };
  assert.deepEqual(Object.keys(plugin.actions).sort(), ["calls", "record"]);
});

Deno.test("script source: syntax errors and missing imports read as with import()", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_source_" });
  const lib = new URL("../../mod.ts", import.meta.url).href;
  const head = `import { defineMachine } from "${lib}";\n`;
  try {
    const files = {
      syntax:
        `${head}\nexport const m = defineMachine({ id: "m", initial: "a", states: { a: {} } });\nconst x = ;\n`,
      missing: `${head}import { nope } from "./nothere.ts";\nexport const m = nope;\n`,
      lazy: `${head}export const later = () => import("./nothere.ts");\n` +
        `export const m = defineMachine({ id: "lazy", initial: "a", states: { a: {} } });\n`,
    };
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}.ts`, text);
    }
    const paths = Object.keys(files).map((name) => `${dir}/${name}.ts`);
    const normal = await loadScripts(paths);
    const viaSource = await withSwitch(() => loadScripts(paths));
    const where = (load: typeof normal) => load.errors.map((e) => [e.file, e.line, e.col]);
    assert.deepEqual(where(viaSource)[0], where(normal)[0]);
    // (The plain path's ?v= module key hides the line of a missing import from loadScripts.)
    assert.deepEqual(where(viaSource), [[paths[0], 4, 11], [paths[1], 2, 22]]);
    assert.match(viaSource.errors[0].message, /SyntaxError/);
    assert.equal(viaSource.errors[1].message, normal.errors[1].message);
    // A dynamic import of a missing file fails when it runs, as it would with import().
    assert.deepEqual(viaSource.machines.map((m) => m.machine.id), ["lazy"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
