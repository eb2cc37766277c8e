/**
 * `statecraft run doc.scxml` without `--trusted`: the document is read here and handed to a
 * Worker started with no permissions at all, which imports it, runs it exactly as
 * `runInMemory` does and sends its output lines back. An expression that escapes the data
 * model's scope finds a global object that cannot read, write, connect or run anything.
 *
 * The time limit: the Worker ticks a heartbeat into a shared array while its event loop is
 * free and records there the element whose scripts or expressions are running
 * (`lib/scxml/time_limit.ts`). When the heartbeat stops for longer than the limit (default
 * 5 s, `--time-limit`), the run ends with an error naming the document and the element
 * (`doc.scxml:3:5 <script>`). `Worker.terminate()` does not stop a Worker stuck in a busy
 * loop (it keeps a core busy and the process alive), so the CLI then exits the process: this
 * function's caller must not go on in the same process as if nothing had happened.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import type { RunOutput } from "./run_output.ts";
import type { ScriptStep } from "./event_script.ts";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { readWatch, watchBuffer } from "../scxml/time_limit.ts";

/** How long an untrusted document may run without its Worker's event loop coming back. */
export const DEFAULT_TIME_LIMIT_MS = 5_000;

/** What the Worker is sent. */
export interface IsolatedRunRequest {
  file: string;
  url: string;
  text: string;
  steps: ScriptStep[];
  forMs: number;
  virtual: boolean;
  /** Shared with the watchdog: heartbeat and the running element (`time_limit.ts`). */
  watch: Int32Array | null;
  /** How often the Worker's heartbeat ticks, in milliseconds. */
  beatMs: number;
}

/** What the Worker sends back. */
export type IsolatedRunMessage =
  | { kind: "line"; text: string }
  | { kind: "warn"; text: string }
  | { kind: "load-error"; text: string }
  | { kind: "done"; code: number };

/**
 * Runs an SCXML document in a permission-less Worker; returns the exit code. A document that
 * keeps the Worker busy for longer than `timeLimitMs` (0: no limit) throws a `CliError` naming
 * the element; the Worker may then keep running until the process exits.
 */
export async function runScxmlIsolated(
  file: string,
  steps: ScriptStep[],
  forMs: number,
  virtual: boolean,
  out: RunOutput,
  timeLimitMs: number = DEFAULT_TIME_LIMIT_MS,
): Promise<number> {
  const absolute = isAbsolute(file) ? file : resolve(Deno.cwd(), file);
  let text: string;
  try {
    text = await Deno.readTextFile(absolute);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new CliError(`${file}: file not found`);
    throw new CliError(`${file}: cannot read the file: ${e instanceof Error ? e.message : e}`);
  }
  const worker = new Worker(new URL("./run_scxml_worker.ts", import.meta.url), {
    type: "module",
    name: "statecraft:scxml",
    deno: { permissions: "none" },
  });
  const watch = timeLimitMs > 0 ? watchBuffer() : null;
  // The heartbeat ticks a few times per limit; a stuck Worker is found within 1.5 limits.
  const beatMs = Math.max(5, Math.min(1_000, Math.floor(timeLimitMs / 4)));
  let watchdog: ReturnType<typeof setInterval> | undefined;
  try {
    return await new Promise<number>((resolvePromise, reject) => {
      if (watch !== null) {
        let last = readWatch(watch).beat;
        let since = performance.now();
        watchdog = setInterval(() => {
          const now = readWatch(watch);
          if (now.beat !== last || now.beat === 0) {
            // Moving (or not started yet: loading the modules is not the document's time).
            last = now.beat;
            since = performance.now();
          } else if (performance.now() - since > timeLimitMs) {
            reject(new CliError(stuckMessage(file, text, now.line, now.column, timeLimitMs)));
          }
        }, beatMs);
      }
      worker.onmessage = (e: MessageEvent<IsolatedRunMessage>) => {
        const m = e.data;
        if (m.kind === "line") out.line(m.text);
        else if (m.kind === "warn") out.warn(m.text);
        else if (m.kind === "load-error") reject(new CliError(m.text));
        else resolvePromise(m.code);
      };
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new CliError(`${file}: the document's run failed: ${e.message}`));
      };
      const request: IsolatedRunRequest = {
        file,
        url: pathToFileURL(absolute).href,
        text,
        steps,
        forMs,
        virtual,
        watch,
        beatMs,
      };
      worker.postMessage(request);
    });
  } finally {
    clearInterval(watchdog);
    worker.terminate();
  }
}

/** The error of a stuck document: where it was running, how long, and what to do. */
export function stuckMessage(
  file: string,
  text: string,
  line: number,
  column: number,
  limitMs: number,
): string {
  const limit = limitMs % 1000 === 0 ? `${limitMs / 1000}s` : `${limitMs}ms`;
  const advice = `the time limit of untrusted documents; --time-limit changes it`;
  if (line === 0) {
    return `${file}: the document ran for more than ${limit} without finishing, outside any ` +
      `script or expression (${advice}); it was stopped`;
  }
  const at = text.split("\n", line)[line - 1]?.slice(column - 1) ?? "";
  const name = /^<([^\s/>]+)/.exec(at)?.[1];
  return `${file}:${line}:${column} ${name === undefined ? "an element" : `<${name}>`} ran ` +
    `for more than ${limit} (${advice}); the document was stopped`;
}
