/**
 * The event bus: subscribe with SCXML-style descriptors (`order.*`, `order`, `*`) and a
 * priority; handlers run in priority order (higher first, then subscription order), each
 * isolated: one that throws or rejects is reported and the others still run.
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import { descriptorProblem, matchesAny, parseDescriptors } from "../core/descriptor.ts";

/** A bus handler: may be async; its result is awaited by `emit`. */
export type BusHandler = (event: EventObject) => unknown;

/** A handler's failure, as reported to `onError`. */
export interface BusFailure {
  /** The event being handled. */
  event: EventObject;
  /** The subscription's name (its `name` option, or its descriptor). */
  subscriber: string;
  /** What the handler threw or rejected with. */
  error: unknown;
}

interface Subscription {
  tokens: string[];
  handler: BusHandler;
  priority: number;
  seq: number;
  name: string;
}

/**
 * An in-process publish/subscribe bus with priorities.
 *
 * @example
 * ```ts
 * import { EventBus } from "./bus.ts";
 * const bus = new EventBus();
 * const seen: string[] = [];
 * bus.subscribe("order.*", (e) => void seen.push(e.type));
 * await bus.emit({ type: "order.created" });
 * ```
 */
export class EventBus {
  #subs: Subscription[] = [];
  #seq = 0;
  readonly #onError: (failure: BusFailure) => void;

  /** Makes an empty bus; `onError` gets handlers' failures (default: `console.error`). */
  constructor(options: { onError?: (failure: BusFailure) => void } = {}) {
    this.#onError = options.onError ?? ((f) => {
      console.error(`bus: handler "${f.subscriber}" failed on "${f.event.type}":`, f.error);
    });
  }

  /**
   * Subscribes to events matching `descriptor`. Returns the unsubscribe function.
   * Throws a `TypeError` for a descriptor that is not valid.
   */
  subscribe(
    descriptor: string,
    handler: BusHandler,
    options: { priority?: number; name?: string } = {},
  ): () => void {
    const problem = descriptorProblem(descriptor);
    if (problem !== undefined) throw new TypeError(`bus.subscribe: ${problem}`);
    const sub: Subscription = {
      tokens: parseDescriptors(descriptor),
      handler,
      priority: options.priority ?? 0,
      seq: this.#seq++,
      name: options.name ?? descriptor,
    };
    this.#subs.push(sub);
    this.#subs.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    return () => {
      const i = this.#subs.indexOf(sub);
      if (i >= 0) this.#subs.splice(i, 1);
    };
  }

  /** How many subscriptions there are. */
  get size(): number {
    return this.#subs.length;
  }

  /**
   * Delivers an event to every matching handler in priority order, one after the other
   * (a handler may rely on those before it having run). Resolves with the number of handlers
   * that succeeded; failures go to `onError`.
   */
  async emit(event: EventObject): Promise<number> {
    if (typeof event !== "object" || event === null || typeof event.type !== "string") {
      throw new TypeError("bus.emit: an event is an object with a string type");
    }
    let ok = 0;
    for (const sub of [...this.#subs]) {
      if (!matchesAny(sub.tokens, event.type)) continue;
      try {
        await sub.handler(event);
        ok++;
      } catch (error) {
        try {
          this.#onError({ event, subscriber: sub.name, error });
        } catch {
          // The error reporter's own failure must not stop delivery.
        }
      }
    }
    return ok;
  }
}
