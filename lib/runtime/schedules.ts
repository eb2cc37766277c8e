/**
 * A runtime's schedule operations (for the HTTP API and the REPL): on its store, on its
 * store's clock, waking its scheduler after each change, and refusing a create of a machine
 * the runtime does not know.
 *
 * @module
 */
import {
  ScheduleError,
  type ScheduleInfo,
  Schedules,
  type ScheduleSource,
} from "../persist/schedules.ts";
import type { Runtime } from "./runtime.ts";

/**
 * The schedule operations of `runtime`; schedules added through them are recorded as coming
 * from `source` (the HTTP API: `api`, the REPL: `repl`).
 *
 * @example
 * ```ts ignore
 * const schedules = runtimeSchedules(runtime);
 * await schedules.add({ name: "nightly", cron: "0 2 * * *", create: { machine: "report" } });
 * ```
 */
export function runtimeSchedules(
  runtime: Runtime,
  source: Exclude<ScheduleSource, "config"> = "api",
): Schedules {
  return new Schedules(runtime.store, {
    source,
    now: () => runtime.scheduler?.now() ?? Date.now(),
    changed: () => runtime.scheduler?.wake(),
    check: (spec) => {
      const machine = spec.create?.machine;
      if (machine !== undefined && !runtime.machines.has(machine)) {
        const known = [...runtime.machines.keys()].sort().join(", ") || "none";
        throw new ScheduleError("create.machine", `unknown machine "${machine}" (known: ${known})`);
      }
    },
  });
}

/**
 * Schedules as a table (the CLI's `schedule ls` and the REPL's `schedule ls`): name, cron and
 * time zone, action, state, where it was declared, next tick, counts, the latest outcome.
 */
export function formatSchedules(list: readonly ScheduleInfo[]): string[] {
  if (list.length === 0) return ["no schedules"];
  const rows = list.map((s) => [
    s.name,
    `${s.spec.cron}${s.spec.timezone === undefined ? "" : ` (${s.spec.timezone})`}`,
    s.spec.create !== undefined
      ? `create ${s.spec.create.machine}`
      : `send ${s.spec.send!.event.type} to ${s.spec.send!.instance}`,
    s.paused ? "paused" : "active",
    s.source,
    s.paused || s.next === null ? "-" : new Date(s.next).toISOString(),
    `${s.fired}/${s.skipped}/${s.failed}`,
    s.last === undefined
      ? ""
      : `${s.last.outcome} ${new Date(s.last.tick).toISOString()}${
        s.last.error === undefined ? "" : `: ${s.last.error}`
      }`,
  ]);
  const all = [
    ["NAME", "CRON", "ACTION", "STATE", "SOURCE", "NEXT", "FIRED/SKIPPED/FAILED", "LAST"],
    ...rows,
  ];
  const widths: number[] = [];
  for (const row of all) row.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return all.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}
