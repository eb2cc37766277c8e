/**
 * The Worker half of `run_scxml.ts`: started with no permissions; builds the machine from
 * the document text it is sent and runs it with `runInMemory`, posting output lines back.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { runInMemory } from "./run.ts";
import type { IsolatedRunMessage, IsolatedRunRequest } from "./run_scxml.ts";
import type { LoadedScript } from "./load.ts";
import { formatDiagnostic } from "./load.ts";
import { loadScxmlInto } from "./load_scxml.ts";
import { watchDocuments } from "../scxml/time_limit.ts";

const post = (m: IsolatedRunMessage) => self.postMessage(m);

self.onmessage = async (e: MessageEvent<IsolatedRunRequest>) => {
  const r = e.data;
  if (r.watch !== null) watchDocuments(r.watch, r.beatMs);
  const script: LoadedScript = {
    file: r.file,
    url: r.url,
    source: r.text,
    machines: [],
    diagnostics: [],
  };
  loadScxmlInto(script);
  const errors = script.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0 || script.machines.length === 0) {
    const needsRead = errors.some((d) => /NotCapable|read access/.test(d.message));
    post({
      kind: "load-error",
      text: `${r.file} did not load:\n${errors.map((d) => `  ${formatDiagnostic(d)}`).join("\n")}${
        needsRead
          ? "\n  (the document loads files with src: its Worker has no read permission; " +
            "run it with --trusted if you trust it)"
          : ""
      }`,
    });
    return;
  }
  const code = await runInMemory(script.machines[0].machine, r.steps, r.forMs, r.virtual, {
    line: (text) => post({ kind: "line", text }),
    warn: (text) => post({ kind: "warn", text }),
  });
  post({ kind: "done", code });
};
