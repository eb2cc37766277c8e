/**
 * `statecraft repl [project-dir]`: an interactive session over a project's Runtime. On a
 * terminal: line editing and history (`node:readline`), Tab completion (commands, machines,
 * instances, the events an instance accepts now), colours unless `NO_COLOR`, Ctrl-C cancels
 * the line, Ctrl-D or `exit` closes the runtime and quits. With stdin not a terminal: the
 * same commands line by line, plain output, no prompt, exit code 1 if any line failed.
 * Either way, what a line leaves behind that fails later (a timer's callback that throws, a
 * promise rejected with no one waiting) is reported as one line and the session goes on.
 *
 * @module
 */
import * as readline from "node:readline";
import process from "node:process";
import type { Runtime, RuntimeOptions } from "../runtime/runtime.ts";
import { colorsWanted, makeColors } from "../repl/color.ts";
import { HISTORY_SIZE, HistoryFile, historyPath } from "../repl/history.ts";
import type { ReplOutput, ReplSession } from "../repl/session.ts";
import { CliError } from "./cli_error.ts";
import { importLazily } from "./lazy_import.ts";
import { projectRuntimeOptions } from "./runtime_options.ts";

// The runtime (store, plugin system, machine scripts) and the session's modules load behind
// the prompt: on a terminal the prompt comes first.
const loadRuntime = () =>
  importLazily<typeof import("../runtime/runtime.ts")>(import.meta.url, "../runtime/runtime.ts");
const loadSession = () =>
  importLazily<typeof import("../repl/session.ts")>(import.meta.url, "../repl/session.ts");
const loadComplete = () =>
  importLazily<typeof import("../repl/complete.ts")>(import.meta.url, "../repl/complete.ts");
const loadHotReload = () =>
  importLazily<typeof import("../repl/hot_reload.ts")>(import.meta.url, "../repl/hot_reload.ts");

/** Options of `statecraft repl`, as commander parses them. */
export interface ReplOptions {
  /** KV path or URL (default: from `statecraft.yaml`, else `.statecraft/state.kv`). */
  kv?: string;
  /** The configuration file (default: `<project>/statecraft.yaml` if there). */
  config?: string;
  /** Plugin directories instead of the configured ones; `false` (`--no-plugins`): none. */
  plugins?: string[] | boolean;
  /** Reload machine scripts when they change. */
  watch?: boolean;
  /** `false` (`--no-timings`): no `(0.4 ms)` after sends and calls. */
  timings?: boolean; /** `--cluster`: join the store's cluster as a member. */
  cluster?: boolean;
  /** `--node <name>`: this node's name in the cluster (implies `--cluster`). */
  node?: string;
}

/** The prompt on a terminal. */
export const PROMPT = "statecraft> ";

/**
 * Runs the session; resolves with the exit code once it ends (the runtime closed). On a
 * terminal the prompt appears at once and the runtime opens behind it: lines typed meanwhile
 * wait for it, Tab completes once it is open, and a runtime that cannot open is reported and
 * ends the session with exit code 1. Without a terminal, throws a `CliError` when the runtime
 * cannot open.
 *
 * @example
 * ```ts ignore
 * import { replCommand } from "./repl.ts";
 * Deno.exitCode = await replCommand(".", { kv: "/tmp/repl.kv", plugins: false });
 * ```
 */
export async function replCommand(
  projectDir: string | undefined,
  options: ReplOptions,
): Promise<number> {
  const { dir, runtime: open } = projectRuntimeOptions(projectDir, options);
  const interactive = Deno.stdin.isTerminal();
  const colors = makeColors(interactive && colorsWanted());

  // Runtime log lines go wherever the session writes, once there is one.
  let sink: ReplOutput = { line: (t) => console.log(t), error: (t) => console.error(t) };
  const opening = () => openRuntime(dir, open, colors, (line) => sink.error(line));
  if (interactive) return await interactiveSession(dir, opening, options, colors, (s) => sink = s);
  return await scriptedSession(await opening(), options, (s) => sink = s);
}

