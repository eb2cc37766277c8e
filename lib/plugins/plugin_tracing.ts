/**
 * The plugin side of tracing (inside a Worker or a plugin process): a request that carries a
 * `traceparent` runs in a span of the plugin's, a child of the host's span, so that the spans
 * the plugin makes itself with `@opentelemetry/api` (and Deno's own, of `fetch`) join the
 * trace. Deno exports them from the worker or process directly (OTel is on there too: a worker
 * shares its process's exporter; a plugin process gets the host's `OTEL_*` variables).
 *
 * The API is loaded only when a traced request first arrives, by its full `npm:` specifier:
 * a plugin process resolves modules without the project's import map.
 *
 * @module
 */
type Api = typeof import("npm:@opentelemetry/api@^1.9.0");

/** Whether OpenTelemetry is on here (Deno registered the global API). */
export const pluginTracing: boolean = Symbol.for("opentelemetry.js.api.1") in globalThis;

let api: Promise<Api> | null = null;
let loaded: Api | null = null;

function loadApi(): Promise<Api> {
  return api ??= import("npm:@opentelemetry/api@^1.9.0").then((m) => (loaded = m as Api));
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Runs `work` in a span named `name`, a child of `parent` (a `traceparent`), ended when it
 * settles. Without OpenTelemetry, or without a valid parent, runs `work` alone.
 */
export async function inPluginSpan<T>(
  parent: string | undefined,
  name: string,
  attributes: Record<string, string>,
  work: () => T | Promise<T>,
): Promise<T> {
  const m = parent === undefined || !pluginTracing ? null : TRACEPARENT.exec(parent);
  if (m === null) return await work();
  const { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } = await loadApi();
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: m[1],
    spanId: m[2],
    traceFlags: parseInt(m[3], 16),
    isRemote: true,
  });
  const span = trace.getTracer("statecraft-plugin").startSpan(
    name,
    { kind: SpanKind.SERVER, attributes },
    remote,
  );
  try {
    return await context.with(trace.setSpan(remote, span), work);
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: String((e as Error)?.message ?? e) });
    throw e;
  } finally {
    span.end();
  }
}

/** The `traceparent` of the plugin's active span, if tracing and in one. */
export function activeTraceparent(): string | undefined {
  if (loaded === null) return undefined;
  const sc = loaded.trace.getActiveSpan()?.spanContext();
  if (sc === undefined || !loaded.trace.isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}
