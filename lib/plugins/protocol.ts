/**
 * The messages between the host and a plugin, the same in every isolation mode. Requests carry
 * an id; every request gets exactly one `result` (ok or error). Plugin-to-host service
 * requests (`svc`) are answered with `svcResult`.
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";
import type { HookName } from "./types.ts";

/** What the plugin runtime needs to start the plugin. */
export interface InitData {
  name: string;
  version: string;
  /** `file:` URL of the plugin's entry module. */
  entryUrl: string;
  config: Record<string, unknown>;
  /** Largest message (serialised bytes) either side may send. */
  maxMessageBytes: number;
}

/**
 * Host -> plugin. `trace` (OpenTelemetry on): the W3C `traceparent` of the host's span for the
 * request; the plugin's span for it, and any span the plugin makes meanwhile, join that trace.
 */
export type HostMessage =
  | { t: "init"; id: number; init: InitData }
  | { t: "call"; id: number; action: string; payload: unknown; effectId?: string; trace?: string }
  | { t: "event"; id: number; event: EventObject; descriptor: string; trace?: string }
  | { t: "hook"; id: number; hook: HookName; data: unknown; trace?: string }
  | { t: "lifecycle"; id: number; phase: "load" | "unload" | "reload" }
  | { t: "ping"; id: number }
  | { t: "svcResult"; id: number; ok: true; value: unknown }
  | { t: "svcResult"; id: number; ok: false; error: RemoteError };

/** A plugin-side error as it crosses the boundary: text only. */
export interface RemoteError {
  name: string;
  message: string;
  stack?: string;
}

/** The host services a plugin may request. */
export type ServiceName =
  | "kv.get"
  | "kv.set"
  | "kv.delete"
  | "kv.list"
  | "schedule.after"
  | "schedule.every"
  | "schedule.cancel";

/** Plugin -> host. */
export type PluginMessage =
  | { t: "result"; id: number; ok: true; value: unknown }
  | { t: "result"; id: number; ok: false; error: RemoteError }
  | { t: "svc"; id: number; service: ServiceName; args: unknown[] }
  | { t: "emit"; event: EventObject }
  | {
    t: "log";
    level: "debug" | "info" | "warn" | "error";
    message: string;
    data?: unknown;
    /** The `traceparent` of the plugin's span it was written in (OpenTelemetry on). */
    trace?: string;
  }
  | { t: "exit"; code: number };

/** Turns anything thrown into a `RemoteError` (plain strings, never objects of either side). */
export function toRemoteError(e: unknown): RemoteError {
  if (e instanceof Error) {
    const out: RemoteError = { name: String(e.name), message: String(e.message) };
    if (typeof e.stack === "string") out.stack = e.stack;
    return out;
  }
  return { name: "Error", message: typeof e === "string" ? e : safeString(e) };
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** Checks the shape of a message from a plugin; anything else is a protocol violation. */
export function isPluginMessage(m: unknown): m is PluginMessage {
  if (typeof m !== "object" || m === null) return false;
  const msg = m as Record<string, unknown>;
  switch (msg.t) {
    case "result":
      return typeof msg.id === "number" && typeof msg.ok === "boolean";
    case "svc":
      return typeof msg.id === "number" && typeof msg.service === "string" &&
        Array.isArray(msg.args);
    case "emit":
      return typeof msg.event === "object" && msg.event !== null &&
        typeof (msg.event as { type?: unknown }).type === "string";
    case "log":
      return typeof msg.message === "string" &&
        ["debug", "info", "warn", "error"].includes(msg.level as string);
    case "exit":
      return typeof msg.code === "number";
    default:
      return false;
  }
}
