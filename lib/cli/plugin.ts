/**
 * `statecraft plugin ...`: the plugins of a runtime, from the command line.
 *
 * - `plugin list`: loads every plugin (as the runtime would) and prints
 *   `NAME VERSION ISOLATION STATE ACTIONS`, the ones that failed with their reason; `--json`
 *   for one JSON object per plugin.
 * - `plugin check`: manifests, dependencies and signatures, without starting anything; every
 *   problem as `file:line:col path: message`, `name: ok (...)` for the others.
 * - `plugin call <plugin> <action> [json]`: loads the plugins, calls the action, prints the
 *   result as JSON.
 * - `plugin new`, `keygen`, `sign`, `verify`: see `plugin_scaffold.ts` and `plugin_keys.ts`.
 *
 * @module
 */
import type { KvBackend } from "../persist/backend.ts";
import { openBackend } from "../persist/open_backend.ts";
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { formatProblem } from "../config/problems.ts";
import { loadManifest, ManifestError } from "../plugins/manifest.ts";
import type { LoadedManifest } from "../plugins/manifest.ts";
import { checkSignature, loadPlugins, type LoadReport } from "../plugins/loader.ts";
import { discoverPlugins, resolvePlugins, type ResolveProblem } from "../plugins/resolver.ts";
import { keyFingerprint, verifyPlugin } from "../plugins/signing.ts";
import { PluginSupervisor } from "../plugins/supervisor.ts";
import { PluginError, PluginHostError } from "../plugins/types.ts";
import { CliError } from "./cli_error.ts";
import {
  CONSOLE,
  displayPath,
  formatTable,
  isDirectory,
  oneLine,
  pluginDirs,
  type PluginDirsOptions,
  type PluginOutput,
  plural,
  type PolicyOptions,
  readPublicKeys,
  relativeMessage,
} from "./plugin_common.ts";

export { DEFAULT_PLUGIN_DIR, type PluginOutput } from "./plugin_common.ts";
export { pluginNewCommand, sdkSpecifier } from "./plugin_scaffold.ts";
export { pluginKeygenCommand, pluginSignCommand, pluginVerifyCommand } from "./plugin_keys.ts";

/** Options of the commands that start plugins (`list`, `call`). */
export interface PluginRunOptions extends PluginDirsOptions, PolicyOptions {
  /**
   * A KV file for the plugins' namespaces (`["plugin", <name>, ...]`), created if missing;
   * default: in memory, gone when the command ends.
   */
  kv?: string;
  /** Every plugin log line on stderr (default: warnings and errors only). */
  verbose?: boolean;
}

/** Options of `plugin list`. */
export interface PluginListOptions extends PluginRunOptions {
  /** One JSON object per plugin instead of a table. */
  json?: boolean;
}

/** One plugin as `plugin list --json` prints it. */
export interface PluginRow {
  /** The plugin's name (its folder's name when the manifest could not be read). */
  name: string;
  /** Its version, `null` when the manifest could not be read. */
  version: string | null;
  /** `worker`, `process` or `trusted`; `null` when the manifest could not be read. */
  isolation: string | null;
  /** The lifecycle state (`active`...), or `failed`. */
  state: string;
  /** The actions it answers (none when it failed). */
  actions: string[];
  /** The bus events it subscribes to (event descriptors). */
  subscribes: string[];
  /** The hooks it handles. */
  hooks: string[];
  /** The plugin folder. */
  dir: string;
  /** Why it did not load, or `null`. */
  error: string | null;
}

/**
 * `plugin list`: loads every plugin through `loadPlugins` and a supervisor, prints one row per
 * plugin (loaded and failed, by name) and the reasons of the failed ones, then unloads them.
 * Returns the exit code: 0 when the listing could be made, even with failed plugins
 * (`plugin check` is the command that fails on them).
 *
 * @example
 * ```ts ignore
 * import { pluginListCommand } from "./plugin.ts";
 * await pluginListCommand({ plugins: ["plugins"], json: true });
 * ```
 */
