/**
 * `statecraft repl` survives what a line does later (issue #14), as a user runs it: with stdin
 * piped (`statecraft repl < lines.txt`) and on a real terminal (tmux). A timer that throws and
 * an unhandled rejection are each one line on stderr naming an earlier line, no stack unless
 * `STATECRAFT_DEBUG=1`, and the lines after them run.
 *
 * @module
 */
import assert from "node:assert/strict";
import { waitFor } from "../_wait.ts";
import { pipedRepl } from "./_piped_repl.ts";
import { tmuxAvailable } from "./_tmux.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const REPL_ARGS = ["--allow-read", "--allow-write=/tmp", "--allow-env", "cli.ts", "repl"];

const THROW_LATER = 'setTimeout(() => { throw new Error("x") }, 0)';
const REJECT_LATER = 'void Promise.reject(new Error("y"))';

function piped(stdin: string, env: Record<string, string> = {}) {
  return pipedRepl(stdin, { env });
}

Deno.test("repl < lines: a timer that throws and a rejection later are reported; it goes on", async () => {
  // `spawn` after each: its output proves the session read and ran the next line. The second
  // spawn waits for the line before it to end, so the timer has fired by the third.
  const lines = [
    THROW_LATER,
    "spawn traffic_light t1",
    REJECT_LATER,
    "await new Promise((r) => setTimeout(r, 10))",
    "spawn traffic_light t2",
    "ls",
  ];
  const result = await piped(lines.join("\n") + "\n");
  assert.deepEqual(result.stderr.trimEnd().split("\n"), [
    "error: later, from an earlier line: uncaught Error: x",
    "error: later, from an earlier line: unhandled rejection Error: y",
  ]);
  assert.match(result.stdout, /^t1 \(traffic_light\): /m);
  assert.match(result.stdout, /^t2 \(traffic_light\): /m);
  assert.match(result.stdout, /^t2 +traffic_light +active/m);
  assert.equal(result.code, 1, "what failed later counts as a failed line");
});

Deno.test("repl < lines with STATECRAFT_DEBUG=1: the stack follows the line", async () => {
  const result = await piped(`${THROW_LATER}\nawait new Promise((r) => setTimeout(r, 10))\nls\n`, {
    STATECRAFT_DEBUG: "1",
  });
  const err = result.stderr.split("\n");
  assert.equal(err[0], "error: later, from an earlier line: uncaught Error: x");
  assert.match(err[1], /^\s+at /);
  assert.match(result.stdout, /no instances/);
});

Deno.test({
  name: "repl on a terminal: a timer that throws later is one line; the prompt comes back",
  ignore: !tmuxAvailable(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_later_pty_" });
    const socket = `statecraft_later_${Deno.pid}_${crypto.randomUUID().slice(0, 8)}`;
    const tmux = async (...args: string[]) => {
      const out = await new Deno.Command("tmux", { args: ["-L", socket, ...args], stdout: "piped" })
        .output();
      return new TextDecoder().decode(out.stdout);
    };
    const screen = () => tmux("capture-pane", "-p", "-t", "repl");
    const seen = (re: RegExp, what: string) =>
      waitFor(what, async () => {
        const s = await screen();
        return re.test(s) ? s : undefined;
      }, { ms: 20_000, everyMs: 100, backoff: true });
    const type = async (line: string) => {
      await tmux("send-keys", "-t", "repl", "-l", line);
      await seen(new RegExp(`${RegExp.escape(line)}\\s*$`), `"${line}" echoed`);
      await tmux("send-keys", "-t", "repl", "Enter");
    };
    try {
      const command = `cd ${ROOT} && env NO_COLOR=1 STATECRAFT_HISTORY=${dir}/history ` +
        `deno run ${REPL_ARGS.join(" ")} --kv ${dir}/state.kv --no-plugins --no-timings; ` +
        `echo "[exit $?]"; sleep 60`;
      await tmux("new-session", "-d", "-s", "repl", "-x", "200", "-y", "50", command);
      await seen(/Statecraft REPL/, "the banner");
      await type(THROW_LATER);
      await seen(/^error: later, from an earlier line: uncaught Error: x$/m, "the report");
      await type(REJECT_LATER);
      await seen(/^error: later, from an earlier line: unhandled rejection Error: y$/m, "the 2nd");
      await type("spawn traffic_light t1");
      const after = await seen(/^t1 \(traffic_light\): .*\nstatecraft>\s*$/m, "the next line");
      assert.doesNotMatch(after, /^\s+at /m, "no stack");
      await tmux("send-keys", "-t", "repl", "C-d");
      await seen(/^\[exit 0\]$/m, "a clean exit");
    } finally {
      await tmux("kill-server").catch(() => "");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
