/**
 * `statecraft repl` with stdin not a terminal: a scripted session over the examples, run as a
 * user runs it (`statecraft repl < session.txt`), compared line for line with the expected
 * output; no prompt, no colours; exit 1 because the script's last lines fail.
 */
import assert from "node:assert/strict";
import { ROOT } from "../cli/_run_cli.ts";
import { pipedRepl as repl } from "./_piped_repl.ts";

Deno.test("repl < session.txt: exact output over the examples, exit 1 when a line failed", async () => {
  const fixture = (name: string) => Deno.readTextFile(new URL(`tests/fixtures/${name}`, ROOT));
  const result = await repl(await fixture("repl_session.txt"));
  assert.deepEqual(result.stdout.split("\n"), (await fixture("repl_session.out")).split("\n"));
  assert.deepEqual(result.stderr.split("\n"), (await fixture("repl_session.err")).split("\n"));
  assert.deepEqual(result.code, 1);
});

Deno.test("repl < session: exit 0 when every line ran; exit stops reading", async () => {
  const result = await repl("spawn traffic_light t1\nls\nexit\nsend nobody X\n");
  assert.deepEqual(result.stderr, "");
  assert.deepEqual(result.code, 0);
  assert.deepEqual(result.stdout.split("\n")[0].startsWith("t1 (traffic_light): "), true);
});
