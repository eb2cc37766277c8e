/**
 * Plugin manifests: `<dir>/<name>/plugin.yaml`. The zod schema (strict: unknown keys are
 * errors), the rules across fields, and loading from disk (folder name, entry module inside
 * the folder, permission paths resolved). Reading the YAML (`${VAR}` substitution, every
 * problem at its line and column) is `lib/config/yaml_document.ts`'s:
 *
 * ```text
 * invalid plugin manifest (2 problems):
 *   plugins/audit-log/plugin.yaml:2:10 version: "1.2" is not a semantic version (like 1.2.0)
 *   plugins/audit-log/plugin.yaml:9:3 idempotent[0]: "flush" is not in provides
 * ```
 *
 * The JSON Schema of the manifest (`schemas/plugin.schema.json`) is generated from the same
 * zod schema by `deno task schemas`.
 *
 * @module
 */
import { basename, isAbsolute, relative, resolve, sep } from "node:path";
import { z } from "zod";
// @ts-types="@types/semver"
import semver from "semver";
import { descriptorProblem } from "../core/descriptor.ts";
import { parseDuration } from "../core/duration.ts";
import { DocumentError, type DocumentProblem, sortProblems } from "../config/problems.ts";
import { parseYamlDocument, type Segment, type YamlSpec } from "../config/yaml_document.ts";
import type { HookName, IsolationMode } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** The hooks a plugin may handle: the closed list of {@linkcode HookName}. */
export const HOOK_NAMES = [
  "load",
  "unload",
  "reload",
  "beforeTransition",
  "afterTransition",
  "instanceCreated",
  "instanceDone",
] as const satisfies readonly HookName[];

// Every HookName is in HOOK_NAMES (the `satisfies` above checks the other way).
const _allHooks: Exclude<HookName, typeof HOOK_NAMES[number]> extends never ? true : never = true;
void _allHooks;

/** Deno's `sys` permission kinds (`Deno.SysPermissionDescriptor["kind"]`). */
export const SYS_PERMISSION_NAMES = [
  "loadavg",
  "hostname",
  "systemMemoryInfo",
  "networkInterfaces",
  "osRelease",
  "osUptime",
  "uid",
  "gid",
  "username",
  "cpus",
  "homedir",
  "statfs",
  "getPriority",
  "setPriority",
  "ca",
  "umask",
] as const;

/** One `sys` permission kind. */
export type SysPermissionName = typeof SYS_PERMISSION_NAMES[number];

/** HTTP methods a plugin route may use. */
export const ROUTE_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/**
 * What a plugin may touch, in Deno's vocabulary. Every list is explicit (there is no `true`):
 * an empty list grants nothing.
 */
export interface PluginPermissions {
  /** Paths the plugin may read. Relative paths resolve against the plugin folder. */
  read: string[];
  /** Paths the plugin may write. Relative paths resolve against the plugin folder. */
  write: string[];
  /** Hosts the plugin may connect to: `host` or `host:port`. */
  net: string[];
  /** Environment variables the plugin may read. */
  env: string[];
  /**
   * Programs the plugin may run: a name looked up in `PATH` (`git`) or a path (`./bin/tool`,
   * resolved against the plugin folder when relative).
   */
  run: string[];
  /** Native libraries the plugin may load (paths, resolved like `read`). */
  ffi: string[];
  /** System information the plugin may query. */
  sys: SysPermissionName[];
}

/** Per-plugin resource limits, enforced by the supervisor and the isolation host. */
export interface PluginLimits {
  /** A call (action or hook) fails after this many milliseconds (default 5000). */
  callTimeoutMs: number;
  /** Calls per second allowed into the plugin (default 100). */
  callsPerSecond: number;
  /** Heap limit in MiB; enforced in `process` isolation only (default 128). */
  memoryMb: number;
  /** Largest message accepted from or sent to the plugin, in bytes (default 1 MiB). */
  maxMessageBytes: number;
}

/** An HTTP route a plugin exposes through the server. */
export interface PluginRoute {
  /** The HTTP method. */
  method: typeof ROUTE_METHODS[number];
  /** The path below the plugin's prefix, starting with `/`. */
  path: string;
  /** The action that handles it. */
  action: string;
}

/**
 * A validated plugin manifest with every default filled in. Paths (entry, permissions) are as
 * written in the file; {@linkcode loadManifest} resolves them.
 */
