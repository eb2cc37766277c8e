/**
 * metrics: counts every event on the bus by type, and every `machine.transition` by machine
 * and by state (each state in its `to` configuration). The counts live in memory and in the
 * plugin's KV namespace, so they outlive a restart of the plugin or of the runtime.
 *
 * Actions:
 * - `snapshot()`: `{ events: { <type>: n }, transitions: { <machine>: n },
 *   states: { <machine>: { <state>: n } } }`;
 * - `prometheus()`: the same counts in the Prometheus text exposition format:
 *
 * ```text
 * statecraft_events_total{type="machine.transition"} 3
 * statecraft_transitions_total{machine="door"} 3
 * statecraft_state_transitions_total{machine="door",state="open"} 2
 * ```
 *
 * @module
 */
import { definePlugin, type PluginContext } from "../../lib/plugins/sdk.ts";

/** The counts `snapshot` answers with. */
interface Snapshot {
  /** Events seen on the bus, by type. */
  events: Record<string, number>;
  /** Transitions, by machine. */
  transitions: Record<string, number>;
  /** Transitions after which a state is active, by machine and state. */
  states: Record<string, Record<string, number>>;
}

type Key = [string] | [string, string] | [string, string, string];

const counts = new Map<string, { key: Key; value: number }>();
let persisted = Promise.resolve();
let kvWorks = true;

function bump(key: Key): Key {
  const id = JSON.stringify(key);
  const entry = counts.get(id) ?? { key, value: 0 };
  entry.value++;
  counts.set(id, entry);
  return key;
}

/** Writes the current values of `keys` to KV, one write after another. */
function persist(ctx: PluginContext, keys: Key[]): Promise<void> {
  persisted = persisted.then(async () => {
    if (!kvWorks) return;
    try {
      for (const key of keys) await ctx.kv.set(key, counts.get(JSON.stringify(key))!.value);
    } catch (e) {
      kvWorks = false;
      ctx.log.warn(`counting in memory only: ${(e as Error).message}`);
    }
  });
  return persisted;
}

function snapshot(): Snapshot {
  const out: Snapshot = { events: {}, transitions: {}, states: {} };
  const sorted = [...counts.values()].sort((a, b) =>
    compare(JSON.stringify(a.key), JSON.stringify(b.key))
  );
  for (const { key, value } of sorted) {
    if (key[0] === "events" && key.length === 2) out.events[key[1]] = value;
    else if (key[0] === "transitions" && key.length === 2) out.transitions[key[1]] = value;
    else if (key[0] === "states" && key.length === 3) {
      (out.states[key[1]] ??= {})[key[2]] = value;
    }
  }
  return out;
}

/** A Prometheus label value: backslash, double quote and line feed escaped. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function prometheus(): string {
  const s = snapshot();
  const lines: string[] = [];
  const metric = (name: string, help: string, rows: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const [labels, value] of rows) lines.push(`${name}{${labels}} ${value}`);
  };
  metric(
    "statecraft_events_total",
    "Events published on the bus, by type.",
    Object.entries(s.events).map(([type, n]) => [`type="${label(type)}"`, n]),
  );
  metric(
    "statecraft_transitions_total",
    "Machine transitions, by machine.",
    Object.entries(s.transitions).map(([machine, n]) => [`machine="${label(machine)}"`, n]),
  );
  metric(
    "statecraft_state_transitions_total",
    "Machine transitions after which a state is active, by machine and state.",
    Object.entries(s.states).flatMap(([machine, states]) =>
      Object.entries(states).map(([state, n]): [string, number] => [
        `machine="${label(machine)}",state="${label(state)}"`,
        n,
      ])
    ),
  );
  return lines.join("\n") + "\n";
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export default definePlugin({
  actions: {
    snapshot: async () => {
      await persisted;
      return snapshot();
    },
    prometheus: () => prometheus(),
  },
  events: {
    "*": (event, ctx) => {
      const keys = [bump(["events", event.type])];
      if (event.type === "machine.transition") {
        const { machine, to } = event as { machine?: unknown; to?: unknown };
        const name = typeof machine === "string" ? machine : "(unknown)";
        keys.push(bump(["transitions", name]));
        for (const state of Array.isArray(to) ? to : []) {
          if (typeof state === "string") keys.push(bump(["states", name, state]));
        }
      }
      return persist(ctx, keys);
    },
  },
  async onLoad(ctx) {
    // Counts of earlier runs, where the runtime has a KV store.
    try {
      for (const prefix of ["events", "transitions", "states"]) {
        for (const { key, value } of await ctx.kv.list<number>([prefix], 1000)) {
          if (typeof value !== "number" || !key.every((k) => typeof k === "string")) continue;
          counts.set(JSON.stringify(key), { key: key as Key, value });
        }
      }
    } catch (e) {
      kvWorks = false;
      ctx.log.warn(`counting in memory only: ${(e as Error).message}`);
    }
  },
});
