/**
 * `statecraft repl` on a terminal shows its prompt before the project is open (issue #13): the
 * store and the plugins open behind it, and a line typed meanwhile runs once they are. Made
 * deterministic with a "PostgreSQL server" that accepts connections and never answers, so
 * the runtime cannot be open when the prompt is checked. Driven through tmux (a real
 * pseudo-terminal), with `deno task start` as a user runs it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { waitFor } from "../_wait.ts";
import { tmuxAvailable } from "./_tmux.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

async function tmux(socket: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", { args: ["-L", socket, ...args], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "repl on a terminal: the prompt comes before the store opens; an open failure ends it",
  ignore: !tmuxAvailable(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_startup_" });
    const socket = `statecraft_startup_${Deno.pid}_${crypto.randomUUID().slice(0, 8)}`;
    // A "PostgreSQL server" that accepts connections and never answers: the store cannot
    // open until the test closes them, so the runtime is certainly not open at the prompt.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    let closed = false;
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn);
    })();
    const screen = () => tmux(socket, "capture-pane", "-p", "-t", "repl");
    try {
      const kv = `postgres://sc@127.0.0.1:${listener.addr.port}/sc`;
      const command = `cd ${ROOT} && env NO_COLOR=1 STATECRAFT_HISTORY=${dir}/history ` +
        `deno task start --kv ${kv} --no-plugins; echo "[exit $?]"; sleep 60`;
      await tmux(socket, "new-session", "-d", "-s", "repl", "-x", "150", "-y", "30", command);
      await waitFor("the prompt", async () => /^statecraft>\s*$/m.test(await screen()), {
        ms: 20_000,
      });
      await waitFor("the store's connection", () => held.length > 0, { ms: 20_000 });
      assert.doesNotMatch(await screen(), /Statecraft REPL/);
      // A line typed now waits for the store.
      await tmux(socket, "send-keys", "-t", "repl", "-l", "ls");
      await tmux(socket, "send-keys", "-t", "repl", "Enter");
      for (const conn of held) conn.close();
      listener.close();
      closed = true;
      const after = await waitFor("the open failure and the exit", async () => {
        const s = await screen();
        return /^\[exit 1\]$/m.test(s) ? s : undefined;
      }, { ms: 20_000 });
      assert.match(after, /^error: repl: cannot open the project /m);
      assert.doesNotMatch(after, /no instances/, "the line ran without a store");
    } finally {
      if (!closed) listener.close();
      await accepting.catch(() => {});
      await tmux(socket, "kill-server").catch(() => "");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