export interface PluginManifest {
  /** The plugin's name: `/^[a-z][a-z0-9-]{0,63}$/`, equal to its folder's name. */
  name: string;
  /** The plugin's version (semver, like `1.2.0`). */
  version: string;
  /** One line about what it does. */
  description?: string;
  /** The entry module, relative to the plugin folder (default `mod.ts`). */
  entry: string;
  /** How the plugin runs (default `worker`). */
  isolation: IsolationMode;
  /** What the plugin may touch (default: nothing). */
  permissions: PluginPermissions;
  /** Other plugins this one needs: name -> semver range. */
  requires: Record<string, string>;
  /** The actions the plugin implements. */
  provides: string[];
  /** The actions that are safe to retry (a subset of `provides`). */
  idempotent: string[];
  /** SCXML event descriptors of the bus events the plugin receives, as written. */
  subscribes: string[];
  /** The hooks the plugin handles. */
  hooks: HookName[];
  /** Resource limits. */
  limits: PluginLimits;
  /** Free-form configuration handed to the plugin. */
  config: Record<string, unknown>;
  /** HTTP routes the plugin exposes. */
  routes: PluginRoute[];
  /** Retry policies of invocations of its actions (`pluginAction`), by action. */
  retry: Record<string, PluginActionRetry>;
  /** Most ms one attempt of an invocation of the action may take, by action. */
  timeout: Record<string, number>;
}

/**
 * The retry policy of one action, durations in ms; unset fields take the defaults of an
 * invoke's `retry` (3 attempts, 1000 ms, factor 2, no cap, nothing non-retryable).
 */
export interface PluginActionRetry {
  /** Attempts in all, the first one included. */
  attempts?: number;
  /** The wait after the first failed attempt, in ms. */
  initial?: number;
  /** Each wait is the previous one times this. */
  factor?: number;
  /** No wait is longer than this, in ms. */
  max?: number;
  /** Error names or codes that fail the invocation at once. */
  nonRetryable?: string[];
}

/** What an invocation of a plugin action gets from the manifest (durations in ms). */
export interface ActionPolicy {
  /** The retry policy with every field set; null: the manifest sets none. */
  retry: Required<PluginActionRetry> | null;
  /** Most ms one attempt may take; null: the manifest sets none. */
  timeout: number | null;
}

/**
 * The retry policy and attempt timeout an invocation of `action` gets from the manifest
 * (`null`: the manifest sets none), with the defaults of an invoke's `retry` filled in.
 *
 * @example
 * ```ts
 * import { actionPolicy, parseManifest } from "./manifest.ts";
 * const m = parseManifest(
 *   "name: mailer\nversion: 1.0.0\nprovides: [send]\nretry:\n  send: { attempts: 5 }\n",
 *   "plugin.yaml",
 * );
 * console.log(actionPolicy(m, "send").retry?.attempts); // 5
 * ```
 */
export function actionPolicy(
  manifest: Pick<PluginManifest, "retry" | "timeout">,
  action: string,
): ActionPolicy {
  const r = Object.hasOwn(manifest.retry, action) ? manifest.retry[action] : undefined;
  return {
    retry: r === undefined ? null : {
      attempts: r.attempts ?? 3,
      initial: r.initial ?? 1000,
      factor: r.factor ?? 2,
      max: r.max ?? Infinity,
      nonRetryable: [...(r.nonRetryable ?? [])],
    },
    timeout: Object.hasOwn(manifest.timeout, action) ? manifest.timeout[action] : null,
  };
}

/** A manifest loaded from disk, with its paths resolved. */
export interface LoadedManifest {
  /** The validated manifest (paths as written). */
  manifest: PluginManifest;
  /** The plugin folder, absolute. */
  dir: string;
  /** The manifest file, absolute. */
  manifestPath: string;
  /** The entry module, absolute (inside `dir`, also after following symbolic links). */
  entryPath: string;
  /** The permissions with relative paths resolved against `dir`. */
  permissions: PluginPermissions;
}

/** One problem in a manifest: where (keys from the root), what, and the line and column. */
export type ManifestProblem = DocumentProblem;

/** Options of {@linkcode parseManifest}. */
export interface ParseManifestOptions {
  /** Looks up `${VAR}` references (default `Deno.env.get`, called only when needed). */
  env?: (name: string) => string | undefined;
}

