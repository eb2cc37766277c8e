/**
 * `GET /events`: bus events (committed transitions, plugin state changes) as Server-Sent
 * Events. Each client gets its own bus subscription; a client that stops reading is dropped
 * when its queue passes a bound, so a slow reader cannot hold memory or slow the bus.
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import type { EventBus } from "../plugins/bus.ts";

/** The events a client gets when it names none. */
export const DEFAULT_SSE_EVENTS = "machine.transition plugin.state plugin.stuck";

/** Options of one SSE stream. */
export interface SseOptions {
  /** Bus descriptors (space- or comma-separated; default {@linkcode DEFAULT_SSE_EVENTS}). */
  events?: string;
  /** Only events whose `instance` field is this. */
  instance?: string;
  /** A comment line is written this often so proxies keep the connection (default 15 s). */
  keepAliveMs?: number;
  /** Events queued for a client that does not read before it is dropped (default 10,000). */
  maxQueued?: number;
  /** Ends the stream (the server is closing). */
  signal?: AbortSignal;
  /** Called once when the stream ends, for whatever reason. */
  onClose?: () => void;
}

const encoder = new TextEncoder();

/**
 * A `Response` streaming the bus as Server-Sent Events: `event: <type>`, `id: <n>`,
 * `data: <json>`. Throws a `TypeError` when `options.events` is not a valid descriptor list.
 *
 * @example
 * ```ts ignore
 * app.get("/events", (c) => sseResponse(runtime.bus, { events: c.req.query("events") }));
 * ```
 */
export function sseResponse(bus: EventBus, options: SseOptions = {}): Response {
  const descriptor = (options.events ?? DEFAULT_SSE_EVENTS).replace(/,/g, " ").trim() ||
    DEFAULT_SSE_EVENTS;
  const maxQueued = options.maxQueued ?? 10_000;
  let unsubscribe: (() => void) | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let n = 0;
  const finish = (controller?: ReadableStreamDefaultController<Uint8Array>) => {
    if (closed) return;
    closed = true;
    unsubscribe?.();
    clearInterval(timer);
    options.signal?.removeEventListener("abort", onAbort);
    try {
      controller?.close();
    } catch {
      // already closed or errored by the client going away
    }
    options.onClose?.();
  };
  let ctrl: ReadableStreamDefaultController<Uint8Array> | undefined;
  const onAbort = () => finish(ctrl);
  // Validate before the response starts: a bad descriptor is a 400, not a broken stream.
  const subscribe = (handler: (e: EventObject) => void) =>
    bus.subscribe(descriptor, handler, { name: "server:sse", priority: 50 });
  let pendingHandler: ((e: EventObject) => void) | null = null;
  unsubscribe = subscribe((e) => pendingHandler?.(e));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      ctrl = controller;
      if (options.signal?.aborted) return finish(controller);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      controller.enqueue(encoder.encode(": statecraft events\nretry: 2000\n\n"));
      pendingHandler = (event) => {
        if (closed) return;
        if (
          options.instance !== undefined &&
          (event as { instance?: unknown }).instance !== options.instance
        ) return;
        if ((controller.desiredSize ?? 0) <= -maxQueued) return finish(controller);
        let data: string;
        try {
          data = JSON.stringify(event);
        } catch {
          return; // an event that is not JSON (a plugin's cycle) is not sent
        }
        controller.enqueue(
          encoder.encode(`id: ${++n}\nevent: ${oneLine(event.type)}\ndata: ${data}\n\n`),
        );
      };
      timer = setInterval(() => {
        if (!closed) controller.enqueue(encoder.encode(": keep-alive\n\n"));
      }, options.keepAliveMs ?? 15_000);
    },
    cancel() {
      finish();
    },
  }, { highWaterMark: 1, size: () => 1 });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]/g, " ");
}
