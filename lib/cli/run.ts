/**
 * `statecraft run <machine.ts>`: starts a machine in memory, feeds it events from `--events`
 * or `--events-file`, lets time pass (virtual or real), prints one line per processed event
 * (`OPEN: closed -> open`, atomic configuration before and after) and, at the end, the
 * status, configuration and context.
 *
 * With `--kv`, `--plugins`, `--config` or `--durable`, the machine runs as a durable instance of
 * a `Runtime` instead (plugins loaded, every event committed to Deno KV before the next), on
 * real time; the output has the same shape, headed by the instance id.
 *
 * @module
 */
import type { MachineInstance, MonitorRecord } from "../core/types.ts";
import { compiledOf, type Machine } from "../core/machine.ts";
import { SystemClock, VirtualClock } from "../core/clock.ts";
import { EventError } from "../core/errors.ts";
import { parseDuration } from "../core/duration.ts";
import { CliError } from "./cli_error.ts";
import { importLazily } from "./lazy_import.ts";
import { loadMachine } from "./load.ts";
import { parseEventList, readEventFile, type ScriptStep } from "./event_script.ts";
import type { Runtime, TransitionEvent } from "../runtime/runtime.ts";

/** Options of `statecraft run`, as commander parses them. */
export interface RunOptions {
  /** Comma-separated event names and `wait:<duration>` tokens. */
  events?: string;
  /** A JSONL file of events and waits. */
  eventsFile?: string;
  /** Drive timers with a `VirtualClock` instead of the wall clock. */
  virtualTime?: boolean;
  /** How long to let time pass after the events (virtual default `1m`, real default `0`). */
  for?: string;
  /** The machine id to run when the script exports several. */
  machine?: string;
  /** Durable: the KV store (path, `:memory:` or KV Connect URL); default from the config. */
  kv?: string;
  /** Durable: plugin directories (each holds plugin folders); default from the config. */
  plugins?: string[];
  /** Durable: the `statecraft.yaml` to read (default `./statecraft.yaml` when present). */
  config?: string;
  /** Durable: run through the Runtime even with none of `kv`, `plugins`, `config`. */
  durable?: boolean;
  /** Durable: the instance id (an existing instance continues); default `<machine>-<time>`. */
  instance?: string;
  /** SCXML: evaluate the document's expressions in this process, not a permission-less Worker. */
  trusted?: boolean;
  /** SCXML without `trusted`: how long the document may run without yielding (default 5s). */
  timeLimit?: string;
}

/** Whether the options ask for a durable instance (a `Runtime`) rather than one in memory. */
export function isDurable(options: RunOptions): boolean {
  return options.durable === true || options.kv !== undefined || options.plugins !== undefined ||
    options.config !== undefined || options.instance !== undefined;
}

/** Where `run` writes: transitions and the final state go to `line`, warnings to `warn`. */
export type { RunOutput } from "./run_output.ts";
import type { RunOutput } from "./run_output.ts";

const CONSOLE: RunOutput = {
  line: (text) => console.log(text),
  warn: (text) => console.error(text),
};

/** More timer firings than this in one run means a timer loop, not a simulation. */
const MAX_TIMER_FIRINGS = 100_000;

/**
 * Runs a machine script; returns the process exit code: 0 when the events ran out or the
 * machine is done, 1 when an event was rejected or the machine failed. User mistakes (bad
 * options, a script that does not load, a malformed events file) throw a `CliError`.
 *
 * @example
 * ```ts ignore
 * import { runCommand } from "./run.ts";
 * const code = await runCommand("examples/door.ts", { events: "OPEN,CLOSE" });
 * ```
 */
