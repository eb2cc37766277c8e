/**
 * From plugin folders to running plugins: discovery, resolution (dependencies first, with
 * bounded concurrency per level), the signing policy, and hot reload of changed folders.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type LoadedManifest, loadManifest, MANIFEST_FILE } from "./manifest.ts";
import { discoverPlugins, mapLimit, resolvePlugins } from "./resolver.ts";
import { verifyPlugin } from "./signing.ts";
import type { PluginInfo, PluginSpec, PluginSupervisor } from "./supervisor.ts";
import { targetKind } from "./target_kind.ts";

/** Which plugins may load. */
export interface SigningPolicy {
  /**
   * `"allow"` (default): unsigned plugins load in worker or process isolation; `"deny"`: only
   * plugins signed by a trusted key load. Trusted isolation always needs a signature by a
   * trusted key or a name in `trustedPlugins`; a signed plugin whose files no longer match
   * its signature never loads.
   */
  unsigned?: "allow" | "deny";
  /** Public keys (base64) whose signatures are trusted. */
  trustedKeys?: string[];
  /** Plugins allowed to run trusted (in-process) without a signature. */
  trustedPlugins?: string[];
}

/** Options for `loadPlugins`. */
export interface LoadPluginsOptions extends SigningPolicy {
  /** Plugin directories (each holds plugin folders). Missing ones are skipped. */
  dirs: string[];
  /** The supervisor that runs them. */
  supervisor: PluginSupervisor;
  /** Loads at once within one dependency level (default 4). */
  concurrency?: number;
}

/** What `loadPlugins` did. */
export interface LoadReport {
  /** The plugins that loaded, as `PluginSupervisor.list` reports them. */
  loaded: PluginInfo[];
  /** Every plugin that did not load, with why (a manifest, a dependency, a signature, onLoad). */
  failed: { name?: string; dir: string; error: string }[];
}

/**
 * Discovers, resolves, checks and starts every plugin in `dirs`: manifests are validated,
 * dependencies resolved (and loaded level by level), signatures checked against the policy.
 * A plugin that fails is reported in `failed`; the others still load.
 *
 * @example
 * ```ts
 * import { loadPlugins } from "./loader.ts";
 * import { PluginSupervisor } from "./supervisor.ts";
 * const supervisor = new PluginSupervisor();
 * const report = await loadPlugins({ dirs: ["plugins"], supervisor, unsigned: "allow" });
 * for (const f of report.failed) console.error(`${f.name ?? f.dir}: ${f.error}`);
 * console.log(report.loaded.map((p) => `${p.name}@${p.version} ${p.state}`));
 * await supervisor.close();
 * ```
 */
export async function loadPlugins(options: LoadPluginsOptions): Promise<LoadReport> {
  const dirs: string[] = [];
  for (const dir of options.dirs) {
    // A plugin directory that does not exist holds no plugins.
    if (await targetKind(dir).catch(() => undefined) === "directory") dirs.push(dir);
  }
  const report: LoadReport = { loaded: [], failed: [] };
  const discovery = await discoverPlugins(dirs);
  const broken = new Set<string>();
  for (const e of discovery.errors) {
    if (e.name !== undefined) broken.add(e.name);
    report.failed.push({ name: e.name, dir: e.dir, error: e.error.message });
  }
  const resolution = resolvePlugins(discovery.plugins, { broken });
  const refused = new Set<string>();
  for (const problem of resolution.problems) {
    for (const name of problem.plugins) refused.add(name);
    const first = discovery.plugins.find((p) => p.manifest.name === problem.plugins[0]);
    report.failed.push({ name: problem.plugins[0], dir: first?.dir ?? "", error: problem.message });
  }
  // Level by level: a plugin starts once everything it requires is active.
  const level = new Map<string, number>();
  for (const p of resolution.order) {
    const deps = Object.keys(p.manifest.requires).map((d) => level.get(d) ?? 0);
    level.set(p.manifest.name, deps.length === 0 ? 0 : Math.max(...deps) + 1);
  }
  const levels: LoadedManifest[][] = [];
  for (const p of resolution.order) {
    if (refused.has(p.manifest.name)) continue;
    (levels[level.get(p.manifest.name)!] ??= []).push(p);
  }
  const down = new Set<string>();
  for (const group of levels) {
    if (group === undefined) continue;
    await mapLimit(group, options.concurrency ?? 4, async (p) => {
      const missing = Object.keys(p.manifest.requires).filter((d) => down.has(d));
      if (missing.length > 0) {
        down.add(p.manifest.name);
        report.failed.push({
          name: p.manifest.name,
          dir: p.dir,
          error: `plugin ${p.manifest.name} requires ${missing.join(", ")}, which did not load`,
        });
        return;
      }
      try {
        await checkSignature(p, options);
        report.loaded.push(await options.supervisor.add(await toSpec(p)));
      } catch (e) {
        down.add(p.manifest.name);
        report.failed.push({ name: p.manifest.name, dir: p.dir, error: errorText(e) });
      }
    });
  }
  return report;
}

