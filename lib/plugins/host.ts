/**
 * Plugin hosts: one `PluginHost` interface, three isolation adapters.
 *
 * - `worker`: a Web Worker created with Deno permissions built from the manifest (read access
 *   to the plugin's own folder, to load its code, plus what it declares; never more than this
 *   process has). Cheap and fast; cannot stop a busy loop (`Worker.terminate()` does not, in
 *   Deno 2.9), so a plugin that stops answering is reported stuck.
 * - `process`: a `deno` subprocess with the same permissions as flags and a V8 heap cap; the
 *   only mode that enforces CPU (killed on timeout) and memory limits.
 * - `trusted`: the plugin's module in this process, through the same protocol.
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import { MANIFEST_FILE, type PluginPermissions } from "./manifest.ts";
import { permissionHint } from "./permission_hint.ts";
import type { HookName, IsolationMode } from "./types.ts";
import { PluginHostError } from "./types.ts";
import type { HostMessage, InitData, PluginMessage, RemoteError, ServiceName } from "./protocol.ts";
import { isPluginMessage, toRemoteError } from "./protocol.ts";
import { runPlugin } from "./plugin_runtime.ts";
import { PluginError } from "./types.ts";
import {
  contextFrom,
  runIn,
  SpanKind,
  traced,
  traceparent,
  tracing,
} from "../telemetry/tracing.ts";

/**
 * A manifest's permissions as a host applies them: {@linkcode PluginPermissions} with every
 * relative path resolved against the plugin folder (`loadManifest` does that).
 */
export type ResolvedPermissions = PluginPermissions;

/** What the host offers plugins: services, the bus, logging. */
export interface HostServices {
  service(plugin: string, name: ServiceName, args: unknown[]): Promise<unknown>;
  emit(plugin: string, event: EventObject): void;
  log(
    plugin: string,
    level: "debug" | "info" | "warn" | "error",
    message: string,
    data?: unknown,
  ): void;
}

/** Everything a host needs to run one plugin. */
export interface HostOptions {
  name: string;
  version: string;
  /** The plugin's folder (absolute). */
  dir: string;
  /** The entry module (absolute path). */
  entryPath: string;
  config: Record<string, unknown>;
  permissions: ResolvedPermissions;
  limits: { callTimeoutMs: number; memoryMb: number; maxMessageBytes: number };
  services: HostServices;
  /** Called once if the plugin dies or is killed (not after a clean `stop`). */
  onExit?: (reason: string) => void;
  /** The `deno` executable for process mode (default `"deno"` on the PATH). */
  denoPath?: string;
  /** Appended to the module URL (`?v=`): the same content is the same cached module. */
  moduleVersion?: string;
}

/** A running plugin, whatever its isolation. */
export interface PluginHost {
  readonly mode: IsolationMode;
  readonly name: string;
  /** False once it has stopped, died or been killed. */
  readonly alive: boolean;
  /** Loads the plugin's module; resolves with the actions it exports. */
  start(): Promise<string[]>;
  lifecycle(phase: "load" | "unload" | "reload"): Promise<void>;
  /** `effectId`: the idempotency key the action sees as `ctx.effectId`. */
  call(
    action: string,
    payload: unknown,
    timeoutMs?: number,
    effectId?: string,
  ): Promise<unknown>;
  event(event: EventObject, descriptor: string): Promise<void>;
  hook(hook: HookName, data: unknown): Promise<void>;
  /** Whether it answers within `timeoutMs`. */
  ping(timeoutMs: number): Promise<boolean>;
  /** Runs nothing more and releases the plugin (worker terminated, process ended). */
  stop(): Promise<void>;
  /** Ends it at once (process mode: SIGKILL). */
  kill(reason: string): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  what: string;
}

/** Size of a value as it would cross the boundary (JSON length; an estimate for workers). */
export function messageBytes(value: unknown): number {
  try {
    return (JSON.stringify(value) ?? "").length;
  } catch {
    return 0;
  }
}

/** Request/response bookkeeping, timeouts, size limits and service forwarding. */
abstract class RpcHost implements PluginHost {
  abstract readonly mode: IsolationMode;
  readonly name: string;
  protected readonly options: HostOptions;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #alive = true;
  #exitReported = false;

  constructor(options: HostOptions) {
    this.options = options;
    this.name = options.name;
  }

  get alive(): boolean {
    return this.#alive;
  }

  protected abstract post(message: HostMessage): void;
  protected abstract terminate(): void;

