/**
 * Action creators in the vocabulary XState users know. Each returns a plain action function,
 * so they mix freely with hand-written ones.
 *
 * @module
 */
import type { ActionArgs, EventInput, EventObject, SendOptions } from "./types.ts";

/**
 * An argument of an action creator: a value, or a function of the action's args that computes
 * it each time the action runs (`send(({ context }) => ({ type: "GOT", n: context.n }))`).
 */
export type ValueOrFn<C, E extends EventObject, T> = T | ((args: ActionArgs<C, E>) => T);

function resolve<C, E extends EventObject, T>(v: ValueOrFn<C, E, T>, args: ActionArgs<C, E>): T {
  return typeof v === "function" ? (v as (a: ActionArgs<C, E>) => T)(args) : v;
}

/**
 * Updates the context: with a function returning a patch, or an object whose values are
 * values or functions of the action args.
 *
 * @example
 * ```ts
 * import { assign } from "./actions.ts";
 * const inc = assign<{ count: number }>({ count: ({ context }) => context.count + 1 });
 * ```
 */
export function assign<C = Record<string, unknown>, E extends EventObject = EventObject>(
  patch:
    | ((args: ActionArgs<C, E>) => Partial<C>)
    | { [K in keyof C]?: C[K] | ((args: ActionArgs<C, E>) => C[K]) },
): (args: ActionArgs<C, E>) => void {
  if (typeof patch === "function") return (args) => args.assign(patch(args));
  const entries = Object.entries(patch) as [keyof C, unknown][];
  return (args) => {
    const update: Partial<C> = {};
    for (const [key, value] of entries) {
      update[key] = (typeof value === "function" ? value(args) : value) as C[keyof C];
    }
    args.assign(update);
  };
}

/**
 * Raises an internal event: processed in the same macrostep, before any external event.
 *
 * @example
 * ```ts
 * import { raise } from "./actions.ts";
 * import { defineMachine } from "./machine.ts";
 * const m = defineMachine({
 *   id: "checkout",
 *   initial: "cart",
 *   states: {
 *     cart: { on: { PAY: { target: "paying", actions: raise("VALIDATE") } } },
 *     paying: { on: { VALIDATE: "validated" } },
 *     validated: {},
 *   },
 * });
 * const i = m.start();
 * i.send("PAY");
 * // i.configuration is ["validated"]: VALIDATE ran before send returned
 * ```
 */
export function raise<C = Record<string, unknown>, E extends EventObject = EventObject>(
  event: ValueOrFn<C, E, EventInput<EventObject>>,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.raise(resolve(event, args));
}

/**
 * Sends an event: to this instance's external queue, after a delay (`{ delay: "2s" }`), or to
 * another target (`{ to }`: the parent, a child, or the instance's `onSend`).
 *
 * @example
 * ```ts
 * import { send } from "./actions.ts";
 * import { VirtualClock } from "./clock.ts";
 * import { defineMachine } from "./machine.ts";
 * const m = defineMachine({
 *   id: "kettle",
 *   initial: "off",
 *   states: {
 *     off: { on: { BOIL: { target: "heating", actions: send("DONE", { delay: "3m", id: "t" }) } } },
 *     heating: { on: { DONE: "off" } },
 *   },
 * });
 * const clock = new VirtualClock();
 * const i = m.start({ clock });
 * i.send("BOIL");
 * clock.advance(180_000);
 * // i.configuration is ["off"] again
 * ```
 */
export function send<C = Record<string, unknown>, E extends EventObject = EventObject>(
  event: ValueOrFn<C, E, EventInput<EventObject>>,
  options?: SendOptions,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.send(resolve(event, args), options);
}

/**
 * Sends an event to the machine that invoked this one (SCXML `#_parent`).
 *
 * @example
 * ```ts
 * import { sendParent } from "./actions.ts";
 * import { defineMachine } from "./machine.ts";
 * const child = defineMachine({
 *   id: "child",
 *   states: { running: { entry: sendParent({ type: "HELLO", from: "child" }) } },
 * });
 * const parent = defineMachine({
 *   id: "parent",
 *   initial: "waiting",
 *   states: {
 *     waiting: { invoke: { src: child }, on: { HELLO: "greeted" } },
 *     greeted: {},
 *   },
 * });
 * const p = parent.start();
 * // p.configuration is ["greeted"]
 * ```
 */
export function sendParent<C = Record<string, unknown>, E extends EventObject = EventObject>(
  event: ValueOrFn<C, E, EventInput<EventObject>>,
  options?: Omit<SendOptions, "to">,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.send(resolve(event, args), { ...options, to: "#_parent" });
}

/**
 * Cancels a delayed send by its id (`SendOptions.id`); an unknown id is ignored.
 *
 * @example
 * ```ts
 * import { cancel, send } from "./actions.ts";
 * import { defineMachine } from "./machine.ts";
 * const m = defineMachine({
 *   id: "session",
 *   initial: "active",
 *   states: {
 *     active: {
 *       entry: send("TIMEOUT", { delay: "15m", id: "idle" }),
 *       on: {
 *         ACTIVITY: { actions: [cancel("idle"), send("TIMEOUT", { delay: "15m", id: "idle" })] },
 *         TIMEOUT: "expired",
 *       },
 *     },
 *     expired: { type: "final" },
 *   },
 * });
 * ```
 */
export function cancel<C = Record<string, unknown>, E extends EventObject = EventObject>(
  sendId: ValueOrFn<C, E, string>,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.cancel(resolve(sendId, args));
}

/**
 * Logs a value (or the result of a function of the action args): handed to the instance's
 * `log` option and to subscribers as a `log` record.
 *
 * @example
 * ```ts
 * import { log } from "./actions.ts";
 * import { defineMachine } from "./machine.ts";
 * const m = defineMachine({ id: "greeter", entry: log("greeter started"), states: { idle: {} } });
 * const lines: unknown[][] = [];
 * m.start({ log: (_id, values) => lines.push(values) });
 * // lines is [["greeter started"]]
 * ```
 */
export function log<C = Record<string, unknown>, E extends EventObject = EventObject>(
  value: ValueOrFn<C, E, unknown>,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.log(resolve(value, args));
}
