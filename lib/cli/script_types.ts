/**
 * What loading a machine script gives: the machines it exports and the diagnostics about it
 * (the loader is `load.ts`; `load_scxml.ts` fills the same shape from an SCXML document).
 *
 * @module
 */
import type { Machine } from "../core/machine.ts";

/** One message about a script, printed as `file:line:col severity: message (at path)`. */
export interface Diagnostic {
  /** The file as the user named it. */
  file: string;
  /** 1-based line, when known. */
  line?: number;
  /** 1-based column, when known. */
  col?: number;
  /** `"error"` fails `check` (exit code 1); `"warning"` does not. */
  severity: "error" | "warning";
  /** What is wrong. */
  message: string;
  /** The config path of a definition problem, as `formatPath` renders it. */
  path?: string;
}

/** A machine a script exports, with the export names it goes by. */
export interface ExportedMachine {
  /** The machine. */
  machine: Machine;
  /** `"default"` for the default export; several names when exported more than once. */
  exportNames: string[];
}

/** What loading a script found. */
export interface LoadedScript {
  /** The file as the user named it. */
  file: string;
  /** The module's `file:` URL. */
  url: string;
  /** The file's text (empty when it could not be read). */
  source: string;
  /** Every exported machine, in export order, each once. */
  machines: ExportedMachine[];
  /** Load errors, definition errors and machine warnings, in file order per machine. */
  diagnostics: Diagnostic[];
}
