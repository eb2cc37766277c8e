/**
 * SCXML documents to Statecraft machines: `fromSCXML` parses a document and builds its
 * machine. The pieces: `parse.ts` (XML), `builder.ts` (elements to machine config),
 * `executable.ts` (executable content), `machine.ts` (`ScxmlMachine`, send routing, invoke),
 * `session.ts` (sessions and their registry), `datamodel.ts` (the ECMAScript data model).
 *
 * @module
 */
import { parseXml, ScxmlError } from "./parse.ts";
import { buildMachine, type ScxmlOptions } from "./builder.ts";
import type { ScxmlMachine } from "./machine.ts";
import { expressionProblem } from "./datamodel.ts";
import type { MachineLike } from "../core/types.ts";

/**
 * Reads an SCXML document and returns its machine. State ids are the document's ids.
 * Throws `ScxmlError` (with line and column) for malformed XML, unknown elements or
 * attributes, and documents that cannot be loaded (a `<script src>` that cannot be read).
 *
 * @example
 * ```ts
 * import { fromSCXML } from "./import.ts";
 * const m = fromSCXML(`<scxml xmlns="http://www.w3.org/2005/07/scxml" initial="off">
 *   <state id="off"><transition event="flip" target="on"/></state>
 *   <state id="on"><transition event="flip" target="off"/></state>
 * </scxml>`);
 * const light = m.start();
 * light.send("flip");
 * // light.configuration is ["on"]
 * ```
 */
export function fromSCXML(xml: string, options: ScxmlOptions = {}): ScxmlMachine {
  return buildMachine(parseXml(xml, options.source), options, xml);
}

export { buildMachine as fromElement, type ScxmlOptions } from "./builder.ts";
export { ScxmlMachine } from "./machine.ts";
export { toScxmlEvent } from "./event.ts";
export { expressionProblem, ScxmlError };
export type { MachineLike };
