/**
 * A REPL session over an open Runtime: runs one line at a time (a command, or code with the
 * instances in scope) and writes plain or coloured lines to an output. Independent of the
 * terminal: `lib/cli/repl.ts` feeds it from readline or from stdin.
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import type { ReloadOutcome, Runtime, TransitionEvent } from "../runtime/runtime.ts";
import {
  checkName,
  noArguments,
  parseJson,
  parseObject,
  ReplError,
  shown,
  spawnArguments,
  words,
} from "./arguments.ts";
import { type Colors, makeColors } from "./color.ts";
import { COMMANDS, findCommand } from "./commands.ts";
import { Evaluator, isBindableName } from "./evaluate.ts";
import { InstanceHandle } from "./handle.ts";
import { loadMachineFiles } from "./load_machines.ts";
import { pluginRows, reloadPlugins } from "./reload_plugins.ts";
import { catchLater, type LaterKind } from "./uncaught.ts";
import { undoneEntry } from "./undo.ts";
import { scheduleCommand } from "./schedule_command.ts";
import { failedEffectLines, operatorCommand } from "./operator_commands.ts";
import { lsFilter } from "./ls_filter.ts";
import { traceLine } from "./repl_tracing.ts";
import { tracing } from "../telemetry/tracing.ts";
import {
  atomicOf,
  chartTree,
  configurationTree,
  formatStates,
  mermaidWithActive,
} from "./render.ts";

/** Where a session writes. */
export interface ReplOutput {
  /** A result line (stdout). */
  line(text: string): void;
  /** An error or warning line (stderr). */
  error(text: string): void;
}

/** Options of a session. */
export interface ReplSessionOptions {
  /** Styles (default: none). */
  colors?: Colors;
  /** Print `(0.4 ms)` after each send (default true). */
  timings?: boolean;
  /** Directory `load` resolves relative paths against (default: the current directory). */
  cwd?: string;
  /** Print the stack of each error (default: `STATECRAFT_DEBUG=1` in the environment). */
  debug?: boolean;
}

/** What a line did: ran, failed (an error was printed), or asked to quit. */
export type LineResult = "ok" | "failed" | "exit";

export { ReplError };

/**
 * Runs REPL lines against a runtime.
 *
 * @example
 * ```ts ignore
 * const session = new ReplSession(runtime, { line: console.log, error: console.error });
 * await session.execute("spawn door front"); // front (door): secure.closed
 * await session.execute("send front OPEN"); // OPEN: secure.closed -> secure.opened (0.4 ms)
 * await session.execute('front.state'); // [ "secure.opened" ]
 * ```
 */
export class ReplSession {
  /** The runtime the session drives. */
  readonly runtime: Runtime;
  /** Evaluates code lines. */
  readonly evaluator: Evaluator;
  /** The instance used last (the default of `state`). */
  current: string | null = null;
  /** Lines that failed so far. */
  failures = 0;
  readonly #out: ReplOutput;
  readonly #c: Colors;
  readonly #timings: boolean;
  readonly #cwd: string;
  readonly #debug: boolean;
  readonly #watches = new Map<string, () => void>();
  readonly #loadedFiles = new Set<string>();
  readonly #handles = new Map<string, InstanceHandle>();
  #ids: string[] = [];

