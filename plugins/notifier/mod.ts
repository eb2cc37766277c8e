/**
 * notifier: `send({ text, level, key? })` POSTs
 * `{ "text": ..., "level": ..., "plugin": "notifier", "sentAt": <ISO time> }` to the URL in its
 * config (`http://$NOTIFIER_HOST/notify`). Its only permission is network access to that one
 * host: any other URL is refused by Deno with `NotCapable`.
 *
 * Every request carries an `Idempotency-Key` header: `key` when given, else the effect id of
 * the machine invocation that called it (`ctx.effectId`, the same when the invocation runs
 * again after a restart or on another node), else a SHA-256 of the level and the text. A retried call (the supervisor retries `send` after a crash or a lost
 * answer) sends the same key, so a receiver that honours it delivers the message once. Give
 * messages that must both arrive different `key`s.
 *
 * Answers `{ status, key }`; a non-2xx answer is an error naming the status.
 *
 * @module
 */
import { definePlugin } from "../../lib/plugins/sdk.ts";

/** The levels a notification may have. */
const LEVELS = ["info", "warn", "error"] as const;

const MAX_TEXT = 10_000;

/** The level of a notification. */
type Level = typeof LEVELS[number];

function parse(payload: unknown): { text: string; level: Level; key: string | undefined } {
  if (typeof payload !== "object" || payload === null) {
    throw new TypeError('send: the payload is an object like { "text": "...", "level": "info" }');
  }
  const { text, level = "info", key } = payload as Record<string, unknown>;
  if (typeof text !== "string" || text === "" || text.length > MAX_TEXT) {
    throw new TypeError(`send: text must be a string of 1 to ${MAX_TEXT} characters`);
  }
  if (!LEVELS.includes(level as Level)) {
    throw new TypeError(`send: level must be one of ${LEVELS.join(", ")}, not ${String(level)}`);
  }
  if (key !== undefined && (typeof key !== "string" || !/^[\x21-\x7e]{1,200}$/.test(key))) {
    throw new TypeError("send: key must be 1 to 200 printable ASCII characters");
  }
  return { text, level: level as Level, key };
}

async function digest(text: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export default definePlugin({
  actions: {
    send: async (payload, ctx) => {
      const message = parse(payload);
      const url = String(ctx.config.url);
      const timeoutMs = Number(ctx.config.timeoutMs ?? 5000);
      const key = message.key ?? ctx.effectId ??
        await digest(`${message.level}\n${message.text}`);
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify({
          text: message.text,
          level: message.level,
          plugin: ctx.name,
          sentAt: new Date().toISOString(),
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      if (!response.ok) {
        throw new Error(`POST ${url} answered ${response.status} ${response.statusText}`.trim());
      }
      return { status: response.status, key };
    },
  },
});
