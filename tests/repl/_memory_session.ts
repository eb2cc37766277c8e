/**
 * A REPL session in process over an in-memory runtime, capturing what it prints, with later
 * errors caught while it is open (`catchLaterErrors`), and `run(line)` giving one line's result
 * and what it printed.
 *
 * @module
 */
import type { Machine } from "../../lib/core/machine.ts";
import { type LineResult, ReplSession, type ReplSessionOptions } from "../../lib/repl/session.ts";
import type { Runtime } from "../../lib/runtime/runtime.ts";
import { memoryRuntime } from "../_memory_runtime.ts";

/** A session, what it printed, and how to end it. */
export interface MemorySession extends AsyncDisposable {
  session: ReplSession;
  runtime: Runtime;
  /** Result lines (stdout). */
  lines: string[];
  /** Error lines (stderr). */
  errors: string[];
  /** Stops catching later errors (also done on dispose, after the runtime closes). */
  release(): void;
  /** Runs one line: its result and what it printed (the captured lines are cleared first). */
  run(line: string): Promise<{ result: LineResult; out: string; err: string }>;
}

/** Opens a session over `machines`; `await using` closes it. */
export async function memorySession(
  // deno-lint-ignore no-explicit-any
  machines: Machine<any, any>[],
  options: ReplSessionOptions = {},
): Promise<MemorySession> {
  const runtime = await memoryRuntime(machines);
  const lines: string[] = [];
  const errors: string[] = [];
  const session = new ReplSession(runtime, {
    line: (t) => lines.push(t),
    error: (t) => errors.push(t),
  }, { timings: false, ...options });
  const release = session.catchLaterErrors();
  return {
    session,
    runtime,
    lines,
    errors,
    release,
    async run(line) {
      lines.length = 0;
      errors.length = 0;
      const result = await session.execute(line);
      return { result, out: lines.join("\n"), err: errors.join("\n") };
    },
    async [Symbol.asyncDispose]() {
      if (session.watching) session.stopWatching();
      await runtime.close();
      release();
    },
  };
}
