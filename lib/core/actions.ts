/**
 * Action creators in the vocabulary XState users know. Each returns a plain action function,
 * so they mix freely with hand-written ones.
 *
 * @module
 */
import type { ActionArgs, EventInput, EventObject, SendOptions } from "./types.ts";

type Ctx = Record<string, unknown>;
type ValueOrFn<C, E extends EventObject, T> = T | ((args: ActionArgs<C, E>) => T);

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
export function assign<C = Ctx, E extends EventObject = EventObject>(
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

/** Raises an internal event (processed before any external one). */
export function raise<C = Ctx, E extends EventObject = EventObject>(
  event: ValueOrFn<C, E, EventInput<EventObject>>,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.raise(resolve(event, args));
}

/** Sends an event: to this instance's external queue, later, or to another target. */
export function send<C = Ctx, E extends EventObject = EventObject>(
  event: ValueOrFn<C, E, EventInput<EventObject>>,
  options?: SendOptions,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.send(resolve(event, args), options);
}

/** Sends an event to the machine that invoked this one. */
export function sendParent<C = Ctx, E extends EventObject = EventObject>(
  event: ValueOrFn<C, E, EventInput<EventObject>>,
  options?: Omit<SendOptions, "to">,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.send(resolve(event, args), { ...options, to: "#_parent" });
}

/** Cancels a delayed send by id. */
export function cancel<C = Ctx, E extends EventObject = EventObject>(
  sendId: ValueOrFn<C, E, string>,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.cancel(resolve(sendId, args));
}

/** Logs a value (or the result of a function of the action args). */
export function log<C = Ctx, E extends EventObject = EventObject>(
  value: ValueOrFn<C, E, unknown>,
): (args: ActionArgs<C, E>) => void {
  return (args) => args.log(resolve(value, args));
}
