/**
 * The server's counters and the commit latency histogram, written in the Prometheus text
 * exposition format (version 0.0.4) for `GET /metrics`.
 *
 * @module
 */
import { type Histogram as OtelHistogram, metrics as otel } from "@opentelemetry/api";
import type { Runtime, TransitionEvent } from "../runtime/runtime.ts";
import { tracing } from "../telemetry/tracing.ts";

/** Upper bounds (seconds) of the commit latency histogram's buckets. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** A histogram with fixed buckets (cumulative counts are computed when written). */
class Histogram {
  readonly counts: number[] = new Array(LATENCY_BUCKETS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }
}

/** Label values, in the order the metric declares its label names. */
type Labels = readonly string[];

/**
 * The server's metrics. `record*` methods are called on the request path and cost a map
 * lookup; `render` writes everything, including the plugins' call counts read from the
 * supervisor at scrape time.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * import type { Runtime } from "../runtime/runtime.ts";
 * const metrics = new Metrics();
 * metrics.recordEvent("applied", 0.002);
 * function scrape(runtime: Runtime): string {
 *   return metrics.render(runtime); // Prometheus text
 * }
 * ```
 */
export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #events = new Map<string, number>();
  readonly #transitions = new Map<string, number>();
  readonly #errors = new Map<string, number>();
  readonly #commit = new Histogram();
  #sseClients = 0;
  /** OpenTelemetry on: the commit latency histogram as an OTel instrument. */
  #otelCommit: OtelHistogram | undefined;
  /** When the metrics started (ms since the epoch). */
  readonly started: number = Date.now();

  /** A finished HTTP request: its method, route pattern (not the raw path) and status. */
  recordRequest(method: string, route: string, status: number): void {
    bump(this.#requests, method + SEP + route + SEP + status); // key([...]) without the array
  }

  /**
   * An event sent through `POST /instances/:id/events`: `applied`, `duplicate` or `rejected`;
   * `seconds` (for acknowledged events) is the time from the request to the durable commit.
   */
  recordEvent(result: "applied" | "duplicate" | "rejected", seconds?: number): void {
    bump(this.#events, result); // key([result])
    if (seconds !== undefined) {
      this.#commit.observe(seconds);
      this.#otelCommit?.record(seconds);
    }
  }

  /**
   * OpenTelemetry on (`OTEL_DENO=true`): the same metrics as OTel instruments of the meter
   * `statecraft`, exported by Deno's OTLP exporter; named as on `/metrics` without the
   * `_total` suffix (a Prometheus backend adds it back). Does nothing when OTel is off, or the
   * second time.
   */
  exportToOpenTelemetry(runtime: Runtime): void {
    if (!tracing || this.#otelCommit !== undefined) return;
    const meter = otel.getMeter("statecraft");
    this.#otelCommit = meter.createHistogram("statecraft_event_commit_seconds", {
      unit: "s",
      description: "Time from an event request to its durable commit",
      advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS] },
    });
    const observe = (
      name: string,
      kind: "counter" | "gauge",
      description: string,
      labels: readonly string[],
      values: () => Map<string, number>,
    ) => {
      const instrument = kind === "counter"
        ? meter.createObservableCounter(name, { description })
        : meter.createObservableGauge(name, { description });
      instrument.addCallback((result) => {
        for (const [k, v] of values()) {
          const parts = k.split(SEP);
          result.observe(v, Object.fromEntries(labels.map((l, i) => [l, parts[i] ?? ""])));
        }
      });
    };
    observe("statecraft_http_requests", "counter", "HTTP requests answered", [
      "method",
      "route",
      "status",
    ], () => this.#requests);
    observe(
      "statecraft_events",
      "counter",
      "Events sent through the API",
      ["result"],
      () => this.#events,
    );
    observe("statecraft_transitions", "counter", "Committed journal entries", [
      "machine",
      "kind",
    ], () => this.#transitions);
    observe(
      "statecraft_errors",
      "counter",
      "Error responses by error code",
      ["code"],
      () => this.#errors,
    );
    const perPlugin = (pick: (p: ReturnType<Runtime["plugins"]["list"]>[number]) => number) => () =>
      new Map(runtime.plugins.list().map((p) => [key([p.name]), pick(p)]));
    observe(
      "statecraft_plugin_calls",
      "counter",
      "Plugin action calls",
      ["plugin"],
      perPlugin((p) => p.calls),
    );
    observe("statecraft_plugin_failures", "counter", "Failed plugin calls and hooks", [
      "plugin",
    ], perPlugin((p) => p.failures));
    observe("statecraft_plugin_restarts", "counter", "Plugin restarts after crashes", [
      "plugin",
    ], perPlugin((p) => p.restarts));
    observe("statecraft_plugin_stuck", "gauge", "1 when a plugin stopped answering", [
      "plugin",
    ], perPlugin((p) => p.stuck ? 1 : 0));
    const cluster = runtime.store.cluster;
    if (cluster !== undefined) {
      const one = (name: string, kind: "counter" | "gauge", help: string, pick: () => number) =>
        observe(name, kind, help, ["node"], () => new Map([[key([cluster.node]), pick()]]));
      const series: [string, "counter" | "gauge", string, () => number][] = [
        ["partitions_owned", "gauge", "Partitions this node owns", () => cluster.stats.owned],
        ["takeovers", "counter", "Partitions taken over", () => cluster.stats.takeovers],
        ["partitions_lost", "counter", "Partitions lost", () => cluster.stats.lost],
        [
          "fenced_commits",
          "counter",
          "Commits refused by an epoch",
          () => cluster.stats.fencedCommits,
        ],
        ["forwarded", "counter", "Writes forwarded to another node", () => cluster.stats.forwarded],
        ["served", "counter", "Writes run here for another node", () => cluster.stats.served],
      ];
      for (const [name, kind, help, pick] of series) {
        one(`statecraft_cluster_${name}`, kind, help, pick);
      }
    }
    observe(
      "statecraft_sse_clients",
      "gauge",
      "Connected GET /events clients",
      [],
      () => new Map([["", this.#sseClients]]),
    );
  }

  /** A committed transition (from the bus). */
  recordTransition(t: TransitionEvent): void {
    bump(this.#transitions, key([t.machine, t.kind]));
  }

  /** An error answered to a client, by its code (`not_found`, `invalid`, `internal`...). */
  recordError(code: string): void {
    bump(this.#errors, key([code]));
  }

  /** An SSE client connected (+1) or left (-1). */
  sseClients(delta: number): void {
    this.#sseClients += delta;
  }

  /** Everything, in the Prometheus text format. */
  render(runtime: Runtime): string {
    const out: string[] = [];
    family(out, "statecraft_http_requests_total", "counter", "HTTP requests answered", [
      "method",
      "route",
      "status",
    ], this.#requests);
    family(out, "statecraft_events_total", "counter", "Events sent through the API", [
      "result",
    ], this.#events);
    family(out, "statecraft_transitions_total", "counter", "Committed journal entries", [
      "machine",
      "kind",
    ], this.#transitions);
    family(out, "statecraft_errors_total", "counter", "Error responses by error code", [
      "code",
    ], this.#errors);

    const h = this.#commit;
    out.push(
      "# HELP statecraft_event_commit_seconds Time from an event request to its durable commit",
      "# TYPE statecraft_event_commit_seconds histogram",
    );
    let cumulative = 0;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      cumulative += h.counts[i];
      out.push(`statecraft_event_commit_seconds_bucket{le="${LATENCY_BUCKETS[i]}"} ${cumulative}`);
    }
    cumulative += h.counts[LATENCY_BUCKETS.length];
    out.push(
      `statecraft_event_commit_seconds_bucket{le="+Inf"} ${cumulative}`,
      `statecraft_event_commit_seconds_sum ${h.sum}`,
      `statecraft_event_commit_seconds_count ${h.count}`,
    );

    const plugins = runtime.plugins.list();
    const calls = new Map<string, number>();
    const failures = new Map<string, number>();
    const stuck = new Map<string, number>();
    const restarts = new Map<string, number>();
    for (const p of plugins) {
      calls.set(key([p.name]), p.calls);
      failures.set(key([p.name]), p.failures);
      stuck.set(key([p.name]), p.stuck ? 1 : 0);
      restarts.set(key([p.name]), p.restarts);
    }
    family(out, "statecraft_plugin_calls_total", "counter", "Plugin action calls", [
      "plugin",
    ], calls);
    family(out, "statecraft_plugin_failures_total", "counter", "Failed plugin calls and hooks", [
      "plugin",
    ], failures);
    family(out, "statecraft_plugin_restarts_total", "counter", "Plugin restarts after crashes", [
      "plugin",
    ], restarts);
    family(out, "statecraft_plugin_stuck", "gauge", "1 when a plugin stopped answering", [
      "plugin",
    ], stuck);
    const cluster = runtime.store.cluster;
    if (cluster !== undefined) {
      const node = new Map([[key([cluster.node]), 0]]);
      const one = (name: string, type: "counter" | "gauge", help: string, value: number) =>
        family(out, name, type, help, ["node"], new Map([...node].map(([k]) => [k, value])));
      const st = cluster.stats;
      one("statecraft_cluster_partitions_owned", "gauge", "Partitions this node owns", st.owned);
      one(
        "statecraft_cluster_takeovers_total",
        "counter",
        "Partitions taken from a node whose lease had expired",
        st.takeovers,
      );
      one(
        "statecraft_cluster_partitions_lost_total",
        "counter",
        "Partitions lost (taken over or fenced)",
        st.lost,
      );
      one(
        "statecraft_cluster_fenced_commits_total",
        "counter",
        "Commits refused by a partition's epoch",
        st.fencedCommits,
      );
      one(
        "statecraft_cluster_forwarded_total",
        "counter",
        "Writes forwarded to another node's partition",
        st.forwarded,
      );
      one(
        "statecraft_cluster_served_total",
        "counter",
        "Writes run here for another node",
        st.served,
      );
    }
    out.push(
      "# HELP statecraft_sse_clients Connected GET /events clients",
      "# TYPE statecraft_sse_clients gauge",
      `statecraft_sse_clients ${this.#sseClients}`,
      "# HELP statecraft_uptime_seconds Seconds since the server started",
      "# TYPE statecraft_uptime_seconds gauge",
      `statecraft_uptime_seconds ${(Date.now() - this.started) / 1000}`,
    );
    return out.join("\n") + "\n";
  }
}

const SEP = "\u0000";

function key(values: Labels): string {
  return values.join(SEP);
}

function bump(map: Map<string, number>, k: string): void {
  map.set(k, (map.get(k) ?? 0) + 1);
}

function family(
  out: string[],
  name: string,
  type: "counter" | "gauge",
  help: string,
  labels: readonly string[],
  values: Map<string, number>,
): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [k, v] of [...values].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    const parts = k.split(SEP);
    const text = labels.map((l, i) => `${l}="${escapeLabel(parts[i] ?? "")}"`).join(",");
    out.push(`${name}{${text}} ${v}`);
  }
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
