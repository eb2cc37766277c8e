/**
 * The REPL's `schedule` command: `schedule ls`, `schedule add <json>`, `schedule pause|resume|rm
 * <name>` (docs/operations.md, "Schedules"), on the runtime's store and clock.
 *
 * @module
 */
import { ScheduleError } from "../persist/schedules.ts";
import { StoreError } from "../persist/types.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { formatSchedules, runtimeSchedules } from "../runtime/schedules.ts";
import { parseJson, ReplError, words } from "./arguments.ts";

const USAGE = "schedule ls | add <json> | pause <name> | resume <name> | rm <name>";

/**
 * Runs `schedule <rest>`; prints through `line`. Mistakes are `ReplError`s naming the field.
 *
 * @example
 * ```ts ignore
 * await scheduleCommand(runtime, 'add {"name":"tick","cron":"* * * * *","send":{"instance":"a","event":"TICK"}}', console.log);
 * ```
 */
export async function scheduleCommand(
  runtime: Runtime,
  rest: string,
  line: (text: string) => void,
): Promise<void> {
  const trimmed = rest.trim();
  const space = trimmed.search(/\s/);
  const sub = space < 0 ? trimmed : trimmed.slice(0, space);
  const args = space < 0 ? "" : trimmed.slice(space + 1).trim();
  const schedules = runtimeSchedules(runtime, "repl");
  try {
    switch (sub) {
      case "":
      case "ls":
        for (const l of formatSchedules(await schedules.list())) line(l);
        return;
      case "add": {
        if (args === "") throw new ReplError(`schedule add <json>, e.g. ${EXAMPLE}`);
        const made = await schedules.add(parseJson(args, "schedule"));
        const next = made.next === null ? "never" : new Date(made.next).toISOString();
        line(`schedule "${made.name}" added; next tick ${next}`);
        return;
      }
      case "pause":
      case "resume": {
        const [name] = words(args, 1, `schedule ${sub} <name>`);
        const s = sub === "pause" ? await schedules.pause(name) : await schedules.resume(name);
        line(`schedule "${name}" ${s.paused ? "paused" : "active"}`);
        return;
      }
      case "rm": {
        const [name] = words(args, 1, "schedule rm <name>");
        if (!(await schedules.remove(name))) throw new ReplError(`no schedule "${name}"`);
        line(`schedule "${name}" removed`);
        return;
      }
      default:
        throw new ReplError(`schedule: unknown subcommand "${sub}" (${USAGE})`);
    }
  } catch (e) {
    if (e instanceof ScheduleError || e instanceof StoreError) {
      throw new ReplError(`schedule ${sub}: ${e.message}`);
    }
    throw e;
  }
}

const EXAMPLE =
  '{"name":"nightly","cron":"0 2 * * *","timezone":"Europe/Berlin","create":{"machine":"report"}}';
