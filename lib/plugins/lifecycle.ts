/**
 * A plugin's lifecycle, as a statechart run by Statecraft's own engine:
 * Discovered -> Validated -> Resolved -> Loading -> Loaded -> Active, then Reloading or
 * Unloading -> Unloaded; Failed from any step that fails. A crash while active goes back to
 * Loading (a restart) until the restart budget is spent, then to Failed.
 *
 * @module
 */
import { defineMachine, type Machine } from "../core/machine.ts";

/** The lifecycle's context. */
export interface LifecycleContext {
  restarts: number;
  maxRestarts: number;
  error: string | null;
}

/** Lifecycle events. */
export type LifecycleEvent =
  | { type: "VALIDATED" }
  | { type: "RESOLVED" }
  | { type: "LOAD" }
  | { type: "LOADED" }
  | { type: "ACTIVATE" }
  | { type: "FAIL"; error: string }
  | { type: "CRASH"; error: string }
  | { type: "RELOAD" }
  | { type: "RELOADED" }
  | { type: "RELOAD_FAILED"; error: string }
  | { type: "UNLOAD" }
  | { type: "UNLOADED" };

/** The lifecycle states, as `plugin list` shows them. */
export type LifecycleState =
  | "discovered"
  | "validated"
  | "resolved"
  | "loading"
  | "loaded"
  | "active"
  | "reloading"
  | "unloading"
  | "unloaded"
  | "failed";

const fail = {
  target: "failed",
  actions: ({ context, event }: { context: LifecycleContext; event: { error?: unknown } }) => {
    context.error = String(event.error ?? "failed");
  },
};

/** The lifecycle machine (one instance per plugin). */
export const pluginLifecycle: Machine<LifecycleContext, LifecycleEvent> = defineMachine<
  LifecycleContext,
  LifecycleEvent
>({
  id: "plugin",
  version: 1,
  context: { restarts: 0, maxRestarts: 5, error: null },
  initial: "discovered",
  states: {
    discovered: { on: { VALIDATED: "validated", FAIL: fail } },
    validated: { on: { RESOLVED: "resolved", FAIL: fail } },
    resolved: { on: { LOAD: "loading", FAIL: fail } },
    loading: {
      on: {
        LOADED: { target: "loaded", actions: ({ context }) => context.error = null },
        FAIL: fail,
      },
    },
    loaded: { on: { ACTIVATE: "active", FAIL: fail } },
    active: {
      on: {
        RELOAD: "reloading",
        UNLOAD: "unloading",
        CRASH: [
          {
            target: "loading",
            guard: ({ context }) => context.restarts < context.maxRestarts,
            actions: ({ context, event }) => {
              context.restarts++;
              context.error = event.error;
            },
          },
          fail,
        ],
      },
    },
    // The old version keeps serving while the new one loads; a failed reload goes back to it.
    reloading: {
      on: {
        RELOADED: "active",
        RELOAD_FAILED: {
          target: "active",
          actions: ({ context, event }) => context.error = event.error,
        },
        CRASH: fail,
      },
    },
    unloading: { on: { UNLOADED: "unloaded", FAIL: "unloaded" } },
    unloaded: { on: { LOAD: "loading" } },
    failed: { on: { LOAD: "loading" } },
  },
});
