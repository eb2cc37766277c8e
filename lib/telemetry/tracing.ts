/**
 * Traces through Deno's built-in OpenTelemetry (`OTEL_DENO=true`): the spans Statecraft makes
 * (send, macrostep, commit, plugin call, effect, timer), through `@opentelemetry/api`, whose
 * global providers Deno registers when OTel is on.
 *
 * When OTel is off, {@linkcode tracing} is false and every caller checks it before doing
 * anything else: no span, no context, no allocation (see docs/performance.md, "Tracing
 * overhead"). Trace context crosses process and worker boundaries, and is stored with timers
 * and outbox sends, as a W3C `traceparent` string (`00-<trace id>-<span id>-<flags>`).
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

export type { Attributes, Context, Span };
export { SpanKind };

/**
 * Whether OpenTelemetry is on in this process: Deno registers the global OpenTelemetry API
 * before any module runs when `OTEL_DENO=true` (as does an SDK a program registers itself
 * before importing Statecraft).
 */
export const tracing: boolean = Symbol.for("opentelemetry.js.api.1") in globalThis;

const tracer = trace.getTracer("statecraft");

/** What a span starts with. */
export interface SpanOptions {
  attributes?: Attributes;
  kind?: SpanKind;
  links?: Link[];
  /** The parent: a context, or none for the active one; `null` starts a new trace. */
  parent?: Context | null;
}

/** Starts a span (not made active: run code in it with {@linkcode runIn}). */
export function startSpan(name: string, options: SpanOptions = {}): Span {
  const parent = options.parent === null ? ROOT_CONTEXT : options.parent ?? context.active();
  return tracer.startSpan(
    name,
    { attributes: options.attributes, kind: options.kind, links: options.links },
    parent,
  );
}

/** The context of `span`, under `parent` (default: the active context). */
export function contextOf(span: Span, parent: Context = context.active()): Context {
  return trace.setSpan(parent, span);
}

/** The active context (where a span started now would go). */
export function activeContext(): Context {
  return context.active();
}

/** Runs `fn` with `ctx` as the active context. */
export function runIn<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/** Ends a span, marking it failed when `error` is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const message = error instanceof Error ? error.message : String(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
    if (error instanceof Error) span.recordException(error);
  }
  span.end();
}

/**
 * Runs `fn` in a new span that is a child of the active context, and ends the span when the
 * promise settles (failed if it rejects).
 */
export function traced<T>(
  name: string,
  options: SpanOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const span = startSpan(name, options);
  return runIn(contextOf(span, options.parent ?? context.active()), fn).then(
    (value) => {
      endSpan(span);
      return value;
    },
    (e) => {
      endSpan(span, e);
      throw e;
    },
  );
}

/** The W3C `traceparent` of a span, a context's span, or the active span. */
export function traceparent(of?: Span | Context): string | undefined {
  const span = of === undefined
    ? trace.getActiveSpan()
    : "spanContext" in of
    ? of
    : trace.getSpan(of);
  const sc = span?.spanContext();
  if (sc === undefined || !trace.isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A context whose (remote) parent is `traceparent`; the root context when it is not one. */
export function contextFrom(parent: string | undefined): Context {
  const m = parent === undefined ? null : TRACEPARENT.exec(parent);
  if (m === null) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: m[1],
    spanId: m[2],
    traceFlags: parseInt(m[3], 16),
    isRemote: true,
  });
}

/** A span link to `traceparent` (none when it is not one). */
export function linkTo(parent: string | undefined, attributes?: Attributes): Link[] {
  const m = parent === undefined ? null : TRACEPARENT.exec(parent);
  if (m === null) return [];
  return [{
    context: { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16), isRemote: true },
    attributes,
  }];
}