export async function runCommand(
  file: string,
  options: RunOptions,
  out: RunOutput = CONSOLE,
): Promise<number> {
  if (options.events !== undefined && options.eventsFile !== undefined) {
    throw new CliError("use either --events or --events-file, not both");
  }
  const virtual = options.virtualTime === true;
  const durable = isDurable(options);
  if (durable && virtual) {
    throw new CliError(
      "--virtual-time runs in memory: a durable instance (--kv, --plugins, --config, " +
        "--durable) keeps real time; use --for to let it pass",
    );
  }
  let forMs = virtual ? 60_000 : 0;
  if (options.for !== undefined) {
    const ms = parseDuration(options.for);
    if (ms === undefined) {
      throw new CliError(
        `--for: "${options.for}" is not a duration (milliseconds, or 500ms, 2s, 1m, 1h)`,
      );
    }
    forMs = ms;
  }
  const steps: ScriptStep[] = options.events !== undefined
    ? parseEventList(options.events)
    : options.eventsFile !== undefined
    ? await readEventFile(options.eventsFile)
    : [];
  if (/\.scxml$/i.test(file) && options.trusted !== true) {
    if (durable) {
      throw new CliError(
        "a durable run evaluates the SCXML document's expressions in this process: " +
          "add --trusted if you trust the document",
      );
    }
    // Untrusted documents: their expressions run in a Worker with no permissions.
    const { runScxmlIsolated } = await importLazily<typeof import("./run_scxml.ts")>(
      import.meta.url,
      "./run_scxml.ts",
    );
    let limitMs: number | undefined;
    if (options.timeLimit !== undefined) {
      limitMs = parseDuration(options.timeLimit);
      if (limitMs === undefined) {
        throw new CliError(
          `--time-limit: "${options.timeLimit}" is not a duration (milliseconds, or 500ms, 2s)`,
        );
      }
    }
    return await runScxmlIsolated(file, steps, forMs, virtual, out, limitMs);
  }
  const { machine } = await loadMachine(file, options.machine);
  if (durable) return await runDurable(machine, steps, forMs, options, out);
  return await runInMemory(machine, steps, forMs, virtual, out);
}

/**
 * Runs a loaded machine in memory (the in-memory half of `runCommand`; also what the
 * SCXML isolation Worker runs). Returns the exit code.
 */
export async function runInMemory(
  machine: Machine,
  steps: ScriptStep[],
  forMs: number,
  virtual: boolean,
  out: RunOutput,
): Promise<number> {
  const clock = virtual ? new VirtualClock() : new SystemClock();
  // Listening from the start: the initial states' entry actions log and fail too.
  const printer = new Printer(out);
  const instance = startInstance(machine, clock, (record) => printer.record(record));
  printer.instance = instance;
  out.line(`start: ${formatStates(instance.atomicConfiguration)}`);

  let code = 0;
  try {
    for (const step of steps) {
      if (step.kind === "wait") {
        out.line(`wait ${formatDuration(step.ms)}`);
        if (clock instanceof VirtualClock) await advanceVirtual(clock, step.ms);
        else await printer.sleep(step.ms);
        continue;
      }
      try {
        instance.send(step.event);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        if (e instanceof EventError) {
          // The engine's message names the event and why it was rejected.
          out.warn(`error: ${step.origin}: ${message}`);
        } else {
          out.warn(
            `error: ${step.origin}: machine "${machine.id}" failed on event ` +
              `"${step.event.type}": ${message}`,
          );
        }
        code = 1;
        break;
      }
      await settle(false);
    }
    if (code === 0 && instance.status === "active") {
      if (clock instanceof VirtualClock) await runVirtual(clock, instance, forMs);
      else if (forMs > 0) await printer.sleep(forMs);
    }
  } finally {
    printer.dispose();
  }

  out.line(`status: ${instance.status}`);
  out.line(`configuration: ${formatStates(instance.configuration)}`);
  out.line(`context: ${show(instance.context)}`);
  if (instance.status === "done" && instance.output !== undefined) {
    out.line(`output: ${show(instance.output)}`);
  }
  instance.stop();
  return code;
}

/**
 * Runs the machine as a durable instance of a Runtime opened on the options (the script's
 * machine only: the configuration's machine globs are not loaded). Transitions are printed as
 * they are committed, timer firings and invocation results included.
 */
