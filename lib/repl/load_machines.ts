/**
 * `load <file>`: machine scripts added to a running Runtime, by the rules of
 * `Runtime.reload()` (added, updated when only code changed, migrated along declared
 * migrations, otherwise kept with the reason).
 *
 * @module
 */
import type { ReloadOutcome, Runtime } from "../runtime/runtime.ts";
import { loadScripts } from "../runtime/scripts.ts";

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
export async function loadMachineFiles(
  runtime: Runtime,
  files: string[],
): Promise<ReloadOutcome[]> {
  const loaded = await loadScripts(files);
  const outcomes: ReloadOutcome[] = loaded.errors.map((e) => ({
    machine: "",
    file: e.file,
    result: "error",
    reason: `${e.line === undefined ? "" : `${e.line}:${e.col} `}${e.message}`,
  }));
  for (const file of files) {
    if (!loaded.machines.some((m) => m.file === file) && !outcomes.some((o) => o.file === file)) {
      outcomes.push({ machine: "", file, result: "error", reason: "exports no machine" });
    }
  }
  for (const m of loaded.machines) {
    const id = m.machine.id;
    const old = runtime.machines.get(id);
    if (old !== undefined && old.file !== m.file && old.file !== "(embedded)") {
      outcomes.push({
        machine: id,
        file: m.file,
        result: "error",
        reason: `machine "${id}" is already defined in ${old.file}; not loaded`,
      });
      continue;
    }
    if (old !== undefined && old.machine === m.machine) continue;
    const register = async (result: ReloadOutcome["result"], reason?: string) => {
      runtime.machines.set(id, m);
      await runtime.store.replaceMachine(m.machine);
      outcomes.push(
        reason === undefined ? { machine: id, file: m.file, result } : {
          machine: id,
          file: m.file,
          result,
          reason,
        },
      );
    };
    if (old === undefined) await register("added");
    else if (old.machine.hash === m.machine.hash) await register("updated");
    else if (
      old.machine.version !== undefined &&
      (m.machine.config.migrations ?? {})[String(old.machine.version)] !== undefined
    ) {
      await register(
        "migrated",
        `instances migrate from version ${old.machine.version} to ${m.machine.version}`,
      );
    } else {
      outcomes.push({
        machine: id,
        file: m.file,
        result: "kept",
        reason:
          `the states or transitions of "${id}" changed (version ${
            old.machine.version ?? "unversioned"
          } -> ${m.machine.version ?? "unversioned"}) and it declares no migration from ` +
          `${old.machine.version ?? "unversioned"}: running instances keep the old definition`,
      });
    }
  }
  return outcomes;
}
