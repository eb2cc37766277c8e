/**
 * `statecraft export <machine.ts> --format scxml`: writes a machine as an SCXML document.
 * What SCXML cannot express (TypeScript functions) is marked in the document and listed as
 * warnings.
 *
 * @module
 */
import { loadMachine } from "./load.ts";
import { CliError } from "./cli_error.ts";
import { exportSCXML } from "../scxml/export.ts";

/** Formats `export` can write. */
import { EXPORT_FORMATS } from "./constants.ts";
export { EXPORT_FORMATS };

/** Options of `statecraft export`. */
export interface ExportOptions {
  /** The format (only `scxml` for now). */
  format?: (typeof EXPORT_FORMATS)[number];
  /** The machine to export when the script exports several. */
  machine?: string;
}

/**
 * Loads a script and returns the document text plus warnings (one per part SCXML cannot
 * express).
 *
 * @example
 * ```ts ignore
 * import { exportCommand } from "./export.ts";
 * const { text, warnings } = await exportCommand("examples/door.ts", { format: "scxml" });
 * ```
 */
export async function exportCommand(
  file: string,
  options: ExportOptions,
): Promise<{ text: string; warnings: string[] }> {
  const format = options.format ?? "scxml";
  if (format !== "scxml") throw new CliError(`--format: unknown format "${format}"`);
  const { machine } = await loadMachine(file, options.machine);
  const { xml, unsupported } = exportSCXML(machine);
  return {
    text: xml,
    warnings: unsupported.map((u) => `warning: not expressible in SCXML: ${u}`),
  };
}