/**
 * Thrown with every problem of a manifest (a {@linkcode DocumentError} named
 * `ManifestError`, whose message starts `invalid plugin manifest`).
 *
 * @example
 * ```ts
 * import { loadManifest, ManifestError } from "./manifest.ts";
 * try {
 *   await loadManifest("plugins/audit-log");
 * } catch (e) {
 *   if (!(e instanceof ManifestError)) throw e;
 *   for (const p of e.problems) console.error(`${e.file}:${p.line ?? 1}: ${p.message}`);
 * }
 * ```
 */
export class ManifestError extends DocumentError {
  /**
   * Makes the error and its message (one `file:line:col path: message` line per problem).
   *
   * @param file the manifest file as given
   * @param problems every problem, in file order
   */
  constructor(file: string, problems: ManifestProblem[]) {
    super(file, problems, "plugin manifest");
    this.name = "ManifestError";
  }
}

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
const ACTION_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST_PATTERN =
  /^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;
const ENTRY_EXTENSIONS = [".ts", ".mts", ".tsx", ".js", ".mjs", ".jsx"];

/** Why `entry` is not a relative module path inside the folder, or `undefined`. */
function entryProblem(entry: string): string | undefined {
  if (entry === "") return "must not be empty";
  if (isAbsolute(entry) || /^[A-Za-z]:[\\/]/.test(entry) || entry.startsWith("\\")) {
    return `"${entry}" is an absolute path; the entry must be a path inside the plugin folder`;
  }
  if (entry.split(/[\\/]/).includes("..")) {
    return `"${entry}" leaves the plugin folder (".." is not allowed)`;
  }
  if (!ENTRY_EXTENSIONS.some((ext) => entry.endsWith(ext))) {
    return `"${entry}" is not a module (${ENTRY_EXTENSIONS.join(", ")})`;
  }
  return undefined;
}

/** Why a `net` entry is not `host` or `host:port`, or `undefined`. */
function netProblem(value: string): string | undefined {
  const m = HOST_PATTERN.exec(value);
  if (m === null) return `"${value}" is not a host or host:port`;
  if (m[1] !== undefined) {
    const port = Number(m[1]);
    if (port < 1 || port > 65535) return `"${value}" has a port outside 1-65535`;
  }
  return undefined;
}

const noTrue = (key: string) => (iss: { input?: unknown }) =>
  iss.input === true
    ? `"true" (everything) is not allowed: list exactly what the plugin needs ` +
      `(for example ${key}: [${EXAMPLES[key]}])`
    : undefined;

const EXAMPLES: Record<string, string> = {
  read: "./data",
  write: "./data",
  net: "api.example.com:443",
  env: "API_TOKEN",
  run: "git",
  ffi: "./lib/native.so",
  sys: "hostname",
};

const nonEmpty = z.string().min(1, { error: "must not be empty" });

const pathList = (key: string) => z.array(nonEmpty, { error: noTrue(key) }).default([]);

const permissionsSchema = z.strictObject({
  read: pathList("read").describe("Paths the plugin may read (relative to the plugin folder)"),
  write: pathList("write").describe("Paths the plugin may write (relative to the plugin folder)"),
  net: z.array(
    z.string().superRefine((v, ctx) => {
      const problem = netProblem(v);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    }),
    { error: noTrue("net") },
  ).default([]).describe("Hosts the plugin may connect to: host or host:port"),
  env: z.array(
    z.string().regex(ENV_NAME_PATTERN, {
      error: (iss) => `"${iss.input}" is not an environment variable name`,
    }),
    { error: noTrue("env") },
  ).default([]).describe("Environment variables the plugin may read"),
  run: pathList("run").describe("Programs the plugin may run (names or paths)"),
  ffi: pathList("ffi").describe("Native libraries the plugin may load (paths)"),
  sys: z.array(z.enum(SYS_PERMISSION_NAMES), { error: noTrue("sys") }).default([])
    .describe("System information the plugin may query (Deno sys permission kinds)"),
});

const limitsSchema = z.strictObject({
  callTimeoutMs: z.number().int().min(1).max(600_000).default(5000)
    .describe("A call fails after this many milliseconds"),
  callsPerSecond: z.number().positive().max(100_000).default(100)
    .describe("Calls per second allowed into the plugin"),
  memoryMb: z.number().int().min(16).max(16_384).default(128)
    .describe("Heap limit in MiB (process isolation only)"),
  maxMessageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024)
    .describe("Largest message to or from the plugin, in bytes"),
});

