/**
 * The engine's events as SCXML's `_event`: name, type (platform, internal, external), send
 * id, origin, invoke id, data and the raw form, frozen (system variables are read-only).
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";

/** `_event` as a document sees it. */
export interface ScxmlEvent {
  name: string;
  type: "platform" | "internal" | "external";
  sendid: string | undefined;
  origin: string | undefined;
  origintype: string | undefined;
  invokeid: string | undefined;
  data: unknown;
  /** The event as the I/O processor received it (Basic HTTP: the request; SCXML: a form). */
  raw: string | undefined;
}

const eventCache = new WeakMap<EventObject, ScxmlEvent>();
/** Fields of an engine event that are not its data. */
const META = new Set([
  "type",
  "data",
  "eventType",
  "sendid",
  "origin",
  "origintype",
  "invokeId",
  "output",
  "error",
  "source",
  "raw",
  "__http",
]);

/** The engine's event as SCXML's `_event` (undefined for the start, which has no event). */
export function toScxmlEvent(e: EventObject): ScxmlEvent | undefined {
  if (e.type === "") return undefined;
  let out = eventCache.get(e);
  if (out !== undefined) return out;
  let data: unknown = e.data;
  if (!("data" in e)) {
    if ("output" in e) data = e.output;
    else {
      const rest: Record<string, unknown> = {};
      let any = false;
      for (const [k, v] of Object.entries(e)) {
        if (!META.has(k)) {
          rest[k] = v;
          any = true;
        }
      }
      if (any) data = rest;
    }
  }
  const platform = /^(error|done)\./.test(e.type) && e.eventType === undefined;
  out = Object.freeze({
    name: e.type,
    type: (e.eventType as ScxmlEvent["type"] | undefined) ??
      (platform ? "platform" : "external"),
    sendid: e.sendid as string | undefined,
    origin: e.origin as string | undefined,
    origintype: e.origintype as string | undefined,
    invokeid: e.invokeId as string | undefined,
    data,
    raw: e.raw as string | undefined,
  });
  eventCache.set(e, out);
  return out;
}
