/**
 * Loads a machine script: imports the module and collects every exported `Machine` (default
 * export or named). A module that fails to load (a syntax error, a missing import, a
 * `DefinitionError` from `defineMachine`, any exception at top level) becomes diagnostics
 * naming the file, with a `line:col` wherever one can be found.
 *
 * @module
 */
import { Machine } from "../core/machine.ts";
import { DefinitionError, type DefinitionProblem, formatPath } from "../core/errors.ts";
import { CliError } from "./cli_error.ts";
import { importLazily } from "./lazy_import.ts";
import { sourceImportEnabled } from "../runtime/source_switch.ts";
import { locateConfigPath } from "./source_location.ts";
import type { Diagnostic, LoadedScript } from "./script_types.ts";

export type { Diagnostic, ExportedMachine, LoadedScript } from "./script_types.ts";

/**
 * Renders a diagnostic the way editors and terminals link it:
 * `path/to/file.ts:12:3 error: unknown target "x" (at states.open.on.CLOSE.target)`.
 *
 * @example
 * ```ts
 * import { formatDiagnostic } from "./load.ts";
 * const line = formatDiagnostic({
 *   file: "door.ts", line: 4, col: 19, severity: "error", message: "unknown target", path: "on.X",
 * });
 * // line is "door.ts:4:19 error: unknown target (at on.X)"
 * ```
 */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line === undefined ? d.file : `${d.file}:${d.line}:${d.col ?? 1}`;
  const at = d.path === undefined ? "" : ` (at ${d.path})`;
  return `${where} ${d.severity}: ${d.message}${at}`;
}

/**
 * Imports a machine script and collects its exported machines. Never throws for a problem of
 * the script itself: those come back as `diagnostics` (with no machines when the module did
 * not load).
 *
 * @param file a path, relative to the working directory or absolute
 *
 * @example
 * ```ts ignore
 * import { loadScript } from "./load.ts";
 * const script = await loadScript("examples/door.ts");
 * console.log(script.machines.map((m) => m.machine.id));
 * ```
 */
export async function loadScript(file: string): Promise<LoadedScript> {
  const url = fileUrlOf(file.startsWith("/") ? file : `${Deno.cwd()}/${file}`);
  const absolute = decodeURIComponent(new URL(url).pathname);
  const script: LoadedScript = { file, url, source: "", machines: [], diagnostics: [] };
  const fail = (message: string, line?: number, col?: number) =>
    script.diagnostics.push({ file, line, col, severity: "error", message });
  try {
    const info = await Deno.stat(absolute);
    if (!info.isFile) {
      fail("not a file: expected a machine script (.ts or .js)");
      return script;
    }
    script.source = await Deno.readTextFile(absolute);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) fail("file not found");
    else fail(`cannot read the file: ${messageOf(e)}`);
    return script;
  }
  // SCXML and the source-import path load their modules only when they are needed.
  if (/\.scxml$/i.test(absolute)) {
    return (await importLazily<typeof import("./load_scxml.ts")>(
      import.meta.url,
      "./load_scxml.ts",
    ))
      .loadScxmlInto(script);
  }

  let module: Record<string, unknown>;
  try {
    // Inside a compiled binary (or with STATECRAFT_SOURCE_IMPORT=1): from the source text.
    module = sourceImportEnabled()
      ? await (await importLazily<typeof import("../runtime/script_source.ts")>(
        import.meta.url,
        "../runtime/script_source.ts",
      )).importScript(absolute)
      // The user's script by its file: URL (JSR cannot analyse it; it needs no import map).
      : await import(url);
  } catch (e) {
    if (isDefinitionError(e)) {
      for (const p of e.problems) {
        script.diagnostics.push(problemDiagnostic(file, script.source, p, e.machineId));
      }
      sortByPosition(script.diagnostics);
    } else {
      const { message, line, col } = describeLoadError(e, url);
      fail(message, line, col);
    }
    return script;
  }

  for (const [name, value] of Object.entries(module)) {
    if (!(value instanceof Machine)) continue;
    const seen = script.machines.find((m) => m.machine === value);
    if (seen !== undefined) seen.exportNames.push(name);
    else script.machines.push({ machine: value, exportNames: [name] });
  }
  for (const { machine } of script.machines) {
    const found = machine.warnings.map((p) =>
      problemDiagnostic(file, script.source, p, machine.id)
    );
    script.diagnostics.push(...sortByPosition(found));
  }
  return script;
}

/**
 * Loads a script for a command that needs exactly one machine: `id` picks one when the script
 * exports several. Throws a `CliError` (with every diagnostic, formatted) when the script does
 * not load, exports no machine, or the choice is ambiguous or unknown.
 *
 * @example
 * ```ts ignore
 * import { loadMachine } from "./load.ts";
 * const { machine } = await loadMachine("examples/door.ts", "door");
 * ```
 */