const actionName = z.string().regex(ACTION_PATTERN, {
  error: (iss) =>
    `"${iss.input}" is not a valid action name (letters, digits, "_" and "-", ` +
    `starting with a letter or "_", at most 64 characters)`,
});

/** A duration: ms, or a string like "500ms", "2s", "1m"; parsed to ms. */
const duration = (positive: boolean) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined || (positive && ms <= 0)) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(v)} is not a ${positive ? "positive " : ""}duration ` +
          `("500ms", "2s", "1m" or ms)`,
      });
      return z.NEVER;
    }
    return ms;
  });

const actionRetrySchema = z.strictObject({
  attempts: z.number().int().min(1).optional()
    .describe("Attempts in all, the first one included (default 3)"),
  initial: duration(false).optional()
    .describe("The wait after the first failed attempt (default 1s)"),
  factor: z.number().min(1).optional().describe("Each wait is the previous one times this"),
  max: duration(false).optional().describe("No wait is longer than this (default: no cap)"),
  nonRetryable: z.array(nonEmpty).optional()
    .describe("Error names or codes that fail the invocation at once"),
});

const pluginName = z.string().regex(NAME_PATTERN, {
  error: (iss) =>
    `"${iss.input}" is not a valid plugin name (lowercase letters, digits and "-", ` +
    `starting with a letter, at most 64 characters)`,
});

const routeSchema = z.strictObject({
  method: z.enum(ROUTE_METHODS),
  path: z.string().regex(/^\/[^\s?#]*$/, {
    error: (iss) => `"${iss.input}" is not a route path (it starts with "/", no spaces, ? or #)`,
  }),
  action: actionName,
});

/**
 * The zod schema of `plugin.yaml` (input: what a user writes; output: `PluginManifest` with
 * defaults filled). Cross-field rules (`idempotent` within `provides`, no duplicates, no
 * self-requirement) are checked by `parseManifest`, not by this schema.
 */
const manifestSchema = z.strictObject({
  name: pluginName.describe("The plugin's name; equal to its folder's name"),
  version: z.string({
    error: (iss) =>
      typeof iss.input === "number"
        ? `must be a semantic version string like 1.2.0, not the number ${iss.input}`
        : undefined,
  }).refine((v) => /^\d/.test(v) && semver.valid(v) !== null, {
    error: (iss) => `"${iss.input}" is not a semantic version (like 1.2.0)`,
  }).describe("The plugin's version (semver)"),
  description: z.string().optional().describe("One line about what the plugin does"),
  entry: z.string().superRefine((v, ctx) => {
    const problem = entryProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  }).default("mod.ts").describe("The entry module, a relative path inside the plugin folder"),
  isolation: z.enum(["trusted", "worker", "process"]).default("worker")
    .describe("trusted: in process; worker: Web Worker; process: subprocess"),
  permissions: permissionsSchema.default({
    read: [],
    write: [],
    net: [],
    env: [],
    run: [],
    ffi: [],
    sys: [],
  }).describe("Deno permissions, explicit lists only (default: none)"),
  requires: z.record(
    pluginName,
    z.string().refine((v) => semver.validRange(v) !== null, {
      error: (iss) => `"${iss.input}" is not a semver range (like ^1.2.0)`,
    }),
  ).default({}).describe("Other plugins this one needs: name -> semver range"),
  provides: z.array(actionName).default([]).describe("The actions the plugin implements"),
  idempotent: z.array(actionName).default([])
    .describe("Actions that are safe to retry (a subset of provides)"),
  subscribes: z.array(
    z.string().superRefine((v, ctx) => {
      const problem = descriptorProblem(v);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    }),
  ).default([]).describe("SCXML event descriptors of the events the plugin receives"),
  hooks: z.array(z.enum(HOOK_NAMES)).default([]).describe("The hooks the plugin handles"),
  limits: limitsSchema.default({
    callTimeoutMs: 5000,
    callsPerSecond: 100,
    memoryMb: 128,
    maxMessageBytes: 1024 * 1024,
  }).describe("Resource limits"),
  config: z.record(z.string(), z.unknown()).default({})
    .describe("Free-form configuration handed to the plugin"),
  routes: z.array(routeSchema).default([]).describe("HTTP routes the plugin exposes"),
  retry: z.record(actionName, actionRetrySchema).default({})
    .describe("Retry policies of pluginAction invocations, by action (keys in provides)"),
  timeout: z.record(actionName, duration(true)).default({})
    .describe("Most time one attempt of a pluginAction invocation may take, by action"),
}).meta({
  title: "Statecraft plugin manifest (plugin.yaml)",
});