  /** A session writing to `out`. */
  constructor(runtime: Runtime, out: ReplOutput, options: ReplSessionOptions = {}) {
    this.runtime = runtime;
    this.#out = out;
    this.#c = options.colors ?? makeColors(false);
    this.#timings = options.timings ?? true;
    this.#cwd = options.cwd ?? Deno.cwd();
    this.#debug = options.debug ?? debugWanted();
    this.evaluator = new Evaluator(() => this.#bindings());
  }

  /** Whether a `watch` is running. */
  get watching(): boolean {
    return this.#watches.size > 0;
  }

  /** Files loaded with `load` (absolute paths). */
  get loadedFiles(): string[] {
    return [...this.#loadedFiles];
  }

  /** Runs one line; errors are printed, never thrown. */
  async execute(line: string): Promise<LineResult> {
    const text = line.trim();
    if (text === "") {
      if (this.watching) this.stopWatching();
      return "ok";
    }
    try {
      const m = /^([a-z]+)(?:\s+([\s\S]*))?$/.exec(text);
      const command = m === null ? undefined : findCommand(m[1]);
      const name = command !== undefined && m !== null && !/^[=(.[`]/.test(m[2] ?? "")
        ? command.name
        : undefined;
      if (name === "exit") return "exit";
      const run = () =>
        name === undefined ? this.#evaluate(text) : this.#command(name, m?.[2] ?? "");
      if (!tracing) await run();
      else await traceLine(name ?? "eval", run);
      return "ok";
    } catch (e) {
      this.failures++;
      this.#printError(e);
      return "failed";
    }
  }

  /**
   * Until the returned function is called, errors that lines leave behind (a timer's callback
   * that throws, a promise rejected with no one waiting, a watcher that throws) are printed as
   * one line each, `error: later, from an earlier line: ...`, and counted as failures; the
   * session goes on. Without this, Deno ends the process on the first one.
   */
  catchLaterErrors(): () => void {
    return catchLater((kind, reason) => this.#printLater(kind, reason));
  }

  /** Stops every watch. */
  stopWatching(): void {
    for (const stop of this.#watches.values()) stop();
    this.#watches.clear();
    this.#out.line(this.#c.dim("stopped watching"));
  }

  /** Instance ids, as last listed (refreshed by `refreshIds`). */
  get instanceIds(): string[] {
    return this.#ids;
  }

  /** Lists the instances again (for completion and the code scope). */
  async refreshIds(): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.runtime.list({ limit: 1000, cursor });
      for (const i of page.items) ids.push(i.id);
      cursor = page.cursor;
    } while (cursor !== undefined && ids.length < 10_000);
    this.#ids = ids;
    return ids;
  }

  /**
   * Loads the machine scripts again (`runtime.reload()`, then the files given to `load`) and
   * prints each outcome; returns them. With `plugins`, the plugin folders too (`reloadPlugins`).
   */
  async reload(prefix = "", plugins = false): Promise<ReloadOutcome[]> {
    const changed = plugins ? await reloadPlugins(this.runtime) : [];
    const outcomes = [
      ...await this.runtime.reload(),
      ...await loadMachineFiles(this.runtime, this.loadedFiles),
    ];
    if (outcomes.length > 0 || changed.length === 0) this.#printOutcomes(outcomes, prefix);
    for (const p of changed) {
      if (p.result === "error") {
        this.#out.error(`${prefix}${this.#c.red("error")} plugin ${p.plugin}: ${p.reason}`);
      } else this.#out.line(`${prefix}${this.#c.green(p.result)} plugin ${p.plugin}`);
    }
    if (changed.some((p) => p.result === "error")) {
      throw new ReplError("reload: some plugins did not load");
    }
    return outcomes;
  }

  /** Scripts the machines came from, for `--watch`. */
  scriptFiles(): string[] {
    const files = new Set<string>();
    for (const m of this.runtime.machines.values()) if (m.file.startsWith("/")) files.add(m.file);
    for (const e of this.runtime.scriptErrors) if (e.file.startsWith("/")) files.add(e.file);
    for (const f of this.#loadedFiles) files.add(f);
    return [...files].sort();
  }

  /** Prints a line (for the CLI's own messages). */
  print(text: string): void {
    this.#out.line(text);
  }

  /** Prints an error line: `error: message` in red, then its causes. */
  printError(e: unknown): void {
    this.#printError(e);
  }

  // ---- commands ----

  async #command(name: string, rest: string): Promise<void> {
    if (findCommand(name)?.args === "") noArguments(name, rest);
    switch (name) {
      case "spawn": {
        const { machine, id, context } = spawnArguments(rest);
        const info = await this.runtime.spawn(machine, id, { context, by: "repl" });
        this.current = info.id;
        if (!this.#ids.includes(info.id)) this.#ids.push(info.id);
        this.#out.line(
          `${this.#c.bold(info.id)} (${info.machine}): ${
            this.#states(info.machine, info.configuration)
          }`,
        );
        return;
      }
      case "send":
        return await this.#send(rest);
      case "state":
        return await this.#state(rest.trim());
      case "ls":
        return await this.#ls(rest);
      case "history": {
        const [id] = words(rest, 1, "history <id>");
        const info = await this.#info(id);
        const entries = await this.runtime.history(id);
        const rows = entries.map((e) => [
          String(e.seq),
          e.kind,
          e.kind === "rollback"
            ? `to ${e.to}`
            : e.kind === "migration"
            ? `${e.from} -> ${e.toVersion}`
            : e.event?.type ?? "",
          `-> ${this.#states(info.machine, e.configuration)}`,
        ]);
        for (const row of table(rows)) this.#out.line(row);
        return;
      }
      case "checkpoint": {
        const [id, label] = words(rest, 2, "checkpoint <id> [label]", 1);
        if (label !== "") checkName(label, "checkpoint: the label");
        const c = await this.runtime.checkpoint(id, label === "" ? undefined : label);
        this.current = id;
        this.#out.line(
          `checkpoint${c.label === undefined ? "" : ` "${c.label}"`} of ${id} at seq ${c.seq}`,
        );
        return;
      }
      case "rollback":
        return await this.#rollback(rest);
      case "undo": {
        const [id] = words(rest, 1, "undo <id>");
        await this.#info(id);
        const info = await this.runtime.undo(id);
        const last = await undoneEntry(this.runtime, id, info.seq);
        this.current = id;
        const what = last?.event?.type ?? last?.kind ?? "the last event";
        this.#out.line(
          `undid ${what} (seq ${last?.seq}): ${id} is in ${
            this.#states(info.machine, info.configuration)
          }`,
        );
        return;
      }
      case "watch":
        return await this.#watch(rest.trim());
      case "plugins":
        return this.#plugins();
      case "call": {
        const [plugin, action, json] = words(rest, 2, "call <plugin> <action> [payload-json]");
        const payload = json === "" ? undefined : parseJson(json, "payload");
        const started = performance.now();
        const result = await this.runtime.call(plugin, action, payload);
        this.#out.line(this.#show(result) + this.#timing(started));
        return;
      }
      case "diagram":
        return await this.#diagram(rest);
      case "load": {
        const [file] = words(rest, 1, "load <file>");
        const abs = file.startsWith("/") ? file : `${this.#cwd.replace(/\/$/, "")}/${file}`;
        try {
          await Deno.stat(abs);
        } catch {
          throw new ReplError(`load: no file ${shown(file)}`);
        }
        const outcomes = await loadMachineFiles(this.runtime, [abs]);
        if (!outcomes.some((o) => o.result === "error")) this.#loadedFiles.add(abs);
        this.#printOutcomes(outcomes, "");
        if (outcomes.some((o) => o.result === "error")) throw new ReplError(`load: ${file} failed`);
        return;
      }
      case "reload": {
        const outcomes = await this.reload("", true);
        if (outcomes.some((o) => o.result === "error")) {
          throw new ReplError("reload: some scripts did not load");
        }
        return;
      }
      case "schedule":
        return await scheduleCommand(this.runtime, rest, (l) => this.#out.line(l));
      case "cancel":
      case "fork":
      case "redrive": {
        const info = await operatorCommand(
          this.runtime.store,
          name,
          rest,
          (i) => this.#states(i.machine, i.configuration),
          (l) => this.#out.line(l),
        );
        this.current = info.id;
        if (!this.#ids.includes(info.id)) this.#ids.push(info.id);
        return;
      }
      case "help":
        return this.#help(rest.trim());
    }
  }

  async #send(rest: string): Promise<void> {
    const [id, type, json] = words(rest, 2, "send <id> <EVENT> [payload-json]");
    if (type.length > 256) {
      throw new ReplError(`send: the event name ${shown(type)} is longer than 256 characters`);
    }
    const payload = json === "" ? {} : parseObject(json, "payload");
    const event: EventObject = { ...payload, type };
    const before = await this.runtime.inspect(id, (i) => ({
      atomic: i.atomicConfiguration,
      can: i.can(event),
    }));
    const started = performance.now();
    const result = await this.runtime.send(id, event, { by: "repl" });
    const timing = this.#timing(started);
    this.current = id;
    const info = await this.runtime.get(id);
    const after = atomicOf(
      info === null ? undefined : this.runtime.machines.get(info.machine)?.machine,
      result.configuration,
    );
    const changed = !before.can && formatStates(before.atomic) === formatStates(after)
      ? this.#c.yellow(" (no transition)")
      : ` -> ${this.#c.green(formatStates(after))}`;
    const done = result.status === "active" ? "" : ` [${result.status}]`;
    this.#out.line(
      `${this.#c.bold(type)}: ${formatStates(before.atomic)}${changed}${done}${timing}`,
    );
  }

  async #state(idArg: string): Promise<void> {
    let id = idArg === "" ? this.current : idArg;
    if (id === null) {
      const ids = await this.refreshIds();
      if (ids.length !== 1) {
        throw new ReplError("state: which instance? (state <id>; ls lists them)");
      }
      id = ids[0];
    }
    const info = await this.#info(id);
    this.current = id;
    const loaded = this.runtime.machines.get(info.machine);
    this.#out.line(
      `${this.#c.bold(info.id)} (${info.machine}) ${info.status}, seq ${info.seq}`,
    );
    const tree = loaded === undefined
      ? info.configuration
      : configurationTree(loaded.machine, info.configuration);
    for (const line of tree) this.#out.line(`  ${this.#c.green(line)}`);
    this.#out.line(`context: ${this.#show(info.context)}`);
    for (const l of failedEffectLines(info)) this.#out.line(this.#c.red(l));
    const accepted = userEvents(await this.runtime.acceptedEvents(id));
    const all = userEvents(await this.runtime.acceptedEvents(id, { ignoreGuards: true }));
    const shown = [
      ...accepted,
      ...all.filter((e) => !accepted.includes(e)).map((e) => `${e} ${this.#c.dim("(guarded)")}`),
    ];
    this.#out.line(`accepts: ${shown.length === 0 ? "(nothing)" : shown.join(", ")}`);
  }

  async #ls(rest = ""): Promise<void> {
    const filter = lsFilter(rest);
    const rows: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await this.runtime.list({ ...filter, limit: 1000, cursor });
      for (const i of page.items) {
        rows.push([i.id, i.machine, i.status, this.#states(i.machine, i.configuration)]);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    this.#ids = rows.map((r) => r[0]);
    if (rows.length === 0) {
      this.#out.line("no instances (spawn <machine> [id] starts one)");
      return;
    }
    for (const row of table(rows)) this.#out.line(row);
  }

  async #rollback(rest: string): Promise<void> {
    const [id, toArg] = words(rest, 2, "rollback <id> [seq|label]", 1);
    let to: { seq: number } | { checkpoint: string };
    let what: string;
    if (toArg === "") {
      const info = await this.#info(id);
      const earlier = (await this.runtime.store.checkpoints(id)).filter((c) => c.seq < info.seq);
      const last = earlier.at(-1);
      if (last === undefined) {
        throw new ReplError(
          `rollback: ${id} has no checkpoint before seq ${info.seq}; give a seq or a label`,
        );
      }
      to = { seq: last.seq };
      what = `seq ${last.seq}${last.label === undefined ? "" : ` ("${last.label}")`}`;
    } else if (/^\d+$/.test(toArg)) {
      to = { seq: Number(toArg) };
      what = `seq ${toArg}`;
    } else {
      to = { checkpoint: toArg };
      what = `"${toArg}"`;
    }
    const info = await this.runtime.rollback(id, to);
    this.current = id;
    this.#out.line(
      `${id} rolled back to ${what}: ${this.#states(info.machine, info.configuration)}`,
    );
  }

  async #watch(idArg: string): Promise<void> {
    const key = idArg === "" ? "*" : idArg;
    if (idArg !== "") await this.#info(idArg);
    if (this.#watches.has(key)) {
      this.#out.line(`already watching ${idArg === "" ? "every instance" : idArg}`);
      return;
    }
    const stop = this.runtime.watch(
      (t) => this.#out.line(this.#transition(t)),
      idArg === "" ? undefined : idArg,
    );
    this.#watches.set(key, stop);
    this.#out.line(
      this.#c.dim(
        `watching ${idArg === "" ? "every instance" : idArg} (Enter on an empty line stops)`,
      ),
    );
  }

  #transition(t: TransitionEvent): string {
    const machine = this.runtime.machines.get(t.machine)?.machine;
    const from = formatStates(atomicOf(machine, t.from));
    const to = formatStates(atomicOf(machine, t.to));
    const done = t.status === "active" ? "" : ` [${t.status}]`;
    const change = from === to ? ` (same states)` : ` -> ${this.#c.green(to)}`;
    return `${this.#c.cyan(`[${t.instance}]`)} ${this.#c.bold(t.event)}: ${from}${change}${done} ${
      this.#c.dim(`(seq ${t.seq})`)
    }`;
  }

  #plugins(): void {
    const rows = pluginRows(this.runtime).map((p) => [
      p.name,
      p.version,
      p.mode,
      p.failed ? this.#c.red(p.state) : p.state,
      p.detail,
    ]);
    if (rows.length === 0) {
      this.#out.line("no plugins");
      return;
    }
    for (const row of table(rows)) this.#out.line(row);
  }

  async #diagram(rest: string): Promise<void> {
    const words = rest.trim().split(/\s+/).filter((w) => w !== "");
    const mermaid = words.includes("--mermaid");
    const target = words.filter((w) => w !== "--mermaid");
    if (target.length !== 1) throw new ReplError("usage: diagram <id|machine> [--mermaid]");
    let machineId = target[0];
    let configuration: string[] = [];
    const info = await this.runtime.get(target[0]);
    if (info !== null) {
      machineId = info.machine;
      configuration = info.configuration;
      this.current = info.id;
    } else if (!this.runtime.machines.has(machineId)) {
      throw new ReplError(`diagram: no instance or machine ${shown(target[0])}`);
    }
    const loaded = this.runtime.machines.get(machineId);
    if (loaded === undefined) throw new ReplError(`diagram: machine "${machineId}" is not loaded`);
    if (mermaid) {
      const text = mermaidWithActive(loaded.machine, configuration);
      for (const line of text.trimEnd().split("\n")) this.#out.line(line);
      return;
    }
    for (const line of chartTree(loaded.machine, configuration, this.#c)) this.#out.line(line);
  }

  #help(name: string): void {
    if (name !== "") {
      const c = findCommand(name);
      if (c === undefined) throw new ReplError(`help: no command ${shown(name)} (help lists them)`);
      this.#out.line(`${this.#c.bold(c.name)} ${c.args}`.trimEnd());
      this.#out.line(`  ${c.summary}`);
      if (c.details !== undefined) this.#out.line(`  ${c.details}`);
      return;
    }
    for (const row of table(COMMANDS.map((c) => [`${c.name} ${c.args}`.trimEnd(), c.summary]))) {
      this.#out.line(row);
    }
    this.#out.line("");
    this.#out.line(
      "Any other line is JavaScript or TypeScript (top-level await), with `runtime` and a",
    );
    this.#out.line(
      'handle per instance in scope: await front.send("OPEN"), front.state, front.context,',
    );
    this.#out.line(
      "front.accepts, front.matches(id), front.history(), front.checkpoint(label), front.undo();",
    );
    this.#out.line('any id: (await $("door-1")).state. Declarations (const x = ...) persist.');
  }

  // ---- code lines ----

  async #evaluate(code: string): Promise<void> {
    const ids = await this.refreshIds();
    // Refresh the handles the line names, so their synchronous reads are current: the names
    // in the line, found in one pass (not one search per instance).
    const named = namesIn(code);
    for (const id of ids) {
      if (!named.has(id) || !isBindableName(id)) continue;
      await this.#handle(id).refresh();
    }
    const { value, hasValue } = await this.evaluator.evaluate(code);
    if (hasValue && value !== undefined) this.#out.line(this.#show(value));
  }

  #bindings(): Map<string, unknown> {
    const map = new Map<string, unknown>([
      ["runtime", this.runtime],
      // A handle for any id, identifier or not: `(await $("door-1")).state`.
      ["$", (id: string) => this.#handle(id).refresh()],
    ]);
    for (const id of this.#ids) {
      if (!isBindableName(id) || id === "runtime") continue;
      map.set(id, this.#handle(id));
    }
    return map;
  }

  #handle(id: string): InstanceHandle {
    let handle = this.#handles.get(id);
    if (handle === undefined) {
      handle = new InstanceHandle(this.runtime, id);
      this.#handles.set(id, handle);
    }
    return handle;
  }

  // ---- helpers ----

  async #info(id: string) {
    const info = await this.runtime.get(id);
    if (info === null) throw new ReplError(`no instance ${shown(id)} (ls lists them)`);
    return info;
  }

  #states(machine: string, configuration: string[]): string {
    return formatStates(atomicOf(this.runtime.machines.get(machine)?.machine, configuration));
  }

  #timing(started: number): string {
    if (!this.#timings) return "";
    const ms = performance.now() - started;
    return this.#c.dim(` (${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms)`);
  }

  #show(value: unknown): string {
    return Deno.inspect(value, {
      colors: this.#c.enabled,
      depth: 6,
      breakLength: 100,
      strAbbreviateSize: 1000,
    });
  }

  #relative(file: string): string {
    const dir = `${this.runtime.projectDir}/`;
    return file.startsWith(dir) ? file.slice(dir.length) : file;
  }

  #printOutcomes(outcomes: ReloadOutcome[], prefix: string): void {
    if (outcomes.length === 0) {
      this.#out.line(`${prefix}no changes`);
      return;
    }
    for (const o of outcomes) {
      const where = this.#relative(o.file);
      const reason = o.reason === undefined ? "" : `: ${o.reason}`;
      if (o.result === "error") {
        this.#out.error(`${prefix}${this.#c.red("error")} ${where}${reason}`);
        continue;
      }
      const result = o.result === "kept" ? this.#c.yellow(o.result) : this.#c.green(o.result);
      this.#out.line(`${prefix}${result} ${o.machine} (${where})${reason}`);
    }
  }

  #printError(e: unknown): void {
    const message = e instanceof ReplError || (e instanceof Error && isPlainError(e))
      ? e.message
      : e instanceof Error
      ? `${e.name}: ${e.message}`
      : `uncaught ${this.#showSafely(e)}`;
    this.#out.error(this.#c.red(`error: ${capped(message)}`));
    let cause = e instanceof Error ? e.cause : undefined;
    for (let depth = 0; cause !== undefined && depth < 5; depth++) {
      const text = cause instanceof Error
        ? `${cause.name}: ${cause.message}`
        : this.#showSafely(cause);
      this.#out.error(this.#c.red(`  cause: ${capped(text)}`));
      cause = cause instanceof Error ? cause.cause : undefined;
    }
    this.#printStack(e);
  }

  /** One line for what a line left behind failed with (its stack too when debugging). */
  #printLater(kind: LaterKind, reason: unknown): void {
    this.failures++;
    const what = reason instanceof Error
      ? `${reason.name}: ${reason.message}`
      : this.#showSafely(reason);
    const label = kind === "uncaught" ? "uncaught" : "unhandled rejection";
    const text = capped(`${label} ${what}`).replace(/\s*\n\s*/g, " ");
    this.#out.error(this.#c.red(`error: later, from an earlier line: ${text}`));
    this.#printStack(reason);
  }

  #printStack(e: unknown): void {
    if (!this.#debug || !(e instanceof Error) || typeof e.stack !== "string") return;
    for (const line of e.stack.split("\n").slice(1)) this.#out.error(this.#c.dim(line));
  }

  /** A value as `Deno.inspect` shows it, or a stand-in when inspecting it throws. */
  #showSafely(value: unknown): string {
    try {
      return this.#show(value);
    } catch {
      return `(a ${typeof value} that cannot be shown)`;
    }
  }
}

