/**
 * Plugin manifests: `<dir>/<name>/plugin.yaml`. Parsing (YAML with `${VAR}` substitution),
 * validation against one zod schema (strict: unknown keys are errors), and loading from disk
 * (folder name, entry module inside the folder, permission paths resolved).
 *
 * Every problem is reported at once, each with the line and column it was written at:
 *
 * ```text
 * invalid plugin manifest (2 problems):
 *   plugins/audit-log/plugin.yaml:2:10 version: "1.2" is not a semantic version (like 1.2.0)
 *   plugins/audit-log/plugin.yaml:9:3 idempotent[0]: "flush" is not in provides
 * ```
 *
 * The JSON Schema of the manifest (`schemas/plugin.schema.json`) is generated from the same
 * zod schema: `deno run lib/plugins/manifest.ts --schema > schemas/plugin.schema.json`.
 *
 * @module
 */
import { basename, isAbsolute, relative, resolve, sep } from "node:path";
import process from "node:process";
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parse as parseYaml,
  parseDocument,
  Scalar,
  visit,
} from "yaml";
import { z } from "zod";
// @ts-types="@types/semver"
import semver from "semver";
import { descriptorProblem } from "../core/descriptor.ts";
import { formatPath } from "../core/errors.ts";
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

/** One problem in a manifest. */
export interface ManifestProblem {
  /** Where in the manifest: keys from the root, e.g. `["permissions", "net", "0"]`. */
  path: string[];
  /** What is wrong. */
  message: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based column, when known. */
  col?: number;
}

/** Options of {@linkcode parseManifest}. */
export interface ParseManifestOptions {
  /** Looks up `${VAR}` references (default `Deno.env.get`, called only when needed). */
  env?: (name: string) => string | undefined;
}

