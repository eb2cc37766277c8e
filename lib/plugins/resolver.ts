/**
 * Finding plugins on disk and putting them in load order: every `requires` satisfied (semver),
 * dependencies before their dependents, cycles rejected with the cycle printed, and every
 * plugin that depends, directly or not, on one that cannot load reported too.
 *
 * @module
 */
import { join, resolve } from "node:path";
// @ts-types="@types/semver"
import semver from "semver";
import { type LoadedManifest, loadManifest, MANIFEST_FILE } from "./manifest.ts";
import { targetKind } from "./target_kind.ts";

/** A plugin folder that could not be loaded during discovery. */
export interface DiscoveryError {
  /** The plugin folder (or the plugins directory, when that could not be read). */
  dir: string;
  /** The plugin's name when known (from its manifest, else its folder's name). */
  name?: string;
  /** What went wrong: a `ManifestError`, a `DuplicatePluginError`, or an I/O error. */
  error: Error;
}

/** The result of {@linkcode discoverPlugins}. */
export interface Discovery {
  /** The plugins whose manifests loaded, sorted by name. */
  plugins: LoadedManifest[];
  /** The folders that did not load. */
  errors: DiscoveryError[];
}

/** Two or more plugin folders with one name: none of them is loaded. */
export class DuplicatePluginError extends Error {
  /** The plugin name. */
  readonly pluginName: string;
  /** Every folder that declares it. */
  readonly dirs: string[];

  /**
   * Makes the error and its message, naming every folder.
   *
   * @param name the plugin name
   * @param dirs every folder that declares it
   */
  constructor(name: string, dirs: string[]) {
    super(
      `plugin ${name} is installed ${dirs.length} times (${dirs.join(" and ")}); ` +
        `remove all but one`,
    );
    this.name = "DuplicatePluginError";
    this.pluginName = name;
    this.dirs = dirs;
  }
}

/**
 * Loads the manifest of every subfolder with a `plugin.yaml` in each of `dirs`. A broken
 * manifest is reported in `errors` and the others still load. Two plugins with one name are
 * both rejected (one error per folder, naming every folder). A directory in `dirs` that does not
 * exist is reported as an error, not skipped.
 *
 * @example
 * ```ts ignore
 * import { discoverPlugins } from "./resolver.ts";
 * const { plugins, errors } = await discoverPlugins(["plugins"]);
 * for (const e of errors) console.error(e.error.message);
 * ```
 */
export async function discoverPlugins(dirs: string[]): Promise<Discovery> {
  const errors: DiscoveryError[] = [];
  const folders: string[] = [];
  for (const dir of dirs) {
    const abs = resolve(dir);
    try {
      const names: string[] = [];
      for await (const entry of Deno.readDir(abs)) {
        if (entry.isFile) continue;
        const folder = join(abs, entry.name);
        // A linked folder counts as the folder it leads to; a dangling link as nothing.
        if (entry.isSymlink && await targetKind(folder) !== "directory") continue;
        if (await targetKind(join(folder, MANIFEST_FILE)) !== undefined) names.push(entry.name);
      }
      names.sort();
      for (const name of names) folders.push(join(abs, name));
    } catch (error) {
      errors.push({ dir: abs, error: error as Error });
    }
  }

  const loaded = await mapLimit(folders, 8, async (dir) => {
    try {
      return await loadManifest(dir);
    } catch (error) {
      errors.push({ dir, name: dir.split(/[\\/]/).pop(), error: error as Error });
      return undefined;
    }
  });

  const byName = new Map<string, LoadedManifest[]>();
  for (const plugin of loaded) {
    if (plugin === undefined) continue;
    const list = byName.get(plugin.manifest.name) ?? [];
    list.push(plugin);
    byName.set(plugin.manifest.name, list);
  }
  const plugins: LoadedManifest[] = [];
  for (const [name, list] of byName) {
    if (list.length === 1) {
      plugins.push(list[0]);
      continue;
    }
    const error = new DuplicatePluginError(name, list.map((p) => p.dir));
    for (const p of list) errors.push({ dir: p.dir, name, error });
  }
  plugins.sort((a, b) => compareNames(a.manifest.name, b.manifest.name));
  errors.sort((a, b) => compareNames(a.dir, b.dir));
  return { plugins, errors };
}