  /** An error the plugin sent back, as the caller sees it. */
  protected pluginError(remote: RemoteError): PluginError {
    return new PluginError(this.name, remote);
  }

  /** What a call that did not answer in time does to the plugin (process mode: kill it). */
  protected onTimeout(_what: string): void {}

  /**
   * Makes the channel to the plugin (a worker, a process, an in-memory pair); the plugin's
   * side then waits for `init`.
   */
  protected abstract launch(): Promise<void> | void;

  /** Launches the plugin and loads its module; resolves with the actions it exports. */
  async start(): Promise<string[]> {
    await this.launch();
    const init: InitData = {
      name: this.options.name,
      version: this.options.version,
      entryUrl: toFileUrl(this.options.entryPath) +
        (this.options.moduleVersion === undefined ? "" : `?v=${this.options.moduleVersion}`),
      config: this.options.config,
      maxMessageBytes: this.options.limits.maxMessageBytes,
    };
    const v = await this.#request(
      { t: "init", init },
      this.options.limits.callTimeoutMs * 2,
      "init",
    );
    const actions = (v as { actions?: unknown } | null)?.actions;
    return Array.isArray(actions) ? actions.filter((a) => typeof a === "string") : [];
  }

  lifecycle(phase: "load" | "unload" | "reload"): Promise<void> {
    return this.#request({ t: "lifecycle", phase }, this.options.limits.callTimeoutMs, `on${phase}`)
      .then(() => {});
  }

  call(
    action: string,
    payload: unknown,
    timeoutMs?: number,
    effectId?: string,
  ): Promise<unknown> {
    const bytes = messageBytes(payload);
    if (bytes > this.options.limits.maxMessageBytes) {
      return Promise.reject(
        new PluginHostError(
          "too_large",
          `call ${this.name}.${action}: payload of ${bytes} bytes is over the limit of ` +
            `${this.options.limits.maxMessageBytes}`,
        ),
      );
    }
    const message: DistributiveOmit<HostMessage, "id"> = effectId === undefined
      ? { t: "call", action, payload }
      : { t: "call", action, payload, effectId };
    const timeout = timeoutMs ?? this.options.limits.callTimeoutMs;
    const what = `${this.name}.${action}`;
    if (!tracing) return this.#request(message, timeout, what);
    // OpenTelemetry on: a span for the call; its traceparent crosses with the request.
    const attributes: Record<string, string> = {
      "statecraft.plugin": this.name,
      "statecraft.action": action,
      "statecraft.isolation": this.mode,
    };
    if (effectId !== undefined) attributes["statecraft.effect_id"] = effectId;
    return traced(
      `statecraft.plugin ${what}`,
      { kind: SpanKind.CLIENT, attributes },
      () => this.#request({ ...message, trace: traceparent() }, timeout, what),
    );
  }

  event(event: EventObject, descriptor: string): Promise<void> {
    const tooBig = this.#oversized(event, `event ${event.type}`);
    if (tooBig !== null) return Promise.reject(tooBig);
    return this.#request(
      { t: "event", event, descriptor, trace: tracing ? traceparent() : undefined },
      this.options.limits.callTimeoutMs,
      `event ${event.type}`,
    )
      .then(() => {});
  }

  hook(hook: HookName, data: unknown): Promise<void> {
    const tooBig = this.#oversized(data, `hook ${hook}`);
    if (tooBig !== null) return Promise.reject(tooBig);
    return this.#request(
      { t: "hook", hook, data, trace: tracing ? traceparent() : undefined },
      this.options.limits.callTimeoutMs,
      `hook ${hook}`,
    )
      .then(() => {});
  }

  #oversized(value: unknown, what: string): PluginHostError | null {
    const bytes = messageBytes(value);
    if (bytes <= this.options.limits.maxMessageBytes) return null;
    return new PluginHostError(
      "too_large",
      `${what} for ${this.name}: ${bytes} bytes is over the limit of ${this.options.limits.maxMessageBytes}`,
    );
  }

  ping(timeoutMs: number): Promise<boolean> {
    return this.#request({ t: "ping" }, timeoutMs, "ping", true).then(() => true, () => false);
  }

  stop(): Promise<void> {
    if (!this.#alive) return Promise.resolve();
    this.#alive = false;
    this.#exitReported = true;
    this.#failAll(new PluginHostError("not_running", `plugin "${this.name}" was stopped`));
    this.terminate();
    return Promise.resolve();
  }

  kill(reason: string): void {
    if (!this.#alive) return;
    this.#alive = false;
    this.terminate();
    this.died(reason);
  }

  /** The plugin died: fail what is pending, report once. */
  protected died(reason: string): void {
    this.#alive = false;
    this.#failAll(new PluginHostError("crashed", `plugin "${this.name}" ${reason}`));
    if (!this.#exitReported) {
      this.#exitReported = true;
      this.options.onExit?.(reason);
    }
  }

  #failAll(error: Error): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(error);
    }
  }

  #request(
    message: DistributiveOmit<HostMessage, "id">,
    timeoutMs: number,
    what: string,
    quiet = false,
  ): Promise<unknown> {
    if (!this.#alive) {
      return Promise.reject(
        new PluginHostError("not_running", `plugin "${this.name}" is not running`),
      );
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject, timer: undefined, what };
      pending.timer = setTimeout(() => {
        if (this.#pending.get(id) !== pending) return;
        this.#pending.delete(id);
        reject(new PluginHostError("timeout", `${what} did not answer within ${timeoutMs} ms`));
        if (!quiet) this.onTimeout(what);
      }, timeoutMs);
      this.#pending.set(id, pending);
      try {
        this.post({ ...message, id } as HostMessage);
      } catch (e) {
        clearTimeout(pending.timer);
        this.#pending.delete(id);
        reject(new PluginHostError("invalid", `${what}: ${toRemoteError(e).message}`));
      }
    });
  }

  /** A message from the plugin. `bytes` is its size when the transport knows it. */
  protected handle(raw: unknown, bytes?: number): void {
    if (!isPluginMessage(raw)) {
      this.kill(`sent a message that is not part of the protocol`);
      return;
    }
    const message = raw as PluginMessage;
    const size = bytes ?? messageBytes(message);
    if (size > this.options.limits.maxMessageBytes) {
      if (message.t === "result") {
        const p = this.#pending.get(message.id);
        if (p !== undefined) {
          clearTimeout(p.timer);
          this.#pending.delete(message.id);
          p.reject(
            new PluginHostError(
              "too_large",
              `${p.what}: the answer of ${size} bytes is over the limit of ${this.options.limits.maxMessageBytes}`,
            ),
          );
        }
      }
      this.options.services.log(
        this.name,
        "warn",
        `message of ${size} bytes dropped (over the limit)`,
      );
      return;
    }
    switch (message.t) {
      case "result": {
        const p = this.#pending.get(message.id);
        if (p === undefined) return;
        clearTimeout(p.timer);
        this.#pending.delete(message.id);
        if (message.ok) p.resolve(message.value);
        else p.reject(this.pluginError(message.error));
        return;
      }
      case "svc":
        this.options.services.service(this.name, message.service, message.args).then(
          (value) => this.#safePost({ t: "svcResult", id: message.id, ok: true, value }),
          (e) =>
            this.#safePost({ t: "svcResult", id: message.id, ok: false, error: toRemoteError(e) }),
        );
        return;
      case "emit":
        this.options.services.emit(this.name, message.event);
        return;
      case "log": {
        const log = () =>
          this.options.services.log(this.name, message.level, message.message, message.data);
        // Written in a traced call: the host's log line carries the call's trace.
        if (tracing && typeof message.trace === "string") runIn(contextFrom(message.trace), log);
        else log();
        return;
      }
      case "exit":
        this.kill(`exited (code ${message.code})`);
        return;
    }
  }

  #safePost(message: HostMessage): void {
    if (!this.#alive) return;
    try {
      this.post(message);
    } catch {
      // The plugin went away meanwhile.
    }
  }
}

