/**
 * The store's spans (only when OpenTelemetry is on: every caller checks `tracing` first).
 * One batch of sends applied to an instance gives one `statecraft.macrostep` span per send,
 * a child of the span that sent it (a timer's firing starts a trace of its own, linked to the
 * macrostep that armed the timer), and one `statecraft.commit` span. Timers and outbox sends
 * keep the `traceparent` of the macrostep that made them in the store, so the link survives a
 * restart and a takeover by another node.
 *
 * @module
 */
import type { Snapshot } from "../core/types.ts";
import {
  type Context,
  contextFrom,
  contextOf,
  endSpan,
  linkTo,
  runIn,
  type Span,
  SpanKind,
  startSpan,
  traceparent,
} from "../telemetry/tracing.ts";
import type { Loaded, OutboxItem } from "./instance_cache.ts";
import type { Operation, QueuedSend } from "./mailbox.ts";
import type { InstanceRecord } from "./records.ts";
import { collectTimers } from "./timers.ts";

/** The key of a pending timer in `InstanceRecord.traces`: `<due>:<invoke path>:<sendId>`. */
function timerKey(due: number, ref: string): string {
  return `${due}:${ref}`;
}

function firedTimerKey(op: Operation): string {
  return timerKey(op.due ?? 0, `${(op.path ?? []).join("/")}:${op.sendId ?? ""}`);
}

/** The spans of one batch of sends applied to one instance. */
export class BatchTrace {
  readonly #loaded: Loaded;
  readonly #node: string | undefined;
  readonly #several: boolean;
  /** Applied sends' macrostep spans, in order. */
  readonly #steps: { item: QueuedSend; span: Span }[] = [];
  /** Several sends in the batch: the timers pending after each, to tell who armed which. */
  readonly #timersAfter: Set<string>[] = [];

  constructor(loaded: Loaded, node: string | undefined, batchSize: number) {
    this.#loaded = loaded;
    this.#node = node;
    this.#several = batchSize > 1;
  }