/** Why a plugin cannot be loaded. */
export interface ResolveProblem {
  /**
   * `missing`: a required plugin is not installed; `incompatible`: its version is outside the
   * range; `cycle`: plugins require each other; `dependency`: a required plugin cannot be
   * loaded itself; `duplicate`: two plugins with one name.
   */
  kind: "missing" | "incompatible" | "cycle" | "dependency" | "duplicate";
  /** The plugins this problem keeps from loading (a cycle names all of its members). */
  plugins: string[];
  /** What is wrong, e.g. `plugin a requires b ^2.0.0 but b is 1.4.0`. */
  message: string;
}

/** The result of {@linkcode resolvePlugins}. */
export interface Resolution {
  /** The plugins that can be loaded, dependencies first (ties by name). */
  order: LoadedManifest[];
  /** Why the others cannot, in a stable order. */
  problems: ResolveProblem[];
}

/** Options of {@linkcode resolvePlugins}. */
export interface ResolveOptions {
  /**
   * Names of installed plugins that failed before resolution (a broken manifest): their
   * dependents are reported as `dependency` problems rather than as `missing`.
   */
  broken?: Iterable<string>;
}

/**
 * Checks every `requires` and puts the plugins in load order (dependencies first, ties broken
 * by name). A plugin with a missing or incompatible dependency, a plugin in a cycle, and every
 * plugin that depends on one of those (transitively) is left out and reported.
 *
 * @example
 * ```ts ignore
 * import { discoverPlugins, resolvePlugins } from "./resolver.ts";
 * const found = await discoverPlugins(["plugins"]);
 * const { order, problems } = resolvePlugins(found.plugins, {
 *   broken: found.errors.flatMap((e) => e.name === undefined ? [] : [e.name]),
 * });
 * for (const p of problems) console.error(p.message);
 * for (const plugin of order) console.log(plugin.manifest.name);
 * ```
 */
