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
export { ImportError } from "./lib/persist/transfer.ts";
export { CausalLivelockError, type ChainLink, type RefusedHop } from "./lib/persist/livelock.ts";
export type {
  CancelInfo,
  FailedEffect,
  ForkLink,
  RedriveInfo,
  RedrivenEffect,
  RedriveOptions,
} from "./lib/persist/types.ts";
export type { AnyInstance, AnyMachine, CommitInfo, InstanceHead } from "./lib/persist/types.ts";
export type { ListSort, ReindexProgress, WhereClause } from "./lib/persist/types.ts";
export { parseWhere } from "./lib/persist/search.ts";
export type {
  KvBackend,
  KvCheck,
  KvCommitResult,
  KvEntry,
  KvKey,
  KvKeyPart,
  KvLimits,
  KvListIterator,
  KvListOptions,
  KvMutation,
  KvSelector,
} from "./lib/persist/backend.ts";
export type * from "./lib/cluster/types.ts";
export { StoreDataError } from "./lib/persist/codec.ts";
export * from "./lib/persist/schedules.ts";
export {
  type ActionHandler,
  definePlugin,
  type HookName,
  type IsolationMode,
  type PluginContext,
  type PluginDefinition,
  PluginError,
  PluginHostError,
  type PluginKv,
  type PluginKvKey,
  type PluginLogger,
  type PluginScheduler,
} from "./lib/plugins/types.ts";
export {
  type PluginInfo,
  type PluginSpec,
  PluginSupervisor,
  type SupervisorOptions,
} from "./lib/plugins/supervisor.ts";
export type { ResolvedPermissions } from "./lib/plugins/host.ts";
export type { LifecycleState } from "./lib/plugins/lifecycle.ts";
export type { LogSink } from "./lib/plugins/services.ts";
export {
  loadPlugins,
  type LoadPluginsOptions,
  type LoadReport,
  type SigningPolicy,
  type WatchOptions,
  watchPlugins,
} from "./lib/plugins/loader.ts";
export { type BusFailure, type BusHandler, EventBus } from "./lib/plugins/bus.ts";
export {
  type ActionPolicy,
  type LoadedManifest,
  loadManifest,
  ManifestError,
  type ManifestProblem,
  type ParseManifestOptions,
  type PluginActionRetry,
  type PluginLimits,
  type PluginManifest,
  type PluginPermissions,
  type PluginRoute,
  ROUTE_METHODS,
  SYS_PERMISSION_NAMES,
  type SysPermissionName,
} from "./lib/plugins/manifest.ts";
export {
  generateKeyPair,
  type Signature,
  signPlugin,
  verifyPlugin,
  type VerifyResult,
} from "./lib/plugins/signing.ts";
export {
  pluginAction,
  type ReloadOutcome,
  Runtime,
  type RuntimeOptions,
  type TransitionEvent,
} from "./lib/runtime/runtime.ts";
export type { LoadedMachine, ScriptError } from "./lib/runtime/scripts.ts";
export { defaultConfig, parseConfig, type RuntimeConfig } from "./lib/runtime/config.ts";
export { DocumentError, type DocumentProblem } from "./lib/config/problems.ts";
export {
  exportSCXML,
  fromSCXML,
  ScxmlError,
  type ScxmlExport,
  ScxmlMachine,
  type ScxmlOptions,
  toSCXML,
} from "./lib/scxml/mod.ts";
export {
  type ApiApp,
  type ApiError,
  type AppOptions,
  createApp,
  type MountedPluginRoute,
} from "./lib/server/app.ts";
export { serve, type ServeOptions, type Server } from "./lib/server/serve.ts";
export type { Metrics } from "./lib/server/metrics.ts";
