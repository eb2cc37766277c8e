/**
 * Loading machine scripts: TypeScript modules that export machines. A load error names the file
 * and line; a circular import between scripts is reported with the cycle; modules are imported
 * under a content-hash key (`file.ts?v=<hash>` over the file and its local imports), so an
 * unchanged script is served from the module cache and a changed one is imported anew.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Machine } from "../core/machine.ts";
import { DefinitionError } from "../core/errors.ts";
import { fromSCXML } from "../scxml/import.ts";
import { ScxmlError } from "../scxml/parse.ts";
import { sourceImportEnabled } from "./source_switch.ts";

/** A machine and where it came from. */
export interface LoadedMachine {
  /** The machine. */
  machine: Machine<Record<string, unknown>>;
  /** The script or SCXML document it was loaded from (absolute path). */
  file: string;
  /** The export it came from (`default` or a name). */
  exportName: string;
  /** Content hash of the script and its local imports. */
  version: string;
}

/** A script that did not load. */
export interface ScriptError {
  /** The script that failed. */
  file: string;
  /** Where the error is, when known (1-based). */
  line?: number;
  /** The column of `line`, when known (1-based). */
  col?: number;
  /** What went wrong. */
  message: string;
}

/** What `loadScripts` found. */
export interface ScriptLoad {
  machines: LoadedMachine[];
  errors: ScriptError[];
}

const IMPORT_RE =
  /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|import\s*["']([^"']+)["']/g;

/** Local (relative) import specifiers of a module's source (comments, and doc examples in them, skipped). */
function localImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const m of code.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec !== undefined && (spec.startsWith("./") || spec.startsWith("../"))) out.push(spec);
  }
  return out;
}

function resolvePath(from: string, spec: string): string {
  return new URL(spec, `file://${from}`).pathname;
}

/**
 * The local import graph reachable from `files` (only relative imports; the library's own
 * modules count like any other). Returns each file's imports.
 */
async function importGraph(files: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  const queue = [...files];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (graph.has(file)) continue;
    let source: string;
    try {
      source = await Deno.readTextFile(file);
    } catch {
      graph.set(file, []);
      continue;
    }
    const deps = localImports(source).map((s) => resolvePath(file, s));
    graph.set(file, deps);
    for (const d of deps) if (!graph.has(d)) queue.push(d);
  }
  return graph;
}

/** The first import cycle through `file`, as a list of files (first == last), if any. */
function findCycle(file: string, graph: Map<string, string[]>): string[] | null {
  const stack: string[] = [];
  const onStack = new Set<string>();
  const done = new Set<string>();
  const visit = (f: string): string[] | null => {
    if (onStack.has(f)) return [...stack.slice(stack.indexOf(f)), f];
    if (done.has(f)) return null;
    stack.push(f);
    onStack.add(f);
    for (const d of graph.get(f) ?? []) {
      const cycle = visit(d);
      if (cycle !== null) return cycle;
    }
    stack.pop();
    onStack.delete(f);
    done.add(f);
    return null;
  };
  return visit(file);
}

async function contentVersion(file: string, graph: Map<string, string[]>): Promise<string> {
  const seen = new Set<string>();
  const order: string[] = [];
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    order.push(f);
    for (const d of graph.get(f) ?? []) visit(d);
  };
  visit(file);
  const hash = createHash("sha256");
  for (const f of order.sort()) {
    hash.update(f + "\0");
    try {
      hash.update(await Deno.readFile(f));
    } catch {
      hash.update("missing");
    }
  }
  return hash.digest("hex").slice(0, 16);
}

/** Where in a script an error points (from its stack or message), if it says. */
function locate(error: unknown, file: string): { line?: number; col?: number } {
  const text = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error);
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const m = new RegExp(`${escaped}(?:\\?v=[0-9a-f]+)?:(\\d+):(\\d+)`).exec(text);
  return m === null ? {} : { line: Number(m[1]), col: Number(m[2]) };
}

/**
 * Loads machine scripts (`.ts`/`.js` modules: every exported `Machine`) and SCXML documents
 * (`.scxml`: one machine each; the project's own documents, evaluated in this process).
 */
export async function loadScripts(files: string[]): Promise<ScriptLoad> {
  const result: ScriptLoad = { machines: [], errors: [] };
  for (const file of files.filter((f) => f.endsWith(".scxml"))) {
    try {
      const text = await Deno.readTextFile(file);
      const machine = fromSCXML(text, { baseUrl: `file://${file}`, source: file });
      result.machines.push({
        machine: machine as unknown as Machine<Record<string, unknown>>,
        file,
        exportName: "",
        version: createHash("sha256").update(text).digest("hex").slice(0, 16),
      });
    } catch (e) {
      const where = e instanceof ScxmlError && e.line !== undefined
        ? { line: e.line, col: e.column ?? 1 }
        : {};
      const message = e instanceof ScxmlError
        ? e.detail
        : e instanceof Error
        ? e.message
        : String(e);
      result.errors.push({ file, ...where, message });
    }
  }
  const modules = files.filter((f) => /\.(m?[jt]sx?)$/.test(f));
  const graph = await importGraph(modules);
  for (const file of modules) {
    const cycle = findCycle(file, graph);
    if (cycle !== null) {
      result.errors.push({
        file,
        message: `circular import: ${
          cycle.map((f) => f.slice(f.lastIndexOf("/") + 1)).join(" -> ")
        }`,
      });
      continue;
    }
    const version = await contentVersion(file, graph);
    let mod: Record<string, unknown>;
    try {
      // Inside a compiled binary (or with STATECRAFT_SOURCE_IMPORT=1): from the source text.
      mod = sourceImportEnabled()
        ? await (await import("./script_source.ts")).importScript(file)
        : await import(`file://${file}?v=${version}`);
    } catch (e) {
      const where = locate(e, file);
      const message = e instanceof DefinitionError
        ? e.message
        : e instanceof Error
        ? `${e.name}: ${e.message.split("\n")[0].replace(/\?v=[0-9a-f]+/g, "")}`
        : String(e);
      result.errors.push({ file, ...where, message });
      continue;
    }
    const seen = new Set<unknown>();
    for (const [exportName, value] of Object.entries(mod)) {
      if (!(value instanceof Machine) || seen.has(value)) continue;
      seen.add(value);
      result.machines.push({
        machine: value as Machine<Record<string, unknown>>,
        file,
        exportName,
        version,
      });
    }
  }
  return result;
}
