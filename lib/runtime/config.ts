/**
 * The project configuration, `statecraft.yaml`: which machine scripts and plugins to load,
 * where the store lives, how it is encrypted, which plugin signatures are trusted. Read through
 * `lib/config/yaml_document.ts`, like plugin manifests (every problem with its line and column,
 * `${VAR}` substitution). With
 * no file, the embedded defaults apply: `examples/` machines, `plugins/`, a local KV file.
 *
 * @module
 */
import { z } from "zod";
import { parseYamlWith, type YamlSpec } from "../config/yaml_document.ts";
import { SCHEDULE_KEYS, scheduleSchema, type ScheduleSpec } from "../persist/schedule_spec.ts";

/** The validated configuration (paths as written; relative ones resolve against the project). */
export interface RuntimeConfig {
  /** Globs of machine scripts (`.ts` modules exporting machines; `.scxml` documents). */
  machines: string[];
  /** Plugin directories. */
  plugins: string[];
  /** KV path, `:memory:`, or a KV Connect URL. */
  kv: string;
  /** Encryption at rest: the key, or the environment variable holding it. */
  encryption?: { key?: string; keyEnv?: string };
  /** Plugin signing policy. */
  signing: {
    unsigned: "allow" | "deny";
    /** Public keys (base64) or files holding them. */
    trustedKeys: string[];
    trustedKeyFiles: string[];
    trustedPlugins: string[];
  };
  /** HTTP service settings (`statecraft serve`). */
  server: { host: string; port: number; tokenEnv?: string };
  /** Cluster mode (docs/cluster.md): absent, this process runs alone on its store. */
  cluster?: {
    enabled: boolean;
    node?: string;
    partitions?: number;
    leaseMs?: number;
    renewMs?: number;
    role?: "member" | "client";
  };
  /** Schedules (docs/operations.md): cron ticks that create an instance or send an event. */
  schedules?: ScheduleSpec[];
  /**
   * The revision of `schedules` (raise it with each change): a node started with a lower one
   * than the store has synced leaves the schedules alone (rolling deploys).
   */
  schedulesRevision?: number;
  /** Limits of the store (docs/robustness.md). */
  limits?: {
    /** Hops of one chain of causes between instances before it is a livelock (10,000). */
    maxCausalHops?: number;
  };
}

const configSchema = z.strictObject({
  machines: z.array(z.string().min(1)).default(["examples/*.ts", "examples/*.scxml"]),
  plugins: z.array(z.string().min(1)).default(["plugins"]),
  kv: z.string().min(1).default(".statecraft/state.kv"),
  encryption: z.strictObject({
    key: z.string().min(1).optional(),
    keyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name").optional(),
  }).optional(),
  signing: z.strictObject({
    unsigned: z.enum(["allow", "deny"]).default("allow"),
    trustedKeys: z.array(z.string().min(1)).default([]),
    trustedKeyFiles: z.array(z.string().min(1)).default([]),
    trustedPlugins: z.array(z.string().min(1)).default([]),
  }).prefault({}),
  server: z.strictObject({
    host: z.string().min(1).default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(8787),
    tokenEnv: z.string().optional(),
  }).prefault({}),
  cluster: z.strictObject({
    enabled: z.boolean().default(true),
    node: z.string().min(1).max(128).optional(),
    partitions: z.number().int().min(1).max(4096).optional(),
    leaseMs: z.number().int().min(500).max(600_000).optional(),
    renewMs: z.number().int().min(100).max(300_000).optional(),
    role: z.enum(["member", "client"]).optional(),
  }).optional(),
  schedulesRevision: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  limits: z.strictObject({
    maxCausalHops: z.number().int().min(1).max(1_000_000_000).optional(),
  }).optional(),
  schedules: z.array(scheduleSchema).default([]).superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((s, i) => {
      if (seen.has(s.name)) {
        ctx.addIssue({
          code: "custom",
          path: [i, "name"],
          message: `"${s.name}" is declared twice`,
        });
      }
      seen.add(s.name);
    });
  }),
});

