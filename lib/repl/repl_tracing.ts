/**
 * The REPL's span (only when OpenTelemetry is on: the caller checks `tracing` first): one
 * `statecraft.repl <command>` span per line, the parent of the spans the line makes (its
 * `statecraft.send`, `statecraft.create`, ...). Only the command word is recorded, never the
 * line, which may hold secrets (a context, an event's data, code).
 *
 * @module
 */
import { contextOf, endSpan, runIn, startSpan } from "../telemetry/tracing.ts";

/**
 * Runs one REPL line (`run`) in a `statecraft.repl <command>` span; `command` is the command
 * word, or `eval` for a code line. A failure marks the span failed with the error's class name
 * only (its message may quote the line).
 */
export async function traceLine(command: string, run: () => Promise<void>): Promise<void> {
  const span = startSpan(`statecraft.repl ${command}`, {
    attributes: { "statecraft.command": command },
  });
  try {
    await runIn(contextOf(span), run);
  } catch (e) {
    endSpan(span, e instanceof Error ? e.name : "error");
    throw e;
  }
  endSpan(span);
}