  /**
   * Runs one send's macrostep (`run`) in its span. `seq` is the journal seq it will have.
   * A timer's firing is a new trace linked to the span that armed the timer.
   */
  step(item: QueuedSend, seq: number, run: () => boolean): boolean {
    const { rec, instance } = this.#loaded;
    const op = item.op;
    const timer = op.kind === "timer";
    const parent: Context | null = timer ? null : (op.trace as Context | undefined) ?? null;
    const span = startSpan(`statecraft.macrostep ${op.event.type}`, {
      parent,
      kind: timer ? SpanKind.CONSUMER : SpanKind.INTERNAL,
      links: timer ? linkTo(rec.traces?.[firedTimerKey(op)], { "statecraft.link": "armed" }) : [],
      attributes: {
        "statecraft.instance": rec.id,
        "statecraft.machine": rec.machine,
        "statecraft.event": op.event.type,
        "statecraft.kind": op.kind,
        "statecraft.by": op.by,
        "statecraft.configuration.before": instance.configuration,
        ...(this.#node === undefined ? {} : { "statecraft.node": this.#node }),
        ...(op.eventId === undefined ? {} : { "statecraft.event_id": op.eventId }),
      },
    });
    let ok: boolean;
    try {
      ok = runIn(contextOf(span, parent === null ? contextFrom(undefined) : parent), run);
    } catch (e) {
      endSpan(span, e);
      throw e;
    }
    span.setAttribute("statecraft.applied", ok);
    if (ok) {
      span.setAttributes({
        "statecraft.seq": seq,
        "statecraft.configuration.after": instance.configuration,
        "statecraft.status": instance.status,
      });
      this.#steps.push({ item, span });
      if (this.#several) {
        const snap = (instance as unknown as { internalSnapshot(copy: boolean): Snapshot })
          .internalSnapshot(false);
        this.#timersAfter.push(new Set(collectTimers(snap, []).map((t) => timerKey(t.due, t.ref))));
      }
    }
    span.end();
    return ok;
  }

  /**
   * Records in the new record the `traceparent` of the macrostep that armed each pending
   * timer (kept from the old record for timers armed before), dropping timers gone.
   */
  timers(old: InstanceRecord, rec: InstanceRecord): void {
    const traces: Record<string, string> = {};
    for (const t of rec.timers) {
      const k = timerKey(t.due, t.ref);
      let parent = old.traces?.[k];
      if (parent === undefined && this.#steps.length > 0) {
        // Armed in this batch: by the first step after which it was pending.
        let i = this.#steps.length - 1;
        if (this.#several) {
          const first = this.#timersAfter.findIndex((s) => s.has(k));
          if (first >= 0) i = first;
        }
        parent = traceparent(this.#steps[i].span);
      }
      if (parent !== undefined) traces[k] = parent;
    }
    if (Object.keys(traces).length > 0) rec.traces = traces;
    else delete rec.traces;
  }

  /** Runs the batch's commit in a `statecraft.commit` span. */
  commit<T>(commit: () => Promise<T>, entries: number): Promise<T> {
    // Under the first send's span; a timer's firing has none: under its macrostep.
    const first = this.#steps[0];
    const parent = first === undefined
      ? contextFrom(undefined)
      : first.item.op.kind === "timer"
      ? contextOf(first.span, contextFrom(undefined))
      : (first.item.op.trace as Context | undefined) ?? contextFrom(undefined);
    const span = startSpan("statecraft.commit", {
      parent,
      kind: SpanKind.CLIENT,
      links: this.#steps.slice(1).map((s) => ({ context: s.span.spanContext() })),
      attributes: {
        "statecraft.instance": this.#loaded.rec.id,
        "statecraft.entries": entries,
        ...(this.#node === undefined ? {} : { "statecraft.node": this.#node }),
      },
    });
    return runIn(contextOf(span, parent), commit).then(
      (v) => {
        const ok = (v as { ok?: unknown }).ok;
        if (typeof ok === "boolean") span.setAttribute("statecraft.committed", ok);
        endSpan(span);
        return v;
      },
      (e) => {
        endSpan(span, e);
        throw e;
      },
    );
  }
}

/**
 * Runs a new instance's initial macrostep (`start`: entering its initial states, or restoring
 * the state a fork starts from) in a `statecraft.macrostep` span under the active context (the
 * `statecraft.create` span); answers with the span's `traceparent`, which the timers it armed
 * keep (see {@linkcode armedBy}).
 */
export function traceStart<T extends { configuration: readonly string[]; status: string }>(
  ids: { instance: string; machine: string; kind: "create" | "fork"; node?: string },
  start: () => T,
): { instance: T; trace: string | undefined } {
  const span = startSpan(`statecraft.macrostep ${ids.kind}`, {
    attributes: {
      "statecraft.instance": ids.instance,
      "statecraft.machine": ids.machine,
      "statecraft.kind": ids.kind,
      "statecraft.seq": 0,
      ...(ids.node === undefined ? {} : { "statecraft.node": ids.node }),
    },
  });
  let instance: T;
  try {
    instance = runIn(contextOf(span), start);
  } catch (e) {
    endSpan(span, e);
    throw e;
  }
  span.setAttributes({
    "statecraft.configuration.after": [...instance.configuration],
    "statecraft.status": instance.status,
  });
  span.end();
  return { instance, trace: traceparent(span) };
}

/** Records `trace` as the macrostep that armed each of the record's pending timers. */
export function armedBy(rec: InstanceRecord, trace: string | undefined): void {
  if (trace === undefined || rec.timers.length === 0) return;
  rec.traces = Object.fromEntries(rec.timers.map((t) => [timerKey(t.due, t.ref), trace]));
}

/** Runs a committed send from the outbox in a `statecraft.effect` span. */
export function traceEffect(instanceId: string, o: OutboxItem): Promise<unknown> {
  const parent = contextFrom(o.trace);
  const span = startSpan(`statecraft.effect ${o.target}`, {
    parent,
    kind: SpanKind.PRODUCER,
    attributes: {
      "statecraft.instance": instanceId,
      "statecraft.target": o.target,
      "statecraft.event": o.event.type,
      "statecraft.effect_id": o.effectId,
    },
  });
  return runIn(contextOf(span, parent), async () => await o.run()).then(
    (v) => {
      endSpan(span);
      return v;
    },
    (e) => {
      endSpan(span, e);
      throw e;
    },
  );
}

/**
 * Runs the commit of a new instance in a `statecraft.commit` span, a child of the active
 * context (the `statecraft.create` span).
 */
export function traceCreateCommit<T extends { ok: boolean }>(
  instanceId: string,
  node: string | undefined,
  commit: () => Promise<T>,
): Promise<T> {
  const span = startSpan("statecraft.commit", {
    kind: SpanKind.CLIENT,
    attributes: {
      "statecraft.instance": instanceId,
      "statecraft.entries": 1,
      ...(node === undefined ? {} : { "statecraft.node": node }),
    },
  });
  return runIn(contextOf(span), commit).then(
    (v) => {
      span.setAttribute("statecraft.committed", v.ok);
      endSpan(span);
      return v;
    },
    (e) => {
      endSpan(span, e);
      throw e;
    },
  );
}
