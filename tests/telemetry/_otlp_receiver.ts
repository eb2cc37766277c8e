/**
 * A small OTLP/HTTP JSON receiver for the tracing tests: `Deno.serve` on port 0 collecting what
 * arrives at `/v1/traces`, `/v1/logs` and `/v1/metrics`, flattened to spans, log records and
 * metric names.
 *
 * @module
 */
import * as assert from "node:assert/strict";

/** A span as the tests read it. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  scope: string;
}

/** A log record as the tests read it. */
export interface ReceivedLog {
  body: string;
  traceId: string;
  spanId: string;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
}

function value(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

function attributes(list: { key: string; value: OtlpValue }[] | undefined) {
  return Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));
}

/** The receiver: what it got, and how to stop it. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>` (OTEL_EXPORTER_OTLP_ENDPOINT). */
  endpoint: string;
  spans: ReceivedSpan[];
  logs: ReceivedLog[];
  /** Metric names received. */
  metrics: Set<string>;
  /** Requests received, by path. */
  requests: Map<string, number>;
  close(): Promise<void>;
}

/** Starts a receiver on a free loopback port. */
export async function startReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const logs: ReceivedLog[] = [];
  const metrics = new Set<string>();
  const requests = new Map<string, number>();
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  // deno-lint-ignore no-explicit-any
  type Any = any;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => resolve(port) },
    async (req) => {
      const path = new URL(req.url).pathname;
      requests.set(path, (requests.get(path) ?? 0) + 1);
      const body: Any = await req.json();
      if (path === "/v1/traces") {
        for (const rs of body.resourceSpans ?? []) {
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? "",
                name: s.name,
                attributes: attributes(s.attributes),
                links: (s.links ?? []).map((l: Any) => ({ traceId: l.traceId, spanId: l.spanId })),
                scope: ss.scope?.name ?? "",
              });
            }
          }
        }
      } else if (path === "/v1/logs") {
        for (const rl of body.resourceLogs ?? []) {
          for (const sl of rl.scopeLogs ?? []) {
            for (const r of sl.logRecords ?? []) {
              logs.push({
                body: String(value(r.body ?? {}) ?? ""),
                traceId: r.traceId ?? "",
                spanId: r.spanId ?? "",
              });
            }
          }
        }
      } else if (path === "/v1/metrics") {
        for (const rm of body.resourceMetrics ?? []) {
          for (const sm of rm.scopeMetrics ?? []) {
            for (const m of sm.metrics ?? []) metrics.add(m.name);
          }
        }
      }
      return Response.json({});
    },
  );
  const port = await listening;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    logs,
    metrics,
    requests,
    close: () => server.shutdown(),
  };
}

/** The OTel variables of a traced subprocess exporting to `receiver`, quickly. */
export function otelEnv(receiver: OtlpReceiver): Record<string, string> {
  return {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "200",
    OTEL_BSP_SCHEDULE_DELAY: "50",
    OTEL_BLRP_SCHEDULE_DELAY: "50",
    OTEL_SERVICE_NAME: "statecraft-test",
  };
}

/** The one span named `name`. */
export function one(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one span "${name}" (got ${spans.map((s) => s.name).join(", ")})`);
  return found[0];
}

/** Asserts that `child` is a child of `parent`. */
export function childOf(child: ReceivedSpan, parent: ReceivedSpan): void {
  assert.equal(child.traceId, parent.traceId, `"${child.name}" is in "${parent.name}"'s trace`);
  assert.equal(child.parentSpanId, parent.spanId, `"${child.name}" is a child of "${parent.name}"`);
}