export async function pluginListCommand(
  options: PluginListOptions,
  out: PluginOutput = CONSOLE,
): Promise<number> {
  const rows = await withPlugins(options, out, async (supervisor, report) => {
    const rows: PluginRow[] = [];
    for (const info of supervisor.list()) {
      const failed = report.failed.find((f) => f.name === info.name);
      rows.push({
        name: info.name,
        version: info.version,
        isolation: info.mode,
        state: failed === undefined ? info.state : "failed",
        actions: failed === undefined ? info.actions : [],
        subscribes: info.subscribes,
        hooks: info.hooks,
        dir: failed?.dir ?? "",
        error: failed?.error ?? info.lastError,
      });
    }
    for (const f of report.failed) {
      const name = f.name ?? f.dir.split("/").pop()!;
      // A plugin that failed in the supervisor (onLoad, start) has its row already.
      if (rows.some((r) => r.name === name && r.dir === f.dir)) continue;
      const manifest = await loadManifest(f.dir).catch(() => undefined);
      rows.push({
        name,
        version: manifest?.manifest.version ?? null,
        isolation: manifest?.manifest.isolation ?? null,
        state: "failed",
        actions: [],
        subscribes: manifest?.manifest.subscribes ?? [],
        hooks: manifest?.manifest.hooks ?? [],
        dir: f.dir,
        error: f.error,
      });
    }
    return rows.sort((a, b) => compare(a.name, b.name) || compare(a.dir, b.dir));
  });
  await fillDirs(rows, options);

  if (options.json === true) {
    for (const row of rows) out.line(JSON.stringify(row));
    return 0;
  }
  if (rows.length === 0) {
    out.line(`no plugins in ${pluginDirs(options).join(", ")}`);
    return 0;
  }
  const table = rows.map((r) => [
    r.name,
    r.version ?? "-",
    r.isolation ?? "-",
    r.state,
    r.actions.length === 0 ? "-" : r.actions.join(", "),
  ]);
  for (const line of formatTable(["NAME", "VERSION", "ISOLATION", "STATE", "ACTIONS"], table)) {
    out.line(line);
  }
  const failed = rows.filter((r) => r.error !== null && r.state === "failed");
  if (failed.length > 0) out.line("");
  for (const row of failed) {
    const [first, ...rest] = relativeMessage(row.error!).split("\n");
    out.line(`${row.name}: ${first}`);
    for (const line of rest) out.line(`  ${line.trim()}`);
  }
  return 0;
}

/** Options of `plugin call`. */
export interface PluginCallOptions extends PluginRunOptions {
  /** Print a string result as it is, not as a JSON string. */
  raw?: boolean;
}

/**
 * `plugin call <plugin> <action> [json]`: loads the plugins, calls the action through the
 * supervisor with the parsed JSON payload, prints the result as JSON (indented) and returns 0.
 * A plugin-side error is one line with its name (`plugin "x": RangeError: ...`), exit 1.
 *
 * @throws {CliError} for a payload that is not JSON, a plugin that is not installed or did not
 * load, and a call the plugin host refused (unknown action, timeout...)
 *
 * @example
 * ```ts ignore
 * import { pluginCallCommand } from "./plugin.ts";
 * await pluginCallCommand("metrics", "snapshot", undefined, {});
 * ```
 */
export async function pluginCallCommand(
  plugin: string,
  action: string,
  json: string | undefined,
  options: PluginCallOptions,
  out: PluginOutput = CONSOLE,
): Promise<number> {
  let payload: unknown = undefined;
  if (json !== undefined) {
    try {
      payload = JSON.parse(json);
    } catch (e) {
      throw new CliError(
        `the payload is not JSON (${(e as Error).message}): write it in single quotes, ` +
          `like '{"name":"x"}'`,
      );
    }
  }
  const result = await withPlugins(options, out, async (supervisor, report) => {
    if (supervisor.get(plugin)?.state !== "active") {
      const failed = report.failed.find((f) => f.name === plugin);
      if (failed !== undefined) {
        throw new CliError(
          `plugin "${plugin}" did not load: ${oneLine(relativeMessage(failed.error))}`,
        );
      }
      const names = report.loaded.map((p) => p.name).sort(compare);
      throw new CliError(
        `no plugin "${plugin}" in ${pluginDirs(options).join(", ")} ` +
          `(${names.length === 0 ? "none loaded" : `loaded: ${names.join(", ")}`})`,
      );
    }
    try {
      return { ok: true as const, value: await supervisor.call(plugin, action, payload) };
    } catch (e) {
      if (e instanceof PluginError) return { ok: false as const, error: e };
      if (e instanceof PluginHostError) {
        throw new CliError(`${oneLine(e.message)} (${e.code})`);
      }
      throw e;
    }
  });
  if (!result.ok) {
    out.warn(`error: ${oneLine(relativeMessage(result.error.message))}`);
    return 1;
  }
  const value = result.value;
  if (options.raw === true && typeof value === "string") {
    out.line(value.replace(/\n$/, ""));
  } else {
    out.line(JSON.stringify(value ?? null, null, 2));
  }
  return 0;
}