async function runDurable(
  machine: Machine,
  steps: ScriptStep[],
  forMs: number,
  options: RunOptions,
  out: RunOutput,
): Promise<number> {
  // Loaded on demand: the store, plugins and their YAML/zod cost ~150 ms an in-memory run skips.
  const { Runtime } = await importLazily<typeof import("../runtime/runtime.ts")>(
    import.meta.url,
    "../runtime/runtime.ts",
  );
  // Paths given on the command line are the user's, relative to the working directory; those
  // in a configuration file are relative to its folder (the project).
  const cwd = Deno.cwd();
  const fromCwd = (p: string) => p.startsWith("/") ? p : `${cwd}/${p}`;
  const config = options.config === undefined ? undefined : fromCwd(options.config);
  const isPath = (kv: string) => !kv.startsWith(":") && !/^[a-z][a-z0-9+.-]*:\/\//i.test(kv);
  let runtime: Runtime;
  try {
    runtime = await Runtime.open({
      projectDir: config === undefined ? cwd : config.slice(0, config.lastIndexOf("/")) || "/",
      configFile: config,
      kv: options.kv === undefined || !isPath(options.kv) ? options.kv : fromCwd(options.kv),
      plugins: options.plugins?.map(fromCwd),
      machines: [],
      extraMachines: [machine as Machine<Record<string, unknown>>],
      log: (level, message) => {
        if (level !== "debug") out.warn(level === "info" ? message : `${level}: ${message}`);
      },
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && options.config !== undefined) {
      throw new CliError(`--config: ${options.config}: file not found`);
    }
    throw new CliError(`cannot open the runtime: ${messageOf(e)}`);
  }
  const atomic = (ids: readonly string[]) =>
    formatStates(
      ids.filter((id) => (compiledOf(machine).byId.get(id)?.children.length ?? 0) === 0),
    );
  const id = options.instance ?? `${machine.id}-${Date.now().toString(36)}`;
  let status = "active";
  const waiting: { wake: (() => void) | null } = { wake: null };
  const unwatch = runtime.watch((t: TransitionEvent) => {
    if (t.kind === "create") return;
    status = t.status;
    const suffix = t.status === "active" ? "" : ` (${t.status})`;
    const before = atomic(t.from), after = atomic(t.to);
    out.line(
      before === after
        ? `${t.event}: ${before} (no change)${suffix}`
        : `${t.event}: ${before} -> ${after}${suffix}`,
    );
    if (t.status !== "active") waiting.wake?.();
  }, id);
  /** Waits `ms` of real time, or until the instance is no longer active. */
  const sleep = (ms: number) =>
    status !== "active" ? Promise.resolve() : new Promise<void>((resolve) => {
      const timer = setTimeout(() => (waiting.wake = null, resolve()), ms);
      waiting.wake = () => (clearTimeout(timer), waiting.wake = null, resolve());
    });

  let code = 0;
  try {
    const loaded = runtime.pluginReport.loaded.map((p) => p.name).sort();
    if (loaded.length > 0) out.line(`plugins: ${loaded.join(", ")}`);
    let info = await runtime.get(id);
    if (info === null) {
      info = await runtime.spawn(machine.id, id).catch((e) => {
        throw new CliError(`machine "${machine.id}" failed to start: ${messageOf(e)}`);
      });
      out.line(`instance: ${id}`);
    } else {
      if (info.machine !== machine.id) {
        throw new CliError(`instance "${id}" is a "${info.machine}", not a "${machine.id}"`);
      }
      out.line(`instance: ${id} (continued at seq ${info.seq})`);
    }
    status = info.status;
    out.line(`start: ${atomic(info.configuration)}`);
    for (const step of steps) {
      if (step.kind === "wait") {
        out.line(`wait ${formatDuration(step.ms)}`);
        await sleep(step.ms);
        continue;
      }
      try {
        await runtime.send(id, step.event);
      } catch (e) {
        out.warn(`error: ${step.origin}: ${messageOf(e)}`);
        code = 1;
        break;
      }
    }
    if (code === 0 && forMs > 0) await sleep(forMs);
    const last = await runtime.get(id);
    if (last !== null) {
      out.line(`status: ${last.status}`);
      out.line(`configuration: ${formatStates(last.configuration)}`);
      out.line(`context: ${show(last.context)}`);
      const output = await runtime.inspect(id, (i) => i.output).catch(() => undefined);
      if (last.status === "done" && output !== undefined) out.line(`output: ${show(output)}`);
    }
  } finally {
    unwatch();
    waiting.wake?.();
    await runtime.close();
  }
  return code;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function startInstance(
  machine: Machine,
  clock: SystemClock | VirtualClock,
  listener: (record: MonitorRecord) => void,
): MachineInstance {
  try {
    return machine.start({ clock, listener });
  } catch (e) {
    throw new CliError(
      `machine "${machine.id}" failed to start: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** Turns monitoring records into one line per processed event, and warnings. */
class Printer {
  /** Set once the instance has started (its start sends no "event" or counted "macrostep"). */
  instance: MachineInstance | null = null;
  readonly #out: RunOutput;
  #pending: { event: string; before: string[]; transitions: number } | null = null;
  #wake: (() => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #disposed = false;

  constructor(out: RunOutput) {
    this.#out = out;
  }

  get #instance(): MachineInstance {
    return this.instance!;
  }

  record(r: MonitorRecord): void {
    if (this.#disposed) return;
    switch (r.kind) {
      case "event":
        this.#pending = {
          event: r.event.type,
          before: this.#instance.atomicConfiguration,
          transitions: 0,
        };
        break;
      case "transition":
        if (this.#pending !== null) this.#pending.transitions++;
        break;
      case "macrostep": {
        const p = this.#pending;
        this.#pending = null;
        if (p === null) break;
        const status = this.#instance.status;
        const suffix = status === "active" ? "" : ` (${status})`;
        if (p.transitions === 0) {
          this.#out.line(`${p.event}: ${formatStates(p.before)} (no transition)${suffix}`);
        } else {
          const after = formatStates(this.#instance.atomicConfiguration);
          this.#out.line(`${p.event}: ${formatStates(p.before)} -> ${after}${suffix}`);
        }
        if (status !== "active") this.#wake?.();
        break;
      }
      case "error":
        this.#out.warn(
          r.event === ""
            ? `warning: error while starting: ${r.error}`
            : `warning: error while processing "${r.event}": ${r.error}`,
        );
        break;
      case "log":
        this.#out.line(
          `log: ${r.values.map((v) => typeof v === "string" ? v : show(v)).join(" ")}`,
        );
        break;
    }
  }

  /** Waits `ms` of real time, or until the machine is no longer active. */
  sleep(ms: number): Promise<void> {
    if (this.#instance.status !== "active") return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#wake = null;
        resolve();
      };
      this.#wake = wake;
      this.#timer = setTimeout(wake, ms);
    });
  }

  dispose(): void {
    this.#disposed = true;
    this.#wake?.();
  }
}

/** Advances virtual time by `ms`, firing due timers in order and letting promises settle. */
async function advanceVirtual(clock: VirtualClock, ms: number): Promise<void> {
  const end = clock.now() + ms;
  let fired = 0;
  for (;;) {
    const next = clock.nextDue();
    if (next === undefined || next > end) break;
    fired += clock.advance(next - clock.now());
    checkFirings(fired, clock);
    await settle(false);
  }
  clock.advance(end - clock.now());
  await settle(true);
}

/** After the events: fire timers until the machine is done or `forMs` of virtual time passed. */
async function runVirtual(
  clock: VirtualClock,
  instance: MachineInstance,
  forMs: number,
): Promise<void> {
  const end = clock.now() + forMs;
  let fired = 0;
  while (instance.status === "active") {
    let next = clock.nextDue();
    if (next === undefined) {
      // An invocation may still be about to deliver: let every pending promise settle once.
      await settle(true);
      next = clock.nextDue();
      if (next === undefined) break;
    }
    if (next > end) break;
    fired += clock.advance(next - clock.now());
    checkFirings(fired, clock);
    await settle(false);
  }
}

function checkFirings(fired: number, clock: VirtualClock): void {
  if (fired > MAX_TIMER_FIRINGS) {
    throw new CliError(
      `more than ${MAX_TIMER_FIRINGS} timers fired (virtual time ${
        formatDuration(clock.now())
      }): the machine looks stuck in a timer loop; stopped`,
    );
  }
}

/**
 * Lets promise callbacks run (an invocation that already resolved delivers its done event).
 * `full` also lets one macrotask turn pass, which is slower.
 */
async function settle(full: boolean): Promise<void> {
  for (let i = 0; i < 20; i++) await null;
  if (full) await new Promise((resolve) => setTimeout(resolve, 0));
}

function formatStates(ids: readonly string[]): string {
  return ids.length === 0 ? "(none)" : ids.join(", ");
}

/** `1500` -> `1.5s`, `60000` -> `1m`, `250` -> `250ms`. */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 60_000 === 0) return `${trim(ms / 3_600_000)}h`;
  if (ms >= 60_000 && ms % 1000 === 0) return `${trim(ms / 60_000)}m`;
  if (ms >= 1000) return `${trim(ms / 1000)}s`;
  return `${trim(ms)}ms`;
}

function trim(n: number): string {
  return String(Number(n.toFixed(3)));
}

function show(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // Cycles, BigInt: fall back to the inspector.
  }
  return Deno.inspect(value, { depth: 4, colors: false, compact: true, breakLength: Infinity });
}