/**
 * Refuses a plugin folder holding a symbolic link: Deno checks the path as written, so a link
 * inside a folder the plugin may read would widen its access to wherever the link points.
 */
async function refuseSymlinks(dir: string, name: string): Promise<void> {
  const walk = async (at: string): Promise<void> => {
    for await (const e of Deno.readDir(at)) {
      const path = `${at}/${e.name}`;
      if (e.isSymlink) {
        throw new PluginHostError(
          "invalid",
          `plugin "${name}" holds a symbolic link (${path}): refused, as it could reach outside its folder`,
        );
      }
      if (e.isDirectory) await walk(path);
    }
  };
  await walk(dir);
}

/** Refuses permissions this process does not have (a plugin never gets more than its host). */
function refuseEscalation(p: ResolvedPermissions, name: string): void {
  const lacking: string[] = [];
  const check = (d: Deno.PermissionDescriptor, label: string) => {
    try {
      if (Deno.permissions.querySync(d).state !== "granted") lacking.push(label);
    } catch {
      lacking.push(label);
    }
  };
  for (const path of p.read) check({ name: "read", path }, `read ${path}`);
  for (const path of p.write) check({ name: "write", path }, `write ${path}`);
  for (const host of p.net) check({ name: "net", host }, `net ${host}`);
  for (const variable of p.env) check({ name: "env", variable }, `env ${variable}`);
  for (const command of p.run) check({ name: "run", command }, `run ${command}`);
  for (const path of p.ffi) check({ name: "ffi", path }, `ffi ${path}`);
  for (const kind of p.sys) {
    check({ name: "sys", kind }, `sys ${kind}`);
  }
  if (lacking.length > 0) {
    throw new PluginHostError(
      "invalid",
      `plugin "${name}" asks for permissions this process does not have (${lacking.join(", ")}): ` +
        "a plugin never gets more than its host",
    );
  }
}

