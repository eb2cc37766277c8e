/**
 * `statecraft check <files...>`: loads each machine script and reports every problem: load
 * errors, definition errors and warnings, each as `file:line:col severity: message (at path)`,
 * then a summary line. Exit code 1 when anything is an error.
 *
 * @module
 */
import { type Diagnostic, formatDiagnostic, loadScript } from "./load.ts";

/** Output sink, so the command can be run in-process by tests and tools. */
export interface CheckOutput {
  /** Receives each report line. */
  line(text: string): void;
}

/**
 * Checks machine scripts; returns the process exit code (0: no errors, 1: errors).
 *
 * @example
 * ```ts ignore
 * import { checkCommand } from "./check.ts";
 * const code = await checkCommand(["examples/door.ts"]);
 * ```
 */
export async function checkCommand(
  files: readonly string[],
  out: CheckOutput = { line: (text) => console.log(text) },
): Promise<number> {
  let errors = 0;
  let warnings = 0;
  let machines = 0;
  for (const file of files) {
    const script = await loadScript(file);
    const diagnostics: Diagnostic[] = [...script.diagnostics];
    const loaded = !diagnostics.some((d) => d.severity === "error");
    if (loaded && script.machines.length === 0) {
      diagnostics.push({
        file,
        severity: "error",
        message: "exports no machine: export the result of defineMachine(...)",
      });
    }
    machines += script.machines.length;
    for (const d of diagnostics) {
      out.line(formatDiagnostic(d));
      if (d.severity === "error") errors++;
      else warnings++;
    }
    if (diagnostics.length === 0) {
      const ids = script.machines.map((m) => `"${m.machine.id}"`).join(", ");
      out.line(`${file}: ok (${plural(script.machines.length, "machine")} ${ids})`);
    }
  }
  out.line(
    `checked ${plural(files.length, "file")}, ${plural(machines, "machine")}: ` +
      `${plural(errors, "error")}, ${plural(warnings, "warning")}`,
  );
  return errors > 0 ? 1 : 0;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