/**
 * Loads the plugins into a fresh supervisor (no heartbeats), runs `fn`, then unloads them
 * and closes the KV store, whatever happens.
 */
async function withPlugins<T>(
  options: PluginRunOptions,
  out: PluginOutput,
  fn: (supervisor: PluginSupervisor, report: LoadReport) => Promise<T>,
): Promise<T> {
  const trustedKeys = await readPublicKeys(options.trustedKey ?? []);
  let kv: KvBackend;
  try {
    kv = await openBackend(options.kv ?? ":memory:");
  } catch (e) {
    throw new CliError(`cannot open the KV store ${options.kv}: ${(e as Error).message}`);
  }
  const supervisor = new PluginSupervisor({
    kv,
    heartbeatMs: 0,
    log: (plugin, level, message) => {
      if (options.verbose === true || level === "warn" || level === "error") {
        out.warn(`[${plugin}] ${level}: ${relativeMessage(message)}`);
      }
    },
  });
  try {
    const report = await loadPlugins({
      dirs: pluginDirs(options),
      supervisor,
      unsigned: options.unsigned ?? "allow",
      trustedKeys,
    });
    return await fn(supervisor, report);
  } finally {
    await supervisor.close();
    await kv.close();
  }
}

/** Rows of plugins that loaded have no folder from the supervisor: find it. */
async function fillDirs(rows: PluginRow[], options: PluginDirsOptions): Promise<void> {
  if (rows.every((r) => r.dir !== "")) return;
  const existing: string[] = [];
  for (const dir of pluginDirs(options)) if (await isDirectory(dir)) existing.push(dir);
  const { plugins } = await discoverPlugins(existing);
  for (const row of rows) {
    if (row.dir !== "") continue;
    row.dir = plugins.find((p) => p.manifest.name === row.name)?.dir ?? "";
  }
}

// ---------------------------------------------------------------------------------------------
// check

/** Options of `plugin check`. */
export type PluginCheckOptions = PluginDirsOptions & PolicyOptions;

/**
 * `plugin check`: validates every manifest, the dependencies between plugins and every
 * signature against the policy, without starting anything. Prints each problem as
 * `file:line:col path: message` (manifest problems, unmet `requires` at their entry), then
 * `name: ok (version, isolation, signature)` for each plugin without problems, then a summary.
 * Returns 1 when anything is wrong.
 *
 * @example
 * ```ts ignore
 * import { pluginCheckCommand } from "./plugin.ts";
 * const code = await pluginCheckCommand({ plugins: ["plugins"], unsigned: "deny" });
 * ```
 */