/** The plugin SDK's folder (this one): plugins may read it, to import `definePlugin`. */
const SDK_DIR = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function toFileUrl(path: string): string {
  return new URL(`file://${path.startsWith("/") ? "" : "/"}${encodeURI(path)}`).href;
}

/**
 * A host whose plugin runs confined by Deno permissions (worker, process): before anything
 * runs, it refuses a folder holding a symbolic link and permissions this process lacks.
 */
abstract class ConfinedHost extends RpcHost {
  protected override async launch(): Promise<void> {
    await refuseSymlinks(this.options.dir, this.name);
    // Deno refuses escalation too ("Can't escalate parent thread permissions"); this says which.
    refuseEscalation(this.options.permissions, this.name);
    this.spawn();
  }

  /** Starts the worker or the process; throws a `PluginHostError` when it cannot. */
  protected abstract spawn(): void;

  /**
   * What the plugin lacks, when `text` holds Deno's refusal of a permission: the key of its
   * `plugin.yaml` that grants it, not Deno's `--allow-*` flag (a plugin gets no flags).
   */
  protected permissionHint(text: string): string | undefined {
    return permissionHint(text, `${this.options.dir}/${MANIFEST_FILE}`);
  }

  protected override pluginError(remote: RemoteError): PluginError {
    return new PluginError(this.name, remote, this.permissionHint(remote.message));
  }
}

// -----------------------------------------------------------------------------------------
// worker

/** A plugin in a Web Worker with its manifest's Deno permissions. */
export class WorkerHost extends ConfinedHost {
  readonly mode = "worker" as const;
  #worker: Worker | null = null;
  #stuck = false;

  /** True once a call timed out: the worker may be in a busy loop nothing can stop. */
  get stuck(): boolean {
    return this.#stuck;
  }

  protected spawn(): void {
    const p = this.options.permissions;
    try {
      this.#worker = new Worker(new URL("./worker_entry.ts", import.meta.url), {
        type: "module",
        name: `plugin:${this.name}`,
        deno: {
          permissions: {
            // Its own folder and the SDK's, to load its code; then only what it declares.
            read: [this.options.dir, SDK_DIR, ...p.read],
            write: p.write.length > 0 ? p.write : false,
            net: p.net.length > 0 ? p.net : false,
            env: p.env.length > 0 ? p.env : false,
            run: p.run.length > 0 ? p.run : false,
            ffi: p.ffi.length > 0 ? p.ffi : false,
            sys: p.sys.length > 0 ? p.sys : false,
            import: false,
          },
        },
      } as WorkerOptions);
    } catch (e) {
      throw new PluginHostError(
        "invalid",
        `plugin "${this.name}" cannot start: ${toRemoteError(e).message} ` +
          "(a plugin never gets a permission this process does not have)",
      );
    }
    this.#worker.onmessage = (e: MessageEvent) => this.handle(e.data);
    this.#worker.onmessageerror = () => this.kill("sent a message that could not be read");
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      const hint = this.permissionHint(e.message);
      this.died(hint === undefined ? `crashed: ${e.message}` : `crashed: it ${hint}`);
    };
  }

  protected post(message: HostMessage): void {
    this.#worker!.postMessage(message);
  }

  protected override onTimeout(): void {
    this.#stuck = true;
  }

  protected terminate(): void {
    this.#worker?.terminate();
    this.#worker = null;
  }
}

// -----------------------------------------------------------------------------------------
// process

const RS = 0x1e;
/** How long a dead plugin process's stderr is read for after it exited, at most. */
const STDERR_GRACE_MS = 1000;
/** How long a process plugin asked to stop may take to exit by itself before it is killed. */
const STOP_GRACE_MS = 2000;
const NL = 0x0a;

