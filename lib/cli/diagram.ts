/**
 * `statecraft diagram <machine.ts> --format mermaid|dot`: prints the machine's chart as a
 * Mermaid `stateDiagram-v2` or a Graphviz `digraph` on stdout.
 *
 * @module
 */
import { toDot, toMermaid } from "../core/diagram.ts";
import { CliError } from "./cli_error.ts";
import { loadMachine } from "./load.ts";

/** The diagram formats. */
import { DIAGRAM_FORMATS } from "./constants.ts";
export { DIAGRAM_FORMATS };

/** One of `DIAGRAM_FORMATS`. */
export type DiagramFormat = typeof DIAGRAM_FORMATS[number];

/** Options of `statecraft diagram`, as commander parses them. */
export interface DiagramOptions {
  /** `mermaid` (default) or `dot`. */
  format?: string;
  /** The machine id to draw when the script exports several. */
  machine?: string;
}

/**
 * Loads a machine script and returns its diagram text. Throws a `CliError` for an unknown
 * format, a script that does not load, or an ambiguous machine.
 *
 * @example
 * ```ts ignore
 * import { diagramCommand } from "./diagram.ts";
 * console.log(await diagramCommand("examples/door.ts", { format: "dot" }));
 * ```
 */
export async function diagramCommand(file: string, options: DiagramOptions): Promise<string> {
  const format = options.format ?? "mermaid";
  if (!(DIAGRAM_FORMATS as readonly string[]).includes(format)) {
    throw new CliError(
      `unknown diagram format "${format}": use one of ${DIAGRAM_FORMATS.join(", ")}`,
    );
  }
  const { machine } = await loadMachine(file, options.machine);
  return format === "dot" ? toDot(machine) : toMermaid(machine);
}
