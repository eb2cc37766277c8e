// The CLI on PostgreSQL, as a user runs it: `--kv postgres://...` on `run` (a durable instance
// whose plugin keeps its own keys in the same database) and on `kv`; an unreachable server is
// a one-line error, never a stack trace or a hang.
import assert from "node:assert/strict";
import { pgAvailable, pgServer } from "../_pg.ts";
import { noStackTrace, runStoreCli, withTempDir } from "./_run_cli.ts";

const RECORDER = "tests/fixtures/run_recorder.ts";
const PLUGINS = "tests/fixtures/plugins/run_plugins";

/** The CLI with what a PostgreSQL store needs: the network to 127.0.0.1 only. */
function statecraft(...args: string[]) {
  return runStoreCli(...args);
}

const options = {
  ignore: !pgAvailable().ok,
  sanitizeResources: false,
  sanitizeOps: false,
};

Deno.test({
  name: "postgres: run --kv <url> with a plugin, then kv ls and kv history read it back",
  ...options,
  fn: async () => {
    const url = (await pgServer()).url();
    await withTempDir("statecraft_pg_run_", async (dir) => {
      await Deno.writeTextFile(`${dir}/events.jsonl`, `{"type":"START","job":"j-1"}\n`);
      const r = await statecraft(
        "run",
        RECORDER,
        "--kv",
        url,
        "--plugins",
        PLUGINS,
        "--events-file",
        `${dir}/events.jsonl`,
        "--for",
        "10s",
      );
      assert.equal(r.code, 0, r.stderr);
      const id = /^instance: (job-[0-9a-z]+)$/m.exec(r.stdout)?.[1];
      assert.ok(id !== undefined, r.stdout);
      assert.match(r.stdout, /done\.invoke\.report: working -> done \(done\)/);
      const ls = await statecraft("kv", "ls", "--kv", url, "--machines", RECORDER);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, new RegExp(`${id}\\s+job\\s+done`));
      const history = await statecraft("kv", "history", id, "--kv", url, "--machines", RECORDER);
      assert.equal(history.code, 0, history.stderr);
      assert.match(history.stdout, /START/);
      assert.match(history.stdout, /done\.invoke\.report/);
    });
  },
});

Deno.test({
  name: "postgres: an unreachable server is a one-line error naming it, in bounded time",
  ...options,
  fn: async () => {
    const url = "postgres://nobody:secret@127.0.0.1:1/none?retryMs=300&connectTimeoutMs=200";
    const started = Date.now();
    const r = await statecraft("kv", "ls", "--kv", url, "--machines", RECORDER);
    assert.equal(r.code, 1, r.stdout);
    assert.ok(noStackTrace(r.stderr), r.stderr);
    assert.match(r.stderr, /127\.0\.0\.1:1/);
    assert.doesNotMatch(r.stderr, /secret/, "the password is never printed");
    assert.ok(Date.now() - started < 30_000);
  },
});