/** A plugin in a `deno` subprocess: permissions as flags, a heap cap, killed on timeout. */
export class ProcessHost extends ConfinedHost {
  readonly mode = "process" as const;
  #child: Deno.ChildProcess | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #stderr = "";
  #encoder = new TextEncoder();
  /** Being stopped: terminate() closes stdin and leaves the exit to the plugin. */
  #gentle = false;

  /** The last lines the plugin wrote to stderr (for error reports). */
  get stderrTail(): string {
    return this.#stderr;
  }

  protected spawn(): void {
    const p = this.options.permissions;
    const flags = [`--allow-read=${[this.options.dir, SDK_DIR, ...p.read].join(",")}`];
    if (p.write.length > 0) flags.push(`--allow-write=${p.write.join(",")}`);
    if (p.net.length > 0) flags.push(`--allow-net=${p.net.join(",")}`);
    if (p.env.length > 0) flags.push(`--allow-env=${p.env.join(",")}`);
    if (p.run.length > 0) flags.push(`--allow-run=${p.run.join(",")}`);
    if (p.ffi.length > 0) flags.push(`--allow-ffi=${p.ffi.join(",")}`);
    if (p.sys.length > 0) flags.push(`--allow-sys=${p.sys.join(",")}`);
    const entry = new URL("./process_entry.ts", import.meta.url).pathname;
    try {
      this.#child = new Deno.Command(this.options.denoPath ?? "deno", {
        args: [
          "run",
          "--quiet",
          "--no-prompt",
          ...flags,
          `--v8-flags=--max-old-space-size=${this.options.limits.memoryMb}`,
          entry,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        env: this.#env(),
        clearEnv: true,
      }).spawn();
    } catch (e) {
      throw new PluginHostError(
        "invalid",
        `plugin "${this.name}" cannot start: ${toRemoteError(e).message}`,
      );
    }
    this.#writer = this.#child.stdin.getWriter();
    this.#readStdout(this.#child.stdout);
    const stderrRead = this.#readStderr(this.#child.stderr);
    this.#child.status.then(async (status) => {
      if (!this.alive) return;
      // What it last wrote says why it died; its stderr closes with it (or, held open by a
      // program it started, is given up on after STDERR_GRACE_MS).
      let grace: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        stderrRead,
        new Promise((resolve) => (grace = setTimeout(resolve, STDERR_GRACE_MS))),
      ]);
      clearTimeout(grace);
      if (!this.alive) return;
      const how = status.signal !== null ? `signal ${status.signal}` : `code ${status.code}`;
      const oom = /heap out of memory|Reached heap limit/i.test(this.#stderr)
        ? ` (out of memory: over its ${this.options.limits.memoryMb} MB limit)`
        : "";
      const hint = this.permissionHint(this.#stderr);
      this.died(`exited (${how})${oom}${hint === undefined ? "" : `: it ${hint}`}`);
    });
  }

  /** The environment: only what the manifest declares, plus PATH when it may run programs. */
  #env(): Record<string, string> {
    const env: Record<string, string> = { NO_COLOR: "1" };
    const p = this.options.permissions;
    const read = (name: string) => {
      try {
        return Deno.env.get(name);
      } catch {
        return undefined;
      }
    };
    for (const name of p.env) {
      const value = read(name);
      if (value !== undefined) env[name] = value;
    }
    if (p.run.length > 0) {
      const path = read("PATH");
      if (path !== undefined) env.PATH = path;
    }
    // OpenTelemetry on: the plugin's process exports its spans and logs to the same place.
    if (tracing) Object.assign(env, otelEnv());
    return env;
  }

  protected post(message: HostMessage): void {
    const line = JSON.stringify(message) + "\n";
    this.#writer!.write(this.#encoder.encode(line)).catch(() => {});
  }

  protected override onTimeout(what: string): void {
    // A call that does not answer may be a busy loop: only a process can be stopped.
    this.kill(`was killed: ${what} did not answer in time`);
  }

  /**
   * Stops the plugin gently: its stdin closes and it exits by itself, flushing what it holds
   * (its OpenTelemetry exports); still running after {@linkcode STOP_GRACE_MS}, it is killed.
   */
  override async stop(): Promise<void> {
    const child = this.#child;
    if (child === null || !this.alive) return await super.stop();
    this.#gentle = true;
    await super.stop(); // pending calls fail; terminate() closes stdin
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      child.status,
      new Promise((resolve) => (grace = setTimeout(resolve, STOP_GRACE_MS))),
    ]);
    clearTimeout(grace);
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited.
    }
  }

  protected terminate(): void {
    if (!this.#gentle) {
      try {
        this.#child?.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    this.#writer?.close().catch(() => {});
    this.#child = null;
  }

  async #readStdout(stream: ReadableStream<Uint8Array>): Promise<void> {
    const max = this.options.limits.maxMessageBytes + 4096;
    const decoder = new TextDecoder();
    let buf = new Uint8Array(0);
    try {
      for await (const chunk of stream) {
        const joined = new Uint8Array(buf.length + chunk.length);
        joined.set(buf);
        joined.set(chunk, buf.length);
        buf = joined;
        let nl: number;
        while ((nl = buf.indexOf(NL)) >= 0) {
          const line = buf.subarray(0, nl);
          buf = buf.slice(nl + 1);
          if (line.length > max) {
            this.kill(`sent a message of ${line.length} bytes, over its limit`);
            return;
          }
          if (line[0] === RS) {
            let msg: unknown;
            try {
              msg = JSON.parse(decoder.decode(line.subarray(1)));
            } catch {
              this.kill("sent a protocol line that is not JSON");
              return;
            }
            this.handle(msg, line.length);
          } else if (line.length > 0) {
            this.options.services.log(this.name, "info", decoder.decode(line));
          }
        }
        if (buf.length > max) {
          this.kill(`sent a message of more than ${buf.length} bytes, over its limit`);
          return;
        }
      }
    } catch {
      // The process is gone; status reports it.
    }
  }

  async #readStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.#stderr = (this.#stderr + decoder.decode(chunk, { stream: true })).slice(-4000);
      }
    } catch {
      // Gone.
    }
  }
}