/**
 * Thrown with every problem of a manifest.
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
export class ManifestError extends Error {
  /** Every problem found, in file order. */
  readonly problems: ManifestProblem[];
  /** The manifest file, as given. */
  readonly file: string;

  /**
   * Makes the error and its message (one `file:line:col path: message` line per problem).
   *
   * @param file the manifest file as given
   * @param problems every problem, in file order
   */
  constructor(file: string, problems: ManifestProblem[], what = "plugin manifest") {
    const lines = problems.map((p) => `  ${formatProblem(file, p)}`);
    super(
      `invalid ${what} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        lines.join("\n"),
    );
    this.name = "ManifestError";
    this.problems = problems;
    this.file = file;
  }
}

/** Renders one problem as `file:line:col path: message`. */
export function formatProblem(file: string, problem: ManifestProblem): string {
  const at = problem.line === undefined ? file : `${file}:${problem.line}:${problem.col ?? 1}`;
  const where = problem.path.length === 0 ? "" : `${formatPath(problem.path)}: `;
  return `${at} ${where}${problem.message}`;
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

/** One step of a path into a YAML document: a key or an index. */
export type Segment = string | number;

/** A parsed manifest and a way back from a config path to the line it was written on. */
interface Parsed<T = PluginManifest> {
  manifest?: T;
  problems: ManifestProblem[];
  locate: (path: readonly Segment[], at?: "key" | "value") => { line: number; col: number };
}

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
  const parsed = parseDetailed(text, options);
  if (parsed.manifest === undefined) throw new ManifestError(file, sortProblems(parsed.problems));
  return parsed.manifest;
}

function sortProblems(problems: ManifestProblem[]): ManifestProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) =>
      (a.p.line ?? 0) - (b.p.line ?? 0) || (a.p.col ?? 0) - (b.p.col ?? 0) || a.i - b.i
    )
    .map(({ p }) => p);
}

/** What a YAML document is checked against: the manifest, or another file (the runtime's). */
export interface YamlSpec<T> {
  schema: z.ZodType<T>;
  /** Known keys at a path, for "did you mean" hints (default: none). */
  knownKeys?: (path: readonly Segment[]) => string[];
  /** Rules across fields. */
  crossCheck?: (
    raw: unknown,
    add: (path: Segment[], message: string, at?: "key" | "value") => void,
  ) => void;
  /** The message for an empty document. */
  empty: string;
  /** What the document is, for the error's first line (default "plugin manifest"). */
  what?: string;
}

const MANIFEST_SPEC: YamlSpec<PluginManifest> = {
  schema: manifestSchema as unknown as z.ZodType<PluginManifest>,
  knownKeys,
  crossCheck,
  empty: "the manifest is empty (name and version are required)",
};

/**
 * Parses a YAML document with `${VAR}` substitution and checks it against `spec.schema`,
 * reporting every problem with its line and column (as a `ManifestError`, whose message lists
 * `file:line:col path: message` lines). The runtime's `statecraft.yaml` uses it too.
 */
export function parseYamlWith<T>(
  text: string,
  file: string,
  spec: YamlSpec<T>,
  options: ParseManifestOptions = {},
): T {
  const parsed = parseDetailed(text, options, spec);
  if (parsed.manifest === undefined) {
    throw new ManifestError(file, sortProblems(parsed.problems), spec.what);
  }
  return parsed.manifest;
}

function parseDetailed<T = PluginManifest>(
  text: string,
  options: ParseManifestOptions,
  spec: YamlSpec<T> = MANIFEST_SPEC as unknown as YamlSpec<T>,
): Parsed<T> {
  const lineCounter = new LineCounter();
  const doc = withoutYamlDebugEnv(() => parseDocument(text, { lineCounter, prettyErrors: false }));
  const pos = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };

  const locate = (path: readonly Segment[], at: "key" | "value" = "value") => {
    let node: unknown = doc.contents;
    let best = isNodeWithRange(node) ? node.range[0] : 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) break;
        const keyStart = isNodeWithRange(pair.key) ? pair.key.range[0] : best;
        if (last && at === "key") return pos(keyStart);
        if (isNodeWithRange(pair.value)) {
          best = pair.value.range[0];
          node = pair.value;
        } else {
          best = keyStart;
          break;
        }
      } else if (isSeq(node) && /^\d+$/.test(String(seg))) {
        const item: unknown = node.items[Number(seg)];
        if (!isNodeWithRange(item)) break;
        best = item.range[0];
        node = item;
      } else break;
    }
    return pos(best);
  };

  const problems: ManifestProblem[] = [];
  const add = (path: readonly Segment[], message: string, at: "key" | "value" = "value") => {
    problems.push({ path: path.map(String), message, ...locate(path, at) });
  };

  // One syntax error per line: the ones after the first on a line are mostly its echoes.
  for (const error of doc.errors) {
    const at = pos(error.pos[0]);
    if (problems.some((p) => p.line === at.line)) continue;
    problems.push({ path: [], message: yamlMessage(error.message), ...at });
  }
  if (problems.length > 0) return { problems, locate };
  if (doc.contents === null) {
    problems.push({ path: [], message: spec.empty });
    return { problems, locate };
  }

  // A value whose substitution failed is left as written and not validated further.
  const unsubstituted: string[] = [];
  substituteEnv(doc, options.env ?? denoEnv, (node, path, message) => {
    problems.push({ path, message, ...pos(node.range?.[0] ?? 0) });
    unsubstituted.push(path.join("\0"));
  });
  const envFailed = (path: readonly Segment[]) => unsubstituted.includes(path.join("\0"));

  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const result = spec.schema.safeParse(raw, { error: genericMessage });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.filter((s): s is Segment => typeof s !== "symbol");
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          const hint = suggest(key, spec.knownKeys?.(path) ?? []);
          add(
            [...path, key],
            `unknown key${hint === undefined ? "" : `; did you mean "${hint}"?`}`,
            "key",
          );
        }
      } else if (issue.code === "invalid_key") {
        add(path, issue.issues[0]?.message ?? issue.message, "key");
      } else if (!envFailed(path)) {
        add(path, issue.message);
      }
    }
  }
  spec.crossCheck?.(raw, (path, message, at) => {
    if (!envFailed(path)) add(path, message, at);
  });
  if (problems.length > 0 || !result.success) return { problems, locate };
  return { manifest: result.data, problems, locate };
}

function isNodeWithRange(node: unknown): node is { range: [number, number, number] } {
  return typeof node === "object" && node !== null &&
    Array.isArray((node as { range?: unknown }).range);
}

function yamlMessage(message: string): string {
  // yaml's messages end with " at line N, column M" when pretty; ours carry the position.
  return `YAML: ${message.replace(/ at line \d+, column \d+:?[\s\S]*$/, "")}`;
}

/**
 * The `yaml` package's Node build reads `process.env.LOG_TOKENS` and `LOG_STREAM` (debug
 * switches) while parsing, which throws `NotCapable` without `--allow-env`. Parsing a manifest
 * should not need that permission, so when it is not granted the parse runs (synchronously)
 * with an empty `process.env` in place, put back at once.
 */
function withoutYamlDebugEnv<T>(parse: () => T): T {
  let granted = false;
  try {
    granted = Deno.permissions.querySync({ name: "env", variable: "LOG_TOKENS" }).state ===
        "granted" &&
      Deno.permissions.querySync({ name: "env", variable: "LOG_STREAM" }).state === "granted";
  } catch {
    granted = false;
  }
  const saved = Object.getOwnPropertyDescriptor(process, "env");
  if (granted || saved === undefined || saved.configurable !== true) return parse();
  Object.defineProperty(process, "env", {
    value: {},
    writable: true,
    enumerable: saved.enumerable,
    configurable: true,
  });
  try {
    return parse();
  } finally {
    Object.defineProperty(process, "env", saved);
  }
}

function denoEnv(name: string): string | undefined {
  return Deno.env.get(name);
}

const VAR_PATTERN = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/** Replaces `${VAR}` in every string value (not keys) of the document. */
function substituteEnv(
  doc: ReturnType<typeof parseDocument>,
  env: (name: string) => string | undefined,
  report: (node: YamlNode, path: string[], message: string) => void,
): void {
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === "key" || typeof node.value !== "string" || !node.value.includes("${")) return;
      const source = node.value;
      const chain = [...ancestors.slice(1), node];
      const path: string[] = [];
      chain.forEach((a, i) => {
        if (isPair(a) && isScalar(a.key)) path.push(String(a.key.value));
        else if (isSeq(a)) path.push(String(a.items.indexOf(chain[i + 1] as never)));
      });
      const fail = (message: string) => report(node, path, message);
      let out = "";
      let i = 0;
      let substituted = false;
      while (i < source.length) {
        if (source.startsWith("$${", i)) {
          out += "${";
          i += 3;
          continue;
        }
        if (!source.startsWith("${", i)) {
          out += source[i++];
          continue;
        }
        const close = source.indexOf("}", i + 2);
        if (close < 0) {
          fail(`unterminated "\${" (write "$\${" for a literal "\${")`);
          return;
        }
        const inner = source.slice(i + 2, close);
        const m = VAR_PATTERN.exec(inner);
        if (m === null) {
          fail(`"\${${inner}}" is not a variable reference (\${NAME} or \${NAME:-default})`);
          return;
        }
        let value: string | undefined;
        try {
          value = env(m[1]);
        } catch (error) {
          fail(`cannot read environment variable ${m[1]}: ${(error as Error).message}`);
          return;
        }
        if (value === undefined || value === "" && m[2] !== undefined) {
          if (m[2] === undefined) {
            fail(`environment variable ${m[1]} is not set (and \${${m[1]}} has no default)`);
            return;
          }
          value = m[2];
        }
        out += value;
        substituted = true;
        i = close + 1;
      }
      node.value = substituted && node.type === Scalar.PLAIN ? retype(out) : out;
    },
  });
}

/** A plain scalar that became `42` or `true` after substitution is read as YAML would. */
function retype(value: string): unknown {
  if (value.trim() === "") return value;
  try {
    const v: unknown = withoutYamlDebugEnv(() => parseYaml(value));
    return typeof v === "number" || typeof v === "boolean" ? v : value;
  } catch {
    return value;
  }
}

const KIND_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
};

function describeValue(value: unknown): string {
  if (value === null) return "empty (null)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value === "boolean" ? "" : `the ${typeof value} `}${String(value)}`;
}

// deno-lint-ignore no-explicit-any
function genericMessage(iss: any): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return "is required";
      if (iss.input === null) {
        return `is empty (expected ${KIND_NAMES[iss.expected] ?? iss.expected})`;
      }
      if (Number.isFinite(iss.input) && iss.expected === "int") {
        return `must be an integer, not ${iss.input}`;
      }
      return `must be ${KIND_NAMES[iss.expected] ?? iss.expected}, not ${describeValue(iss.input)}`;
    case "too_small":
      if (iss.origin === "string" && iss.minimum === 1) return "must not be empty";
      return iss.inclusive === false
        ? `must be greater than ${iss.minimum}`
        : `must be at least ${iss.minimum}`;
    case "too_big":
      return iss.inclusive === false
        ? `must be less than ${iss.maximum}`
        : `must be at most ${iss.maximum}`;
    case "invalid_value":
      return `must be one of ${iss.values.join(", ")}, not ${describeValue(iss.input)}`;
    default:
      return undefined;
  }
}

function knownKeys(path: readonly Segment[]): string[] {
  if (path.length === 0) return Object.keys(manifestSchema.shape);
  if (path.length === 1 && path[0] === "permissions") return Object.keys(permissionsSchema.shape);
  if (path.length === 1 && path[0] === "limits") return Object.keys(limitsSchema.shape);
  if (path.length === 2 && path[0] === "routes") return Object.keys(routeSchema.shape);
  return [];
}

/** The known key closest to `key` (edit distance at most 2), if any. */
function suggest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
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
  const parsed = parseDetailed(text, options);
  const manifest = parsed.manifest;
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

if (import.meta.main) {
  if (Deno.args.includes("--schema")) {
    console.log(JSON.stringify(manifestJsonSchema(), null, 2));
  } else {
    console.error("usage: deno run lib/plugins/manifest.ts --schema > schemas/plugin.schema.json");
    Deno.exit(2);
  }
}