export function resolvePlugins(
  plugins: LoadedManifest[],
  options: ResolveOptions = {},
): Resolution {
  const problems: ResolveProblem[] = [];
  const failed = new Set<string>();

  // Duplicates, in case the caller did not come through discoverPlugins.
  const byName = new Map<string, LoadedManifest>();
  const dirsByName = new Map<string, string[]>();
  for (const p of plugins) {
    const name = p.manifest.name;
    dirsByName.set(name, [...(dirsByName.get(name) ?? []), p.dir]);
    byName.set(name, p);
  }
  for (const [name, dirs] of [...dirsByName].sort((a, b) => compareNames(a[0], b[0]))) {
    if (dirs.length > 1) {
      problems.push({
        kind: "duplicate",
        plugins: [name],
        message: new DuplicatePluginError(name, dirs).message,
      });
      failed.add(name);
    }
  }
  const broken = new Set(options.broken ?? []);
  for (const name of failed) broken.add(name);
  const names = [...byName.keys()].filter((n) => !failed.has(n)).sort(compareNames);

  // Requirements: missing, incompatible, broken. Edges only to satisfied requirements.
  const edges = new Map<string, string[]>();
  const waitingOn = new Map<string, [dep: string, range: string][]>();
  for (const name of names) {
    const requires = byName.get(name)!.manifest.requires;
    const deps: string[] = [];
    for (const dep of Object.keys(requires).sort(compareNames)) {
      const range = requires[dep];
      const target = byName.get(dep);
      if (broken.has(dep)) {
        waitingOn.set(name, [...(waitingOn.get(name) ?? []), [dep, range]]);
      } else if (target === undefined) {
        problems.push({
          kind: "missing",
          plugins: [name],
          message: `plugin ${name} requires ${dep} ${range}, which is not installed`,
        });
        failed.add(name);
      } else if (!semver.satisfies(target.manifest.version, range)) {
        problems.push({
          kind: "incompatible",
          plugins: [name],
          message: `plugin ${name} requires ${dep} ${range} but ${dep} is ` +
            target.manifest.version,
        });
        failed.add(name);
      } else {
        deps.push(dep);
      }
    }
    edges.set(name, deps);
  }

  // Cycles: every strongly connected component with more than one member, or a self-loop.
  for (const component of stronglyConnected(names, edges)) {
    const first = component[0];
    if (component.length === 1 && !edges.get(first)!.includes(first)) continue;
    const cycle = findCycle(first, new Set(component), edges);
    problems.push({
      kind: "cycle",
      plugins: component,
      message: `dependency cycle: ${cycle.join(" -> ")}`,
    });
    for (const name of component) failed.add(name);
  }

  // Transitive failure, in waves, so that each message names the plugin's own requirement.
  for (const [name, list] of waitingOn) {
    if (failed.has(name)) continue;
    const [dep, range] = list[0];
    problems.push({
      kind: "dependency",
      plugins: [name],
      message: `plugin ${name} requires ${dep} ${range}, which cannot be loaded`,
    });
    failed.add(name);
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const name of names) {
      if (failed.has(name)) continue;
      const dep = edges.get(name)!.find((d) => failed.has(d));
      if (dep === undefined) continue;
      problems.push({
        kind: "dependency",
        plugins: [name],
        message: `plugin ${name} requires ${dep} ${
          byName.get(name)!.manifest.requires[dep]
        }, which cannot be loaded`,
      });
      failed.add(name);
      changed = true;
    }
  }

  // Topological order of the rest (Kahn; the smallest ready name first).
  const ok = names.filter((n) => !failed.has(n));
  const pending = new Map(ok.map((n) => [n, edges.get(n)!.length]));
  const dependents = new Map<string, string[]>();
  for (const n of ok) {
    for (const d of edges.get(n)!) dependents.set(d, [...(dependents.get(d) ?? []), n]);
  }
  const ready = ok.filter((n) => pending.get(n) === 0);
  const order: LoadedManifest[] = [];
  while (ready.length > 0) {
    ready.sort(compareNames);
    const next = ready.shift()!;
    order.push(byName.get(next)!);
    for (const d of dependents.get(next) ?? []) {
      const left = pending.get(d)! - 1;
      pending.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  return { order, problems };
}

/** Tarjan's algorithm; each component sorted by name, components in order of their first name. */
function stronglyConnected(names: string[], edges: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      out.push(component.sort(compareNames));
    }
  };
  for (const n of names) if (!index.has(n)) visit(n);
  return out.sort((a, b) => compareNames(a[0], b[0]));
}

/** A shortest cycle through `start` inside its component: `[start, ..., start]`. */
function findCycle(start: string, within: Set<string>, edges: Map<string, string[]>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of edges.get(v) ?? []) {
      if (!within.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, and resolves to the results in
 * the order of `items`. The first rejection rejects the whole call (calls already running are
 * not cancelled; no new ones start); catch inside `fn` to collect failures instead.
 *
 * @param limit at least 1 (`Infinity` for no limit)
 *
 * @example
 * ```ts
 * import { mapLimit } from "./resolver.ts";
 * const sizes = await mapLimit(["a", "bb", "ccc"], 2, async (s) => s.length);
 * console.log(sizes); // [1, 2, 3]
 * ```
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!(limit >= 1)) throw new RangeError(`mapLimit: limit must be at least 1, not ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Math.min(items.length, limit === Infinity ? items.length : Math.floor(limit));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