/** Refuses a plugin the signing policy does not let load; says why. */
export async function checkSignature(p: LoadedManifest, policy: SigningPolicy): Promise<void> {
  const name = p.manifest.name;
  const result = await verifyPlugin(p.dir, policy.trustedKeys ?? []);
  if (result.ok) return;
  const reason = result.reason;
  if (reason !== "unsigned" && !reason.startsWith("signed by an untrusted key")) {
    throw new Error(`plugin ${name} does not match its signature (${reason}): refused`);
  }
  if (p.manifest.isolation === "trusted") {
    if (policy.trustedPlugins?.includes(name)) return;
    throw new Error(
      `plugin ${name} asks for trusted (in-process) isolation but is ${reason}: sign it with a ` +
        "trusted key or list it in trustedPlugins",
    );
  }
  if ((policy.unsigned ?? "allow") === "deny") {
    throw new Error(
      `plugin ${name} is ${reason}, and this runtime loads only plugins signed by a trusted key`,
    );
  }
}

/** The supervisor's view of a loaded manifest, with a content hash of its files. */
export async function toSpec(p: LoadedManifest): Promise<PluginSpec> {
  const m = p.manifest;
  return {
    name: m.name,
    version: m.version,
    dir: p.dir,
    entryPath: p.entryPath,
    isolation: m.isolation,
    permissions: p.permissions,
    provides: m.provides,
    idempotent: m.idempotent,
    subscribes: m.subscribes,
    hooks: m.hooks,
    limits: m.limits,
    config: m.config,
    retry: m.retry,
    timeout: m.timeout,
    moduleVersion: await contentHash(p.dir, p.permissions.write),
  };
}

/**
 * SHA-256 over every file of a plugin folder (paths and contents, sorted): the key under which
 * its module is cached, so an unchanged plugin is not re-imported and a changed one is.
 */
export async function contentHash(dir: string, skip: string[] = []): Promise<string> {
  const files: string[] = [];
  const walk = async (at: string, rel: string) => {
    for await (const e of Deno.readDir(at)) {
      const path = `${at}/${e.name}`;
      const relPath = rel === "" ? e.name : `${rel}/${e.name}`;
      // What the plugin itself writes (its data) is not its code.
      if (skip.some((w) => path === w || path.startsWith(`${w}/`))) continue;
      if (e.isDirectory) await walk(path, relPath);
      else if (e.isFile) files.push(relPath);
    }
  };
  await walk(dir, "");
  files.sort();
  const hash = createHash("sha256");
  for (const f of files) {
    hash.update(f + "\0");
    hash.update(await Deno.readFile(`${dir}/${f}`));
  }
  return hash.digest("hex").slice(0, 16);
}

