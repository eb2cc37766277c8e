/**
 * SCXML import and export: `fromSCXML` reads a W3C SCXML document (ECMAScript data model)
 * into a Statecraft machine; `toSCXML` writes a machine as SCXML, and `exportSCXML` also
 * lists what SCXML cannot express (TypeScript functions).
 *
 * @example
 * ```ts
 * import { fromSCXML, toSCXML } from "./mod.ts";
 * const m = fromSCXML(`<scxml xmlns="http://www.w3.org/2005/07/scxml" initial="a">
 *   <state id="a"><transition event="go" target="b"/></state><final id="b"/>
 * </scxml>`);
 * const i = m.start();
 * i.send("go");
 * // i.status === "done"; toSCXML(m) gives the document back
 * ```
 *
 * @module
 */
export { fromSCXML, ScxmlMachine, type ScxmlOptions } from "./import.ts";
export { exportSCXML, type ScxmlExport, toSCXML } from "./export.ts";
export { ScxmlError } from "./parse.ts";
// The engine's types these signatures use (owned by `core.ts`; repeated so that this entry
// point's documentation is whole).
export type * from "../core/types.ts";
export type { Machine } from "../core/machine.ts";
export type { DefinitionProblem } from "../core/errors.ts";