/** Opens the runtime, its log lines to `log`; a `CliError` saying which project failed. */
async function openRuntime(
  dir: string,
  open: RuntimeOptions,
  colors: ReturnType<typeof makeColors>,
  log: (line: string) => void,
): Promise<Runtime> {
  try {
    const { Runtime } = await loadRuntime();
    return await Runtime.open({
      ...open,
      log: (level, message) =>
        log(
          level === "info"
            ? message
            : level === "error"
            ? colors.red(`${level}: ${message}`)
            : colors.yellow(`${level}: ${message}`),
        ),
    });
  } catch (e) {
    throw new CliError(
      `repl: cannot open the project ${dir}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** stdin is not a terminal: one command per line, plain output, exit 1 if any failed. */
async function scriptedSession(
  runtime: Runtime,
  options: ReplOptions,
  setSink: (out: ReplOutput) => void,
): Promise<number> {
  const out: ReplOutput = { line: (t) => console.log(t), error: (t) => console.error(t) };
  setSink(out);
  const { ReplSession } = await loadSession();
  const session = new ReplSession(runtime, out, { timings: options.timings !== false });
  const release = session.catchLaterErrors();
  const stopWatch = options.watch === true
    ? (await loadHotReload()).watchScripts(session)
    : () => {};
  try {
    for await (const line of lines(Deno.stdin.readable)) {
      const result = await session.execute(line);
      // Let transitions committed by the line reach the watchers before the next line.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (result === "exit") break;
    }
  } finally {
    stopWatch();
    if (session.watching) session.stopWatching();
    await runtime.close();
    release();
  }
  return session.failures > 0 ? 1 : 0;
}

/**
 * The lines of a stream, in time linear in its length however long a line is: the pieces of
 * a line are joined once, when its end arrives.
 */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pieces: string[] = [];
  const line = (last: string) => {
    pieces.push(last);
    const text = pieces.join("");
    pieces = [];
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  };
  for await (const chunk of stream) {
    let text = decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = text.indexOf("\n")) >= 0) {
      yield line(text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    if (text !== "") pieces.push(text);
  }
  const rest = line(decoder.decode());
  if (rest !== "") yield rest;
}

/**
 * A terminal: readline with completion, history, Ctrl-C and Ctrl-D. The prompt comes first:
 * `open` is called, and the session's modules loaded, once it is drawn (loading them earlier
 * would hold the prompt back: their evaluation takes the thread); the session starts when the
 * runtime is open, and lines typed before that wait for it.
 */
async function interactiveSession(
  dir: string,
  open: () => Promise<Runtime>,
  options: ReplOptions,
  colors: ReturnType<typeof makeColors>,
  setSink: (out: ReplOutput) => void,
): Promise<number> {
  const path = historyPath(dir, readEnv);
  const history = path === null ? null : new HistoryFile(path);
  const previous = history === null ? [] : await history.load();

  let busy = false;
  let interrupt: (() => void) | null = null;
  let rl: readline.Interface | null = null;
  // A line printed while the prompt waits (a watched transition, a reload) goes above it.
  const write = (text: string, stream: "out" | "err") => {
    const target = stream === "out" ? process.stdout : process.stderr;
    if (busy || rl === null) {
      target.write(`${text}\n`);
      return;
    }
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    target.write(`${text}\n`);
    rl.prompt(true);
  };
  const out: ReplOutput = { line: (t) => write(t, "out"), error: (t) => write(t, "err") };
  setSink(out);

  // Set once the runtime is open and the session made (null: it could not open).
  let session: ReplSession | undefined | null;
  let release = () => {};
  let complete: typeof import("../repl/complete.ts").completeLine | undefined;
  let stopWatch = () => {};
  const iface = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    prompt: colors.cyan(PROMPT),
    history: previous,
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    completer: (line: string, callback: (error: null, result: [string[], string]) => void) => {
      // Before the runtime is open there is nothing to complete.
      if (!session || complete === undefined) return callback(null, [[], line]);
      complete(session, line).then((result) => callback(null, result));
    },
  });
  rl = iface;

  // The runtime and the session's modules start loading once the prompt is drawn.
  let promptDrawn = () => {};
  const drawn = new Promise<void>((resolve) => promptDrawn = resolve);
  const ready: Promise<ReplSession | null> = (async () => {
    try {
      await drawn;
      const [runtime, { ReplSession }, completion] = await Promise.all([
        open(),
        loadSession(),
        loadComplete(),
      ]);
      const opened = new ReplSession(runtime, out, {
        colors,
        timings: options.timings !== false,
      });
      release = opened.catchLaterErrors();
      await opened.refreshIds();
      complete = completion.completeLine;
      const machines = [...runtime.machines.keys()].sort();
      out.line(
        `${colors.bold("Statecraft REPL")} ${colors.dim(runtime.projectDir)}: ${
          machines.length === 0 ? "no machines" : `machines ${machines.join(", ")}`
        }; ${opened.instanceIds.length} instance(s). ${
          colors.dim("help lists the commands; Tab completes; Ctrl-D quits.")
        }`,
      );
      if (options.watch === true) {
        stopWatch = (await loadHotReload()).watchScripts(opened);
        out.line(colors.dim(`watching ${opened.scriptFiles().length} script(s) for changes`));
      }
      return session = opened;
    } catch (e) {
      // In place of the prompt, which is not drawn again.
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
      busy = true;
      out.error(colors.red(`error: ${e instanceof Error ? e.message : String(e)}`));
      iface.close();
      return session = null;
    }
  })();

  const finished = new Promise<void>((resolve) => {
    let queue: Promise<unknown> = ready;
    let closing = false;
    iface.on("line", (line: string) => {
      queue = queue.then(async () => {
        if (closing || !session) return;
        busy = true;
        if (history !== null) await history.add(line);
        // Ctrl-C while a line runs (an await that never settles) gives the prompt back.
        const interrupted = new Promise<"interrupted">((resolve) =>
          interrupt = () => resolve("interrupted")
        );
        const result = await Promise.race([session.execute(line), interrupted]);
        interrupt = null;
        if (result === "interrupted") {
          session.failures++;
          out.error(colors.red("error: interrupted (what the line started may still finish)"));
        }
        busy = false;
        if (result === "exit") iface.close();
        else iface.prompt();
      });
    });
    iface.on("SIGINT", () => {
      if (interrupt !== null) {
        interrupt();
        return;
      }
      // Ctrl-C: drop the line being typed (and stop watching), keep the session.
      process.stdout.write(colors.dim("^C") + "\n");
      const state = iface as unknown as { line: string; cursor: number };
      state.line = "";
      state.cursor = 0;
      if (session?.watching) session.stopWatching();
      iface.prompt();
    });
    iface.on("close", () => {
      closing = true;
      queue.then(() => resolve());
    });
  });
  iface.prompt();
  promptDrawn();
  await finished;
  // Ctrl-D before the runtime opened: it is closed once open.
  const opened = await ready;
  stopWatch();
  if (opened?.watching) opened.stopWatching();
  busy = true;
  process.stdout.write("\n");
  if (opened === null) return 1;
  await opened.runtime.close();
  release();
  return 0;
}

/** An environment variable, without a permission prompt: undefined when env is not granted. */
function readEnv(name: string): string | undefined {
  const env = { name: "env", variable: name } as const;
  if (Deno.permissions.querySync(env).state !== "granted") return undefined;
  return Deno.env.get(name);
}