/**
 * Events a user sends: without the platform's own (`done.state.*`, `done.invoke.*`,
 * `error.*`), which the engine raises itself.
 */
export function userEvents(events: string[]): string[] {
  return events.filter((e) => !/^(done|error)\./.test(e));
}

/** The identifiers a line names (not after a `.`), in one pass over it. */
function namesIn(code: string): Set<string> {
  const names = new Set<string>();
  for (const m of code.matchAll(/(?<![\w$.])[A-Za-z_$][\w$]*/g)) names.add(m[0]);
  return names;
}

/** A message cut to `max` characters, saying how many were left out. */
function capped(message: string, max = 2000): string {
  if (message.length <= max) return message;
  return `${message.slice(0, max)}... (${message.length - max} more characters)`;
}

/** Whether `STATECRAFT_DEBUG=1`, asked without a permission prompt. */
function debugWanted(): boolean {
  const env = { name: "env", variable: "STATECRAFT_DEBUG" } as const;
  if (Deno.permissions.querySync(env).state !== "granted") return false;
  return Deno.env.get("STATECRAFT_DEBUG") === "1";
}

/** Errors whose message says it all (the store's, the engine's); others show their name. */
function isPlainError(e: Error): boolean {
  return ["Error", "StoreError", "EventError", "CliError", "PluginError", "ManifestError"]
    .includes(e.name);
}

/** Rows as columns separated by two spaces (the last column not padded). */
function table(rows: string[][]): string[] {
  // deno-lint-ignore no-control-regex
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, visible(cell)));
  }
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell + " ".repeat(widths[i] - visible(cell)))
      .join("  ").trimEnd()
  );
}
