/**
 * The REPL on a real pseudo-terminal, driven through tmux (`new-session`, `send-keys`,
 * `capture-pane`): Tab completion of the events an instance accepts, Ctrl-C, history across
 * two sessions, Ctrl-D closing the store so that the next session sees the committed state.
 *
 * Needs tmux (`.ci/run` installs it) and `--allow-run=deno,tmux`. Without tmux the tests are
 * reported as ignored, with a message saying why: they never pass silently.
 */
import assert from "node:assert/strict";
import { waitFor } from "../_wait.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

function tmuxAvailable(): boolean {
  try {
    const run = { name: "run", command: "tmux" } as const;
    if (Deno.permissions.querySync(run).state !== "granted") {
      console.error("pty tests ignored: run the tests with --allow-run=deno,tmux");
      return false;
    }
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    console.error("pty tests ignored: tmux is not installed (apt-get install -y tmux)");
    return false;
  }
}

const HAVE_TMUX = tmuxAvailable();

/** One tmux server (own socket) with one 200x50 pane running a shell command. */
class Pane {
  readonly #socket = `statecraft_repl_${Deno.pid}_${crypto.randomUUID().slice(0, 8)}`;

  async #tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.#socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  /** Starts the REPL in the pane; the pane stays after it exits, showing `[exit N]`. */
  async start(kv: string, history: string): Promise<void> {
    const command = `cd ${ROOT} && env NO_COLOR=1 STATECRAFT_HISTORY=${history} ` +
      `deno run --allow-read --allow-write=/tmp --allow-env cli.ts repl --kv ${kv} ` +
      `--no-plugins --no-timings; echo "[exit $?]"; sleep 60`;
    await this.#tmux("new-session", "-d", "-s", "repl", "-x", "200", "-y", "50", command);
    await this.waitFor(/statecraft>\s*$/, "the prompt");
  }

  /**
   * Sends keys (tmux names: Tab, Enter, Up, C-c, C-d). The terminal keeps their order; what
   * they do is waited for on the screen by the caller.
   */
  async keys(...keys: string[]): Promise<void> {
    await this.#tmux("send-keys", "-t", "repl", ...keys);
  }

  /**
   * Types text literally (no key names), one write, and waits for its echo: readline has read
   * it, and the next key is read on its own (readline completes a Tab only when it ends what
   * was read at once).
   */
  async type(text: string): Promise<void> {
    await this.#tmux("send-keys", "-t", "repl", "-l", text);
    await this.waitFor(new RegExp(`${RegExp.escape(text.trimEnd())}\\s*$`), `"${text}" echoed`);
  }

  capture(): Promise<string> {
    return this.#tmux("capture-pane", "-p", "-t", "repl");
  }

  /** Waits until the screen matches (20 s at most); returns the screen. */
  async waitFor(re: RegExp, what: string): Promise<string> {
    let screen = "";
    const matches = async () => re.test(screen = await this.capture()) && screen;
    try {
      return await waitFor(what, matches, { ms: 20_000, everyMs: 100, backoff: true });
    } catch (e) {
      throw new Error(`${(e as Error).message} (${re}); the screen:\n${screen}`);
    }
  }

  async kill(): Promise<void> {
    await this.#tmux("kill-server").catch(() => {});
  }
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_pty_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "pty: Tab after `send front ` lists the accepted events; Ctrl-C cancels the line",
  ignore: !HAVE_TMUX,
  fn: () =>
    withTemp(async (dir) => {
      const pane = new Pane();
      try {
        await pane.start(`${dir}/state.kv`, `${dir}/history`);
        await pane.type("spawn door front");
        await pane.keys("Enter");
        await pane.waitFor(/front \(door\): secure\.closed/, "the spawn");
        await pane.type("send front ");
        // Readline lists the candidates on the second Tab (a slow machine has needed a third):
        // a Tab every 250 ms until they are listed.
        await waitFor("the accepted events listed", async () => {
          await pane.keys("Tab");
          return /^LOCK\s+OPEN\s*$/m.test(await pane.capture());
        }, { everyMs: 250 });
        await pane.type("O");
        await pane.keys("Tab");
        await pane.waitFor(/statecraft> send front OPEN\s*$/, "OPEN completed");
        await pane.keys("Enter");
        await pane.waitFor(/^OPEN: secure\.closed -> secure\.opened$/m, "the send");
        // The next state accepts other events: the completion follows the configuration.
        await pane.type("send front ");
        await pane.keys("Tab");
        await pane.waitFor(/statecraft> send front CLOSE\s*$/, "CLOSE completed");
        // Ctrl-C drops the line; the session goes on.
        await pane.keys("C-c");
        await pane.waitFor(/send front CLOSE\^C\nstatecraft>\s*$/, "the cancelled line");
        await pane.type("state front");
        await pane.keys("Enter");
        const screen = await pane.waitFor(/^accepts: CLOSE$/m, "the state");
        assert.doesNotMatch(screen, /^CLOSE: /m, "the cancelled send ran");
        assert.match(screen, /^front \(door\) active, seq 1$/m);
        await pane.keys("C-d");
        await pane.waitFor(/^\[exit 0\]$/m, "a clean exit");
      } finally {
        await pane.kill();
      }
    }),
});

Deno.test({
  name: "pty: history across sessions (Up); Ctrl-D closes the store for the next session",
  ignore: !HAVE_TMUX,
  fn: () =>
    withTemp(async (dir) => {
      const kv = `${dir}/state.kv`, history = `${dir}/history`;
      const first = new Pane();
      try {
        await first.start(kv, history);
        await first.type("spawn door front");
        await first.keys("Enter");
        await first.waitFor(/front \(door\)/, "the spawn");
        await first.type('send front LOCK {"code":"0000"}');
        await first.keys("Enter");
        await first.waitFor(/^LOCK: secure\.closed -> secure\.locked\.latched$/m, "the send");
        await first.keys("C-d");
        await first.waitFor(/^\[exit 0\]$/m, "a clean exit");
      } finally {
        await first.kill();
      }
      assert.equal(
        await Deno.readTextFile(history),
        'spawn door front\nsend front LOCK {"code":"0000"}\n',
      );
      const second = new Pane();
      try {
        await second.start(kv, history);
        await second.keys("Up");
        await second.waitFor(/statecraft> send front LOCK \{"code":"0000"\}\s*$/, "recalled");
        await second.keys("Up");
        await second.waitFor(/statecraft> spawn door front\s*$/, "the line before");
        await second.keys("C-u");
        await second.type("state front");
        await second.keys("Enter");
        // What the first session committed, read back after its store was closed.
        const screen = await second.waitFor(/^accepts: /m, "the state");
        assert.match(
          screen,
          /^front \(door\) active, seq 1\n {2}secure\n {4}locked\n {6}latched$/m,
        );
        await second.type("exit");
        await second.keys("Enter");
        await second.waitFor(/^\[exit 0\]$/m, "a clean exit");
      } finally {
        await second.kill();
      }
    }),
});
