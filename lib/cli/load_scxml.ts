/**
 * `.scxml` files for the CLI's loader: the document becomes one machine (export name
 * `"default"`); a document that cannot be read as SCXML becomes diagnostics with the line and
 * column of the problem.
 *
 * @module
 */
import { DefinitionError } from "../core/errors.ts";
import { fromSCXML, ScxmlError } from "../scxml/mod.ts";
import type { LoadedScript } from "./script_types.ts";

/** Whether a path names an SCXML document. */
export function isScxmlFile(file: string): boolean {
  return /\.scxml$/i.test(file);
}

/** Fills `script` (whose `source` has been read) from an SCXML document. */
export function loadScxmlInto(script: LoadedScript): LoadedScript {
  const { file } = script;
  try {
    const machine = fromSCXML(script.source, { baseUrl: script.url, source: file });
    script.machines.push({ machine, exportNames: ["default"] });
    for (const p of machine.warnings) {
      script.diagnostics.push({ file, severity: "warning", message: p.message });
    }
  } catch (e) {
    if (e instanceof ScxmlError) {
      script.diagnostics.push({
        file,
        line: e.line,
        col: e.column,
        severity: "error",
        message: e.detail,
      });
    } else if (e instanceof DefinitionError) {
      for (const p of e.problems) {
        script.diagnostics.push({ file, severity: p.severity, message: p.message });
      }
    } else {
      script.diagnostics.push({
        file,
        severity: "error",
        message: `cannot load the document: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  }
  return script;
}