/** The OpenTelemetry variables Deno reads (`OTEL_DENO`, `OTEL_EXPORTER_OTLP_*`...). */
const OTEL_VARIABLES = [
  "OTEL_DENO",
  "OTEL_DENO_CONSOLE",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_EXPORTER_OTLP_TIMEOUT",
  "OTEL_METRIC_EXPORT_INTERVAL",
  "OTEL_BSP_SCHEDULE_DELAY",
  "OTEL_BLRP_SCHEDULE_DELAY",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
];

/**
 * This process's `OTEL_*` variables, for a plugin process (whose environment is otherwise
 * cleared): all of them when the whole environment may be read, else the ones Deno reads.
 */
function otelEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  let all: Record<string, string> | null = null;
  try {
    all = Deno.env.toObject();
  } catch {
    // Only some variables may be read.
  }
  if (all !== null) {
    for (const [k, v] of Object.entries(all)) if (k.startsWith("OTEL_")) out[k] = v;
    return out;
  }
  for (const name of OTEL_VARIABLES) {
    for (const k of [name, ...signalVariants(name)]) {
      try {
        const v = Deno.env.get(k);
        if (v !== undefined) out[k] = v;
      } catch {
        // Not readable here.
      }
    }
  }
  return out;
}

/** `OTEL_EXPORTER_OTLP_X` -> its per-signal forms (`..._TRACES_X`, `..._LOGS_X`...). */
function signalVariants(name: string): string[] {
  const prefix = "OTEL_EXPORTER_OTLP_";
  if (!name.startsWith(prefix)) return [];
  const rest = name.slice(prefix.length);
  return ["TRACES", "LOGS", "METRICS"].map((s) => `${prefix}${s}_${rest}`);
}

// -----------------------------------------------------------------------------------------
// trusted

/** A trusted plugin, in this process, through the same protocol over an in-memory channel. */
export class TrustedHost extends RpcHost {
  readonly mode = "trusted" as const;
  #toPlugin: ((message: HostMessage) => void) | null = null;

  protected launch(): void {
    runPlugin({
      send: (message) => queueMicrotask(() => this.alive && this.handle(message)),
      onMessage: (handler) => (this.#toPlugin = handler),
    });
  }

  protected post(message: HostMessage): void {
    const deliver = this.#toPlugin!;
    queueMicrotask(() => deliver(message));
  }

  protected terminate(): void {
    this.#toPlugin = null;
  }
}

/** Makes the host for a plugin's isolation mode. */
export function createHost(mode: IsolationMode, options: HostOptions): PluginHost {
  switch (mode) {
    case "worker":
      return new WorkerHost(options);
    case "process":
      return new ProcessHost(options);
    case "trusted":
      return new TrustedHost(options);
  }
}
