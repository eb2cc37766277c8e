/**
 * `statecraft run doc.scxml` without `--trusted`: the document is read here and handed to a
 * Worker started with no permissions at all, which imports it, runs it exactly as
 * `runInMemory` does and sends its output lines back. An expression that escapes the data
 * model's scope finds a global object that cannot read, write, connect or run anything.
 *
 * @module
 */
import { CliError } from "./cli_error.ts";
import type { RunOutput } from "./run.ts";
import type { ScriptStep } from "./event_script.ts";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** What the Worker is sent. */
export interface IsolatedRunRequest {
  file: string;
  url: string;
  text: string;
  steps: ScriptStep[];
  forMs: number;
  virtual: boolean;
}

/** What the Worker sends back. */
export type IsolatedRunMessage =
  | { kind: "line"; text: string }
  | { kind: "warn"; text: string }
  | { kind: "load-error"; text: string }
  | { kind: "done"; code: number };

/** Runs an SCXML document in a permission-less Worker; returns the exit code. */
export async function runScxmlIsolated(
  file: string,
  steps: ScriptStep[],
  forMs: number,
  virtual: boolean,
  out: RunOutput,
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
  try {
    return await new Promise<number>((resolvePromise, reject) => {
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
      };
      worker.postMessage(request);
    });
  } finally {
    worker.terminate();
  }
}
