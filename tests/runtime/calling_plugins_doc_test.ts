/**
 * docs/calling_plugins.md runs as written: its plugin, machine and test (each code block that
 * starts with a `// path` or `# path` comment) go into a project made by `statecraft init`;
 * the project's `deno task test` passes, and the REPL session of the page gives what it shows,
 * an item the plugin does not know included.
 *
 * @module
 */
import assert from "node:assert/strict";
import { initProject, runInProject, withTempDir } from "../cli/_run_cli.ts";

const DOC = new URL("../../docs/calling_plugins.md", import.meta.url);

/** The page's files: code blocks whose first line is a comment naming a project path. */
async function docFiles(): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(DOC);
  const files = new Map<string, string>();
  for (const [, body] of text.matchAll(/```\w*\n([\s\S]*?)```/g)) {
    const path = /^(?:#|\/\/) ((?:plugins|machines|tests)\/\S+)\n/.exec(body)?.[1];
    if (path !== undefined) files.set(path, body);
  }
  return files;
}

/** A REPL line that returns once instance `id` is in `state` (bounded: 5 s of polling). */
function waitUntil(id: string, state: string): string {
  return `for (let i = 0; i < 500 && !(await $("${id}")).matches("${state}"); i++) ` +
    `await new Promise((r) => setTimeout(r, 10));`;
}

Deno.test("docs/calling_plugins.md: the worked example runs as written", async (t) => {
  const files = await docFiles();
  assert.deepEqual([...files.keys()].sort(), [
    "machines/basket.ts",
    "plugins/pricing/mod.ts",
    "plugins/pricing/plugin.yaml",
    "tests/basket_test.ts",
  ]);
  await withTempDir("statecraft_doc_plugins_", async (tmp) => {
    const dir = `${tmp}/shop`;
    const made = await initProject(dir);
    assert.equal(made.code, 0, made.stderr);
    for (const [path, text] of files) {
      await Deno.mkdir(`${dir}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${path}`, text);
    }

    await t.step("the page's test passes in the project's deno task test", async () => {
      const r = await runInProject(["task", "test"], dir);
      assert.equal(r.code, 0, r.output);
      assert.match(
        r.output,
        /basket: the pricing plugin's total comes back as event\.output \.\.\. ok/,
      );
    });

    await t.step("the REPL session: total 75; an unknown item comes back as onError", async () => {
      const session = [
        "spawn basket b1",
        `send b1 ADD {"item":"apple"}`,
        `send b1 ADD {"item":"pear"}`,
        "send b1 CHECKOUT",
        waitUntil("b1", "priced"),
        "state b1",
        "spawn basket b2",
        `send b2 ADD {"item":"plum"}`,
        "send b2 CHECKOUT",
        `for (let i = 0; i < 500 && !(await $("b2")).context.problem; i++) ` +
        `await new Promise((r) => setTimeout(r, 10));`,
        "state b2",
        "",
      ].join("\n");
      const r = await runInProject(["task", "start"], dir, session);
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /CHECKOUT: open -> pricing/);
      assert.match(r.output, /b1 \(basket\) done, seq 4\n\s+priced\ncontext: .*total: 75/);
      assert.match(r.output, /b2 \(basket\) active[^\n]*\n\s+open\n.*no price for plum/);
    });
  });
});
