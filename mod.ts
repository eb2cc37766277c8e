/**
 * Statecraft: statecharts with exact SCXML semantics, in the vocabulary XState users know.
 *
 * @example
 * ```ts
 * import { defineMachine, VirtualClock } from "./mod.ts";
 * const light = defineMachine({
 *   id: "light",
 *   initial: "green",
 *   states: {
 *     green: { after: { 1000: "yellow" } },
 *     yellow: { after: { 500: "red" } },
 *     red: { on: { RESET: "green" } },
 *   },
 * });
 * const clock = new VirtualClock();
 * const l = light.start({ clock });
 * clock.advance(1500);
 * // l.configuration is ["red"]
 * ```
 *
 * @module
 */
// The engine (also importable alone, light to load, from core.ts).
export * from "./core.ts";
export {
  type CheckpointInfo,
  type ExportRecord,
  type InstanceInfo,
  type JournalEntry,
  type ListOptions,
  type ListPage,
  openStore,
  type OpenStoreOptions,
  type SendResult,
  type Store,
  StoreError,
} from "./lib/persist/store.ts";
export type { KvBackend, KvKey, KvLimits } from "./lib/persist/backend.ts";
export { StoreDataError } from "./lib/persist/codec.ts";
export {
  definePlugin,
  type HookName,
  type IsolationMode,
  type PluginContext,
  type PluginDefinition,
  PluginError,
  PluginHostError,
} from "./lib/plugins/types.ts";
export { type PluginInfo, type PluginSpec, PluginSupervisor } from "./lib/plugins/supervisor.ts";
export { loadPlugins, watchPlugins } from "./lib/plugins/loader.ts";
export { EventBus } from "./lib/plugins/bus.ts";
export { loadManifest, ManifestError, type PluginManifest } from "./lib/plugins/manifest.ts";
export { generateKeyPair, signPlugin, verifyPlugin } from "./lib/plugins/signing.ts";
export {
  pluginAction,
  type ReloadOutcome,
  Runtime,
  type RuntimeOptions,
  type TransitionEvent,
} from "./lib/runtime/runtime.ts";
export { defaultConfig, parseConfig, type RuntimeConfig } from "./lib/runtime/config.ts";
export {
  exportSCXML,
  fromSCXML,
  ScxmlError,
  type ScxmlExport,
  ScxmlMachine,
  type ScxmlOptions,
  toSCXML,
} from "./lib/scxml/mod.ts";
export { createApp } from "./lib/server/app.ts";
export { serve } from "./lib/server/serve.ts";
