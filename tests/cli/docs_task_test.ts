/**
 * `deno task docs`: the HTML API reference builds from the task's own entry points, offline,
 * and shows the public API without the compiled internals.
 *
 * @module
 */
import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { runDeno, withTempDir } from "./_run_cli.ts";

Deno.test("deno task docs: the HTML reference of every entry point builds", async () => {
  await withTempDir("statecraft_docs_", async (dir) => {
    const command = denoJson.tasks.docs.split(" && ").find((c) => c.startsWith("deno doc"));
    assert.ok(command, denoJson.tasks.docs);
    const args = command.split(/\s+/).slice(1).map((a) =>
      a.startsWith("--output=") ? `--output=${dir}` : a
    );
    for (const entry of Object.values(denoJson.exports)) {
      assert.ok(args.includes(entry.replace(/^\.\//, "")), `${entry} is documented`);
    }
    const r = await runDeno(args);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const all = await Deno.readTextFile(`${dir}/all_symbols.html`);
    for (const name of ["Runtime", "openStore", "defineMachine", "testPaths", "definePlugin"]) {
      assert.match(all, new RegExp(`>${name}<`), `${name} in the reference`);
    }
    assert.doesNotMatch(all, /CompiledMachine|entryCache/);
  });
});
