/**
 * What a plugin module imports: `definePlugin` and the types of its context. Plugins get read
 * access to this folder (`lib/plugins/`, code only) in addition to their own, so that this
 * import works under their permissions.
 *
 * @example
 * ```ts
 * import { definePlugin } from "./sdk.ts";
 * export default definePlugin({ actions: { ping: () => "pong" } });
 * ```
 *
 * @module
 */
export {
  type ActionHandler,
  definePlugin,
  type HookName,
  type PluginContext,
  type PluginDefinition,
  type PluginKv,
  type PluginKvKey,
  type PluginLogger,
  type PluginScheduler,
} from "./types.ts";
// The engine's event type the context uses (owned by `core.ts`, repeated here for the docs).
export type { EventObject } from "../core/types.ts";