export async function pluginCheckCommand(
  options: PluginCheckOptions,
  out: PluginOutput = CONSOLE,
): Promise<number> {
  const trustedKeys = await readPublicKeys(options.trustedKey ?? []);
  const policy = { unsigned: options.unsigned ?? "allow", trustedKeys };
  const general: string[] = [];
  const existing: string[] = [];
  for (const dir of pluginDirs(options)) {
    if (await isDirectory(dir)) existing.push(dir);
    else general.push(`${dir}: no such plugin directory`);
  }
  const discovery = await discoverPlugins(existing);

  // Problems by plugin folder, so that each plugin's lines come together.
  const problems = new Map<string, string[]>();
  const add = (dir: string, line: string) => {
    problems.set(dir, [...(problems.get(dir) ?? []), line]);
  };
  const broken = new Set<string>();
  for (const e of discovery.errors) {
    if (e.name !== undefined) broken.add(e.name);
    if (e.error instanceof ManifestError) {
      const file = displayPath(e.error.file);
      for (const p of e.error.problems) add(e.dir, formatProblem(file, p));
    } else {
      add(e.dir, `${displayPath(e.dir)}: ${relativeMessage(e.error.message)}`);
    }
  }
  const resolution = resolvePlugins(discovery.plugins, { broken });
  for (const problem of resolution.problems) {
    for (const [plugin, line] of await locateResolveProblem(problem, discovery.plugins)) {
      add(plugin.dir, line);
    }
  }
  const statuses = new Map<string, string>();
  for (const p of discovery.plugins) {
    try {
      await checkSignature(p, policy);
      const result = await verifyPlugin(p.dir, trustedKeys);
      statuses.set(
        p.dir,
        result.ok ? `signed by ${await keyFingerprint(result.publicKey)}` : result.reason,
      );
    } catch (e) {
      add(p.dir, `${displayPath(p.dir)}: ${relativeMessage((e as Error).message)}`);
    }
  }

  for (const line of general) out.line(line);
  const folders = [
    ...discovery.plugins.map((p) => ({ dir: p.dir, name: p.manifest.name, plugin: p })),
    ...discovery.errors.filter((e) => !discovery.plugins.some((p) => p.dir === e.dir))
      .map((e) => ({ dir: e.dir, name: e.name ?? e.dir, plugin: undefined })),
  ].filter((f, i, all) => all.findIndex((g) => g.dir === f.dir) === i)
    .sort((a, b) => compare(a.name, b.name) || compare(a.dir, b.dir));
  let ok = 0;
  for (const { dir, name, plugin } of folders) {
    const lines = problems.get(dir);
    if (lines !== undefined) {
      for (const line of lines) out.line(line);
    } else if (plugin !== undefined) {
      ok++;
      const m = plugin.manifest;
      out.line(`${name}: ok (${m.version}, ${m.isolation}, ${statuses.get(dir)})`);
    }
  }
  const bad = folders.length - ok;
  out.line(
    `checked ${plural(folders.length, "plugin")}: ${ok} ok, ${bad} with problems` +
      (general.length > 0
        ? `, ${plural(general.length, "missing directory", "missing directories")}`
        : ""),
  );
  return bad > 0 || general.length > 0 ? 1 : 0;
}

/**
 * The lines of a resolution problem, each with the plugin it belongs to, at the `requires`
 * entry it is about when that can be told (`file:line:col requires.b: message`).
 */
async function locateResolveProblem(
  problem: ResolveProblem,
  plugins: LoadedManifest[],
): Promise<[LoadedManifest, string][]> {
  const byName = (name: string) => plugins.find((p) => p.manifest.name === name);
  const at = async (p: LoadedManifest, dep: string | undefined, message: string) => {
    const file = displayPath(p.manifestPath);
    const pos = dep === undefined ? undefined : await locateRequire(p.manifestPath, dep);
    return formatProblem(file, {
      path: pos === undefined ? [] : ["requires", dep!],
      message,
      ...pos,
    });
  };
  const out: [LoadedManifest, string][] = [];
  if (problem.kind === "cycle") {
    const cycle = /^dependency cycle: (.+)$/.exec(problem.message)?.[1].split(" -> ") ?? [];
    for (let i = 0; i + 1 < cycle.length; i++) {
      const p = byName(cycle[i]);
      if (p !== undefined) out.push([p, await at(p, cycle[i + 1], problem.message)]);
    }
    if (out.length > 0) return out;
  }
  const dep = /^plugin \S+ requires (\S+) /.exec(problem.message)?.[1];
  for (const name of problem.plugins) {
    const p = byName(name);
    if (p !== undefined) out.push([p, await at(p, dep, problem.message)]);
  }
  return out;
}

/** Where `requires.<dep>` is written in a manifest (its key), if it is. */
async function locateRequire(
  file: string,
  dep: string,
): Promise<{ line: number; col: number } | undefined> {
  try {
    const lineCounter = new LineCounter();
    const doc = parseDocument(await Deno.readTextFile(file), { lineCounter });
    const requires = doc.get("requires", true);
    if (!isMap(requires)) return undefined;
    const pair = requires.items.find((i) => isScalar(i.key) && String(i.key.value) === dep);
    const offset = isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
    return offset === undefined ? undefined : lineCounter.linePos(offset);
  } catch {
    return undefined;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