export async function loadMachine(
  file: string,
  id?: string,
): Promise<{ script: LoadedScript; machine: Machine }> {
  const script = await loadScriptOrThrow(file);
  return { script, machine: pickMachine(script, id) };
}

/**
 * Loads a machine script for a command that needs all of it: any error is thrown as one
 * `CliError` listing every diagnostic with its `file:line:col`.
 *
 * @throws {CliError} when the script did not load cleanly
 *
 * @example
 * ```ts ignore
 * import { loadScriptOrThrow } from "./load.ts";
 * const script = await loadScriptOrThrow("examples/door.ts");
 * ```
 */
export async function loadScriptOrThrow(file: string): Promise<LoadedScript> {
  const script = await loadScript(file);
  const errors = script.diagnostics.filter((d) => d.severity === "error");
  if (errors.length === 1 && errors[0].line === undefined && errors[0].path === undefined) {
    throw new CliError(`${file}: ${errors[0].message}`);
  }
  if (errors.length > 0) {
    throw new CliError(
      `${file} did not load:\n${errors.map((d) => `  ${formatDiagnostic(d)}`).join("\n")}`,
    );
  }
  return script;
}

/**
 * The machine with id `id` among a script's exports, or its only machine when `id` is
 * omitted. Throws a `CliError` listing the ids otherwise.
 */
export function pickMachine(script: LoadedScript, id?: string): Machine {
  const ids = script.machines.map((m) => m.machine.id);
  const list = ids.map((x) => `"${x}"`).join(", ");
  if (script.machines.length === 0) {
    throw new CliError(
      `${script.file} exports no machine: export the result of defineMachine(...) ` +
        `(export const door = defineMachine({...}))`,
    );
  }
  if (id === undefined) {
    if (script.machines.length > 1) {
      throw new CliError(
        `${script.file} exports ${script.machines.length} machines (${list}): ` +
          `choose one with --machine <id>`,
      );
    }
    return script.machines[0].machine;
  }
  const found = script.machines.find((m) => m.machine.id === id || m.exportNames.includes(id));
  if (found === undefined) {
    throw new CliError(`${script.file} has no machine "${id}"; it exports ${list}`);
  }
  return found.machine;
}

/** A definition problem as a diagnostic, located in the source by the config path. */
export function problemDiagnostic(
  file: string,
  source: string,
  problem: DefinitionProblem,
  machineId: string | undefined,
): Diagnostic {
  const at = source === "" ? undefined : locateConfigPath(source, problem.path, machineId);
  return {
    file,
    line: at?.line,
    col: at?.col,
    severity: problem.severity,
    message: problem.message,
    path: formatPath(problem.path),
  };
}

/** Sorts diagnostics by line and column (those without a position last), stably. */
function sortByPosition(list: Diagnostic[]): Diagnostic[] {
  const key = (d: Diagnostic) => (d.line ?? Infinity) * 1e6 + (d.col ?? 0);
  return list.sort((a, b) => key(a) - key(b));
}

function isDefinitionError(e: unknown): e is DefinitionError {
  if (e instanceof DefinitionError) return true;
  // A script that imports another copy of the engine throws another copy's class.
  return e instanceof Error && e.name === "DefinitionError" &&
    Array.isArray((e as { problems?: unknown }).problems);
}

/** The first line of a load error's message, and where in the script it happened. */
function describeLoadError(
  e: unknown,
  url: string,
): { message: string; line?: number; col?: number } {
  const raw = stripAnsi(e instanceof Error ? e.message : String(e));
  const stack = stripAnsi(e instanceof Error ? e.stack ?? "" : "");
  let message = raw.split("\n")[0].trim();
  // Parse errors arrive as TypeError("SyntaxError: ...\n<code frame>\n    at file:...:3:8").
  const isParseError = /^SyntaxError: /.test(message) || e instanceof SyntaxError;
  if (!isParseError && e instanceof Error && !/^Module not found/.test(message)) {
    message = `${e.name}: ${message} (thrown while loading the script)`;
  }
  const escaped = url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const framePattern = new RegExp(`${escaped}:(\\d+):(\\d+)`);
  const frame = framePattern.exec(raw) ?? framePattern.exec(stack);
  if (frame === null) return { message };
  return { message, line: Number(frame[1]), col: Number(frame[2]) };
}

function stripAnsi(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, "");
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The file: URL of a path, `.` and `..` resolved, escaped as `node:url`'s `pathToFileURL` does
 * (which, with `node:path`, would cost every `run` ~6 ms of start-up).
 */
function fileUrlOf(path: string): string {
  const url = new URL("file:///");
  url.pathname = path.replaceAll("%", "%25").replaceAll("\\", "%5C").replaceAll("\n", "%0A")
    .replaceAll("\r", "%0D").replaceAll("\t", "%09");
  return url.href;
}