// The interface above documents the output; this line keeps the two from drifting apart.
type _SchemaMatches = [z.output<typeof manifestSchema>] extends [PluginManifest]
  ? [PluginManifest] extends [z.output<typeof manifestSchema>] ? true : never
  : never;
const _schemaMatches: _SchemaMatches = true;
void _schemaMatches;

/**
 * The JSON Schema of `plugin.yaml` (draft 2020-12), generated from
 * the zod schema `parseManifest` validates with. `schemas/plugin.schema.json` is this value.
 *
 * @example
 * ```ts
 * import { manifestJsonSchema } from "./manifest.ts";
 * const schema = manifestJsonSchema();
 * console.log(Object.keys(schema.properties as object)); // name, version, ...
 * ```
 */
export function manifestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(manifestSchema, { io: "input" }) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/**
 * Parses and validates a manifest's text. Throws {@linkcode ManifestError} with every problem.
 *
 * `${VAR}` and `${VAR:-default}` in string values are replaced before validation (the default
 * is used when the variable is unset or empty; `$${` writes a literal `${`). A plain (unquoted)
 * value that becomes a number or a boolean after substitution is read as one.
 *
 * @param text the YAML text
 * @param file the file name used in messages
 * @param options `env`: the variable lookup (default `Deno.env.get`)
 * @returns the manifest with defaults filled; paths still as written
 *
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * const m = parseManifest("name: audit-log\nversion: 1.2.0\n", "plugin.yaml");
 * console.log(m.entry, m.isolation); // mod.ts worker
 * ```
 */
export function parseManifest(
  text: string,
  file: string,
  options: ParseManifestOptions = {},
): PluginManifest {
  const parsed = parseYamlDocument(text, MANIFEST_SPEC, options.env);
  if (parsed.value === undefined) throw new ManifestError(file, sortProblems(parsed.problems));
  return parsed.value;
}

const MANIFEST_SPEC: YamlSpec<PluginManifest> = {
  schema: manifestSchema as unknown as z.ZodType<PluginManifest>,
  knownKeys,
  crossCheck,
  empty: "the manifest is empty (name and version are required)",
  what: "plugin manifest",
};

/** The keys a manifest may have at `path`, for "did you mean" hints. */
function knownKeys(path: readonly Segment[]): string[] {
  if (path.length === 0) return Object.keys(manifestSchema.shape);
  if (path.length === 1 && path[0] === "permissions") return Object.keys(permissionsSchema.shape);
  if (path.length === 1 && path[0] === "limits") return Object.keys(limitsSchema.shape);
  if (path.length === 2 && path[0] === "routes") return Object.keys(routeSchema.shape);
  if (path.length === 2 && path[0] === "retry") return Object.keys(actionRetrySchema.shape);
  return [];
}