const SPEC: YamlSpec<RuntimeConfig> = {
  schema: configSchema as unknown as z.ZodType<RuntimeConfig>,
  knownKeys: (path) =>
    path.length === 0
      ? Object.keys(configSchema.shape)
      : path[0] === "signing"
      ? ["unsigned", "trustedKeys", "trustedKeyFiles", "trustedPlugins"]
      : path[0] === "server"
      ? ["host", "port", "tokenEnv"]
      : path[0] === "cluster"
      ? ["enabled", "node", "partitions", "leaseMs", "renewMs", "role"]
      : path[0] === "limits"
      ? ["maxCausalHops"]
      : path[0] === "schedules" && path.length >= 2
      ? SCHEDULE_KEYS[String(path[2] ?? "")] ?? []
      : [],
  empty: "the configuration is empty",
  what: "configuration",
};

/**
 * The defaults: what a project without `statecraft.yaml` runs.
 *
 * @example
 * ```ts
 * import { defaultConfig } from "./config.ts";
 * const config = defaultConfig();
 * // config.kv is ".statecraft/state.kv"; config.machines is ["examples/*.ts", "examples/*.scxml"]
 * ```
 */
export function defaultConfig(): RuntimeConfig {
  return configSchema.parse({}) as RuntimeConfig;
}

/**
 * Parses `statecraft.yaml` text; throws a `DocumentError` (`invalid configuration`) listing
 * every problem with line:col.
 * `${VAR}` references are read through `env` (default: the process environment).
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   "machines: [machines/*.ts]\nkv: ${STATE_KV}\n",
 *   "statecraft.yaml",
 *   (name) => name === "STATE_KV" ? "/var/lib/app/state.kv" : undefined,
 * );
 * // config.kv is "/var/lib/app/state.kv"
 * ```
 */
export function parseConfig(
  text: string,
  file: string,
  env?: (name: string) => string | undefined,
): RuntimeConfig {
  if (text.trim() === "") return defaultConfig();
  return parseYamlWith(text, file, SPEC, env);
}

/** The JSON Schema of `statecraft.yaml` (published as `schemas/statecraft.schema.json`). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: "input" }) as Record<string, unknown>;
}

/**
 * Expands globs (`*`, `**`, `?`, `{a,b}`) relative to `base` into sorted absolute file paths.
 * Written here rather than taken from a library: JSR's std `expandGlob` is unreachable from
 * these machines, and the patterns a project file needs fit in a few lines.
 */
export async function expandGlobs(patterns: string[], base: string): Promise<string[]> {
  const out = new Set<string>();
  for (const pattern of patterns) {
    const abs = pattern.startsWith("/") ? pattern : `${base.replace(/\/$/, "")}/${pattern}`;
    const parts = abs.split("/");
    const firstGlob = parts.findIndex((p) => /[*?{]/.test(p));
    if (firstGlob < 0) {
      try {
        if ((await Deno.stat(abs)).isFile) out.add(abs);
      } catch {
        // A file named without wildcards that is not there: nothing to load.
      }
      continue;
    }
    const root = parts.slice(0, firstGlob).join("/") || "/";
    const regex = globToRegExp(abs);
    for await (const file of walk(root)) if (regex.test(file)) out.add(file);
  }
  return [...out].sort();
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "{") {
      const end = glob.indexOf("}", i);
      re += `(?:${glob.slice(i + 1, end).split(",").map(escape).join("|")})`;
      i = end;
    } else re += escape(c);
  }
  return new RegExp(`^${re}$`);
}

function escape(s: string): string {
  return s.replace(/[.+^$()|[\]\\]/g, "\\$&");
}

async function* walk(dir: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return;
  }
  for (const e of entries) {
    const path = `${dir.replace(/\/$/, "")}/${e.name}`;
    if (e.isDirectory && e.name !== "node_modules" && !e.name.startsWith(".")) yield* walk(path);
    else if (e.isFile) yield path;
  }
}