/** Options for `watchPlugins`. */
export interface WatchOptions extends SigningPolicy {
  /** Plugin directories to watch (each holds plugin folders). */
  dirs: string[];
  /** The supervisor that runs the plugins. */
  supervisor: PluginSupervisor;
  /** Quiet time after the last change before reloading (default 150 ms). */
  debounceMs?: number;
  /** Reload outcomes: `error` set when the new version failed (the old one keeps serving). */
  onReload?: (outcome: { plugin: string; error?: string }) => void;
}

/**
 * Watches plugin folders and reloads a plugin whose files change: the new version goes
 * through Reloading; if it fails to load, the old one keeps serving and the error is
 * reported. A new folder is loaded; a removed one is unloaded. Returns the stop function.
 *
 * @example
 * ```ts
 * import { loadPlugins, watchPlugins } from "./loader.ts";
 * import { PluginSupervisor } from "./supervisor.ts";
 * const supervisor = new PluginSupervisor();
 * await loadPlugins({ dirs: ["plugins"], supervisor });
 * const stop = watchPlugins({
 *   dirs: ["plugins"],
 *   supervisor,
 *   onReload: ({ plugin, error }) => console.log(plugin, error ?? "reloaded"),
 * });
 * // ... edit a plugin's files: it is reloaded ...
 * stop();
 * await supervisor.close();
 * ```
 */
export function watchPlugins(options: WatchOptions): () => void {
  const watcher = Deno.watchFs(options.dirs, { recursive: true });
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  const roots = options.dirs.map((d) => d.replace(/\/+$/, ""));
  const folderOf = (path: string): string | null => {
    for (const root of roots) {
      if (!path.startsWith(root + "/")) continue;
      const name = path.slice(root.length + 1).split("/")[0];
      return name === "" ? null : `${root}/${name}`;
    }
    return null;
  };
  /** Write grants of loaded plugins: a plugin writing its own data is not a code change. */
  const dataPaths = new Map<string, string[]>();
  const reload = async (folder: string) => {
    const name = folder.slice(folder.lastIndexOf("/") + 1);
    try {
      const manifest = await targetKind(`${folder}/${MANIFEST_FILE}`).catch(() => undefined);
      if (manifest === undefined) {
        if (options.supervisor.get(name) !== undefined) {
          await options.supervisor.unload(name);
          options.onReload?.({ plugin: name, error: "removed" });
        }
        return;
      }
      const p = await loadManifest(folder);
      dataPaths.set(folder, p.permissions.write);
      await checkSignature(p, options);
      const spec = await toSpec(p);
      if (options.supervisor.get(p.manifest.name) === undefined) await options.supervisor.add(spec);
      else await options.supervisor.reload(p.manifest.name, spec);
      options.onReload?.({ plugin: p.manifest.name });
    } catch (e) {
      options.onReload?.({ plugin: name, error: errorText(e) });
    }
  };
  const isData = (folder: string, path: string): boolean => {
    let writes = dataPaths.get(folder);
    if (writes === undefined) {
      // Not reloaded yet: read its grants once (a broken manifest is a change to report).
      writes = [];
      dataPaths.set(folder, writes);
      loadManifest(folder).then((p) => dataPaths.set(folder, p.permissions.write), () => {});
    }
    return writes.some((w) => path === w || path.startsWith(`${w}/`));
  };
  (async () => {
    try {
      for await (const event of watcher) {
        for (const path of event.paths) {
          const folder = folderOf(path);
          if (folder === null) continue;
          if (isData(folder, path)) continue;
          clearTimeout(pending.get(folder));
          pending.set(
            folder,
            setTimeout(() => {
              pending.delete(folder);
              reload(folder);
            }, options.debounceMs ?? 150),
          );
        }
      }
    } catch {
      // The watcher was closed.
    }
  })();
  return () => {
    for (const t of pending.values()) clearTimeout(t);
    pending.clear();
    watcher.close();
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