/** Rules across fields, checked on the raw value wherever its shape allows. */
function crossCheck(
  raw: unknown,
  add: (path: Segment[], message: string, at?: "key" | "value") => void,
): void {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return;
  const m = raw as Record<string, unknown>;
  const strings = (v: unknown): v is string[] =>
    Array.isArray(v) && v.every((x) => typeof x === "string");

  for (const key of ["provides", "idempotent", "subscribes", "hooks"]) {
    const list = m[key];
    if (!strings(list)) continue;
    const seen = new Set<string>();
    list.forEach((item, i) => {
      if (seen.has(item)) add([key, i], `"${item}" is listed twice`);
      seen.add(item);
    });
  }
  if (strings(m.idempotent)) {
    const provides = new Set(strings(m.provides) ? m.provides : []);
    m.idempotent.forEach((action, i) => {
      if (!provides.has(action)) add(["idempotent", i], `"${action}" is not in provides`);
    });
  }
  const provided = new Set(strings(m.provides) ? m.provides : []);
  for (const key of ["retry", "timeout"]) {
    const byAction = m[key];
    if (typeof byAction !== "object" || byAction === null || Array.isArray(byAction)) continue;
    for (const action of Object.keys(byAction)) {
      if (!provided.has(action)) add([key, action], `"${action}" is not in provides`, "key");
    }
  }
  if (typeof m.name === "string" && typeof m.requires === "object" && m.requires !== null) {
    if (Object.hasOwn(m.requires, m.name)) {
      add(["requires", m.name], "a plugin cannot require itself", "key");
    }
  }
  if (typeof m.permissions === "object" && m.permissions !== null) {
    const perms = m.permissions as Record<string, unknown>;
    for (const [key, list] of Object.entries(perms)) {
      if (!strings(list)) continue;
      const seen = new Set<string>();
      list.forEach((item, i) => {
        if (seen.has(item)) add(["permissions", key, i], `"${item}" is listed twice`);
        seen.add(item);
      });
    }
  }
  if (Array.isArray(m.routes)) {
    const seen = new Set<string>();
    m.routes.forEach((route, i) => {
      if (typeof route !== "object" || route === null) return;
      const { method, path } = route as Record<string, unknown>;
      if (typeof method !== "string" || typeof path !== "string") return;
      const id = `${method} ${path}`;
      if (seen.has(id)) add(["routes", i], `${id} is declared twice`);
      seen.add(id);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** The manifest's file name inside a plugin folder. */
export const MANIFEST_FILE = "plugin.yaml";

/**
 * Reads `<dir>/plugin.yaml`, validates it, and checks it against the folder: the name equals
 * the folder's name, the entry module exists and stays inside the folder after following
 * symbolic links. Relative permission paths are resolved against the folder (`run` entries
 * only when they contain a `/`: a bare name is looked up in `PATH`).
 *
 * @throws {ManifestError} with every problem (positions in `plugin.yaml`)
 *
 * @example
 * ```ts
 * import { loadManifest } from "./manifest.ts";
 * const loaded = await loadManifest("plugins/audit-log");
 * console.log(loaded.entryPath); // /abs/plugins/audit-log/mod.ts
 * ```
 */
export async function loadManifest(
  dir: string,
  options: ParseManifestOptions = {},
): Promise<LoadedManifest> {
  const absDir = resolve(dir);
  const manifestPath = resolve(absDir, MANIFEST_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(manifestPath);
  } catch (error) {
    const message = error instanceof Deno.errors.NotFound
      ? `no ${MANIFEST_FILE} in ${absDir}`
      : `cannot read: ${(error as Error).message}`;
    throw new ManifestError(manifestPath, [{ path: [], message }]);
  }
  const parsed = parseYamlDocument(text, MANIFEST_SPEC, options.env);
  const manifest = parsed.value;
  if (manifest === undefined) {
    throw new ManifestError(manifestPath, sortProblems(parsed.problems));
  }
  const problems: ManifestProblem[] = [];
  const add = (path: Segment[], message: string) =>
    problems.push({ path: path.map(String), message, ...parsed.locate(path) });

  const folder = basename(absDir);
  if (manifest.name !== folder) {
    add(["name"], `"${manifest.name}" does not match the folder name "${folder}"`);
  }

  const entryPath = resolve(absDir, manifest.entry);
  try {
    const info = await Deno.stat(entryPath);
    if (!info.isFile) {
      add(["entry"], `"${manifest.entry}" is not a file`);
    } else {
      const realDir = await Deno.realPath(absDir);
      const realEntry = await Deno.realPath(entryPath);
      if (!isInside(realDir, realEntry)) {
        add(
          ["entry"],
          `"${manifest.entry}" resolves outside the plugin folder (to ${realEntry}) ` +
            `through a symbolic link`,
        );
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      add(["entry"], `"${manifest.entry}" does not exist (looked for ${entryPath})`);
    } else {
      add(["entry"], `cannot read "${manifest.entry}": ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ManifestError(manifestPath, sortProblems(problems));

  const abs = (p: string) => isAbsolute(p) ? p : resolve(absDir, p);
  const perms = manifest.permissions;
  return {
    manifest,
    dir: absDir,
    manifestPath,
    entryPath,
    permissions: {
      read: perms.read.map(abs),
      write: perms.write.map(abs),
      net: [...perms.net],
      env: [...perms.env],
      run: perms.run.map((p) => p.includes("/") ? abs(p) : p),
      ffi: perms.ffi.map(abs),
      sys: [...perms.sys],
    },
  };
}

/** Whether `path` is `dir` or below it (both absolute, normalised). */
function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}
