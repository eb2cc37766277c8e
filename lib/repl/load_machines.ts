/**
 * `load <file>`: machine scripts added to a running Runtime, by the rules of
 * `Runtime.reload()` (added, updated when only code changed, migrated along declared
 * migrations, otherwise kept with the reason).
 *
 * @module
 */
import type { ReloadOutcome, Runtime } from "../runtime/runtime.ts";

/**
 * Loads scripts and registers their machines with the runtime and its store; returns one
 * outcome per machine (and per script that failed). Unchanged machines are left out.
 *
 * @example
 * ```ts ignore
 * const outcomes = await loadMachineFiles(runtime, ["/work/extra/pump.ts"]);
 * // [{ machine: "pump", file: "/work/extra/pump.ts", result: "added" }]
 * ```
 */
export function loadMachineFiles(runtime: Runtime, files: string[]): Promise<ReloadOutcome[]> {
  return runtime.loadMachines(files);
}
