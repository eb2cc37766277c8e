/**
 * The plugins part of the REPL's `reload`, and what `plugins` lists: a plugin folder added
 * since start-up is loaded, a removed one unloaded, a changed one (its files' content hash)
 * reloaded through the supervisor (the old version serves until the new one is up), and one
 * that failed before is tried again. New plugins load after the plugins they require, as at
 * start-up; one whose `requires` cannot be met is reported and not loaded. Failures are kept per runtime, so `plugins` shows each
 * plugin once, with the latest error.
 *
 * @module
 */
import { checkSignature, toSpec } from "../plugins/loader.ts";
import { discoverPlugins, resolvePlugins } from "../plugins/resolver.ts";
import type { Runtime } from "../runtime/runtime.ts";

/** What `reloadPlugins` did for one plugin. */
export interface PluginOutcome {
  /** The plugin's name (its folder's name when the manifest did not load). */
  plugin: string;
  /** `added`, `reloaded` (its files changed), `removed` (its folder is gone), or `error`. */
  result: "added" | "reloaded" | "removed" | "error";
  /** Why, for errors. */
  reason?: string;
}

/** One row of `plugins`: a loaded plugin, or one that did not load (`state` `"not loaded"`). */
export interface PluginRow {
  /** Name (or folder). */
  name: string;
  /** Version, empty when unknown. */
  version: string;
  /** Isolation mode, empty when unknown. */
  mode: string;
  /** Lifecycle state, or `"not loaded"`. */
  state: string;
  /** Its actions, or why it did not load. */
  detail: string;
  /** Whether it is not running (failed or not loaded). */
  failed: boolean;
}

/** Failures by plugin name (or folder), starting from the runtime's load report. */
const failures = new WeakMap<Runtime, Map<string, string>>();

function failuresOf(runtime: Runtime): Map<string, string> {
  let map = failures.get(runtime);
  if (map === undefined) {
    map = new Map(runtime.pluginReport.failed.map((f) => [f.name ?? f.dir, f.error]));
    failures.set(runtime, map);
  }
  return map;
}

/**
 * Every plugin once: the supervisor's (a failed one with its load error), then folders that
 * never reached the supervisor (a broken manifest, a refused signature, a missing dependency).
 */
export function pluginRows(runtime: Runtime): PluginRow[] {
  const failed = failuresOf(runtime);
  const rows: PluginRow[] = runtime.plugins.list().map((p) => {
    const down = p.state === "failed" || p.state === "unloaded";
    const error = failed.get(p.name) ?? p.lastError ?? "";
    return {
      name: p.name,
      version: p.version,
      mode: p.mode,
      state: p.state,
      detail: down
        ? error
        : p.actions.length === 0
        ? "(no actions)"
        : `actions: ${p.actions.join(", ")}`,
      failed: down,
    };
  });
  const shown = new Set(rows.map((r) => r.name));
  for (const [name, error] of failed) {
    if (shown.has(name)) continue;
    rows.push({ name, version: "", mode: "", state: "not loaded", detail: error, failed: true });
  }
  return rows;
}

/**
 * Brings the running plugins in line with the plugin folders; returns what changed (nothing
 * when no folder changed, or when the runtime started without plugins: `pluginsStarted`).
 */
export async function reloadPlugins(runtime: Runtime): Promise<PluginOutcome[]> {
  if (!runtime.pluginsStarted) return [];
  const failed = failuresOf(runtime);
  const abs = (p: string) => p.startsWith("/") ? p : `${runtime.projectDir}/${p}`;
  const dirs: string[] = [];
  for (const dir of runtime.config.plugins.map(abs)) {
    if (await Deno.stat(dir).then((s) => s.isDirectory, () => false)) dirs.push(dir);
  }
  const signing = runtime.config.signing;
  const policy = { ...signing, trustedKeys: [...signing.trustedKeys] };
  for (const f of signing.trustedKeyFiles) {
    policy.trustedKeys.push((await Deno.readTextFile(abs(f))).trim());
  }
  const discovery = await discoverPlugins(dirs);
  const outcomes: PluginOutcome[] = [];
  const seen = new Set<string>();
  for (const e of discovery.errors) {
    const name = e.name ?? e.dir;
    seen.add(name);
    if (failed.get(name) === e.error.message) continue; // the same error as before
    failed.set(name, e.error.message);
    outcomes.push({ plugin: name, result: "error", reason: e.error.message });
  }
  // As at start-up: dependencies first; a plugin whose `requires` cannot be met is refused.
  const { order, problems } = resolvePlugins(discovery.plugins, {
    broken: discovery.errors.flatMap((e) => e.name === undefined ? [] : [e.name]),
  });
  for (const problem of problems) {
    for (const name of problem.plugins) {
      seen.add(name);
      if (failed.get(name) === problem.message) continue;
      failed.set(name, problem.message);
      outcomes.push({ plugin: name, result: "error", reason: problem.message });
    }
  }
  const supervisor = runtime.plugins;
  for (const p of order) {
    const name = p.manifest.name;
    seen.add(name);
    const running = supervisor.get(name);
    try {
      const spec = await toSpec(p);
      const up = running !== undefined && running.state !== "failed" &&
        running.state !== "unloaded";
      if (up && running.moduleVersion === spec.moduleVersion) continue;
      await checkSignature(p, policy);
      if (up) {
        await supervisor.reload(name, spec);
        outcomes.push({ plugin: name, result: "reloaded" });
      } else {
        if (running !== undefined) await supervisor.unload(name);
        await supervisor.add(spec);
        outcomes.push({ plugin: name, result: "added" });
      }
      failed.delete(name);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      if (failed.get(name) === reason) continue; // tried again, failed the same way
      failed.set(name, reason);
      outcomes.push({ plugin: name, result: "error", reason });
    }
  }
  for (const p of supervisor.list()) {
    if (seen.has(p.name)) continue;
    await supervisor.unload(p.name);
    failed.delete(p.name);
    outcomes.push({ plugin: p.name, result: "removed" });
  }
  for (const name of [...failed.keys()]) if (!seen.has(name)) failed.delete(name);
  return outcomes;
}
