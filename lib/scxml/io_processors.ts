/**
 * The Basic HTTP Event I/O processor (SCXML Appendix C.2): a `Deno.serve` listener on the
 * loopback interface at an ephemeral port, started for a session whose document uses the
 * processor and closed with the session; and `basicHttpSend`, which POSTs an event.
 *
 * (The SCXML processor's targets — `#_internal`, `#_parent`, `#_<invokeid>`,
 * `#_scxml_<sessionid>` — are routed by the engine and the importer's session registry.)
 *
 * @module
 */
import type { EventObject } from "../core/types.ts";

/** A session's HTTP listener. */
export interface HttpListener {
  /** The URL events are POSTed to. */
  readonly url: string;
  /** Closes the listener. */
  release(): void;
}

/**
 * Starts a listener on 127.0.0.1 (port chosen by the system). A POST becomes an event:
 * its name is the `_scxmleventname` parameter (default `HTTP.POST`), its data the other form
 * parameters, or the body text when it is not a form.
 */
export function ensureHttpListener(deliver: (event: EventObject) => void): HttpListener {
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen: () => {},
  }, async (req) => {
    const text = await req.text();
    const params = new URLSearchParams(new URL(req.url).search);
    const contentType = req.headers.get("content-type") ?? "";
    let data: unknown = undefined;
    if (contentType.includes("application/x-www-form-urlencoded")) {
      for (const [k, v] of new URLSearchParams(text)) params.append(k, v);
    } else if (text !== "") {
      let body = text;
      try {
        body = decodeURIComponent(text);
      } catch { /* not encoded */ }
      try {
        data = JSON.parse(body);
      } catch {
        data = body;
      }
    }
    const head = [...req.headers].map(([k, v]) => `${k}: ${v}`).join("\r\n");
    const url = new URL(req.url);
    const raw = `${req.method} ${url.pathname}${url.search} HTTP/1.1\r\n${head}\r\n\r\n${text}`;
    const name = params.get("_scxmleventname") ?? `HTTP.${req.method}`;
    params.delete("_scxmleventname");
    if (data === undefined && [...params.keys()].length > 0) {
      data = Object.fromEntries(params);
    }
    const event: EventObject = {
      type: name,
      eventType: "external",
      origintype: "http://www.w3.org/TR/scxml/#BasicHTTPEventProcessor",
      raw,
    };
    if (data !== undefined) event.data = data;
    queueMicrotask(() => {
      try {
        deliver(event);
      } catch {
        // The session is gone or failed: nothing to deliver to.
      }
    });
    return new Response("", { status: 200 });
  });
  const addr = server.addr as Deno.NetAddr;
  let closed = false;
  return {
    url: `http://127.0.0.1:${addr.port}/`,
    release() {
      if (closed) return;
      closed = true;
      controller.abort();
    },
  };
}

/**
 * POSTs an event to a Basic HTTP target: `_scxmleventname` plus the event's data as form
 * parameters (an object) or as the body (anything else). A failure is reported through
 * `onError` as `error.communication`.
 */
export function basicHttpSend(
  target: string,
  event: EventObject,
  onError: (event: EventObject) => void,
): void {
  const form = new URLSearchParams();
  const named = event.type !== "HTTP.POST";
  if (named) form.set("_scxmleventname", event.type);
  let body: string;
  let type = "application/x-www-form-urlencoded";
  const data = event.data;
  if (data !== undefined && (typeof data !== "object" || data === null || Array.isArray(data))) {
    body = encodeURIComponent(typeof data === "string" ? data : JSON.stringify(data));
    type = "text/plain";
  } else {
    if (data !== undefined) {
      for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
        form.set(k, typeof v === "string" ? v : JSON.stringify(v));
      }
    }
    body = form.toString();
  }
  const url = type === "text/plain" && named
    ? `${target}${target.includes("?") ? "&" : "?"}_scxmleventname=${
      encodeURIComponent(event.type)
    }`
    : target;
  fetch(url, { method: "POST", headers: { "content-type": type }, body })
    .then((r) => r.body?.cancel())
    .catch((e) => {
      const error: EventObject = {
        type: "error.communication",
        eventType: "platform",
        data: { message: e instanceof Error ? e.message : String(e) },
      };
      if (event.sendid !== undefined) error.sendid = event.sendid;
      onError(error);
    });
}
