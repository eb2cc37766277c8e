/**
 * XML text to an element tree that keeps each element's line and column, for SCXML. The
 * tokenizer is `saxes` (a maintained, well-formedness-checking SAX parser with positions and
 * namespaces); this module only builds the tree and turns its errors into `ScxmlError`s.
 *
 * @module
 */
import { SaxesParser } from "saxes";

/** The SCXML namespace. */
export const SCXML_NS = "http://www.w3.org/2005/07/scxml";

/**
 * How deep elements may nest in a document. Every reader of the tree (the builder, the data
 * model's DOM, serialisation) walks it recursively; a deeper document is refused at the
 * element that goes too deep, with its line and column.
 */
export const MAX_ELEMENT_DEPTH = 1_000;

/** An element: local name, namespace, attributes (unprefixed, by local name), children. */
export interface XmlElement {
  kind: "element";
  /** Local name (`state`, `transition`...). */
  name: string;
  /** The qualified name as written (`conf:pass`). */
  qname: string;
  /** Namespace URI ("" when none). */
  ns: string;
  /** Attributes by qualified name as written (an object without a prototype). */
  attrs: Record<string, string>;
  children: XmlNode[];
  line: number;
  column: number;
}

/** Text or CDATA. */
export interface XmlText {
  kind: "text";
  text: string;
}

/** A node of the tree. */
export type XmlNode = XmlElement | XmlText;

/**
 * A problem with an SCXML document: where (line, column) and what.
 *
 * @example
 * ```ts
 * import { ScxmlError } from "./parse.ts";
 * import { fromSCXML } from "./import.ts";
 * try {
 *   fromSCXML(`<scxml xmlns="http://www.w3.org/2005/07/scxml"><state id="a">`);
 * } catch (e) {
 *   if (!(e instanceof ScxmlError)) throw e;
 *   console.log(e.line, e.column, e.detail);
 * }
 * ```
 */
export class ScxmlError extends Error {
  /** 1-based line, when known. */
  readonly line: number | undefined;
  /** 1-based column, when known. */
  readonly column: number | undefined;
  /** The message without its location prefix. */
  readonly detail: string;
  /**
   * Made by the parser and the importer; the message starts with `source:line:column`.
   *
   * @param message what is wrong.
   * @param line 1-based line, when known.
   * @param column 1-based column, when known.
   * @param source the document's name (a file path) for the message; default `scxml`.
   */
  constructor(message: string, line?: number, column?: number, source?: string) {
    const where = line === undefined
      ? (source ?? "")
      : `${source ?? "scxml"}:${line}${column === undefined ? "" : `:${column}`}`;
    super(where === "" ? message : `${where} ${message}`);
    this.name = "ScxmlError";
    this.detail = message;
    this.line = line;
    this.column = column;
  }
}

/**
 * Parses XML text into its root element. Throws `ScxmlError` with the line and column of the
 * first well-formedness error.
 *
 * @example
 * ```ts
 * import { parseXml } from "./parse.ts";
 * const root = parseXml('<scxml xmlns="http://www.w3.org/2005/07/scxml"><state id="a"/></scxml>');
 * // root.name === "scxml"; root.children[0] is the <state> element, line 1
 * ```
 */
export function parseXml(text: string, source?: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let error: ScxmlError | null = null;
  parser.on("error", (e: Error) => {
    if (error !== null) return;
    // saxes messages read "line:column: message".
    const m = /^(\d+):(\d+): (.*)$/s.exec(e.message);
    error = m
      ? new ScxmlError(`malformed XML: ${m[3]}`, Number(m[1]), Number(m[2]), source)
      : new ScxmlError(`malformed XML: ${e.message}`, parser.line, parser.column, source);
  });
  // Where each element starts (its "<"): saxes reports the open tag once it has ended.
  // At "opentagstart" saxes has read one character past the name (a newline, perhaps): the
  // "<name" is the last one on this line or, failing that, the line before.
  const lines = text.split("\n");
  let tagLine = 1, tagColumn = 1;
  parser.on("opentagstart", (tag) => {
    const open = `<${tag.name}`;
    tagLine = parser.line;
    let at = lines[tagLine - 1]?.lastIndexOf(open, Math.max(0, parser.column - open.length));
    if ((at === undefined || at < 0) && tagLine > 1) {
      tagLine--;
      at = lines[tagLine - 1].lastIndexOf(open);
    }
    tagColumn = at !== undefined && at >= 0 ? at + 1 : parser.column;
  });
  parser.on("opentag", (tag) => {
    if (stack.length >= MAX_ELEMENT_DEPTH) {
      error ??= new ScxmlError(
        `<${tag.name}> is nested ${stack.length + 1} elements deep: documents deeper than ` +
          `${MAX_ELEMENT_DEPTH} elements are refused`,
        tagLine,
        tagColumn,
        source,
      );
      throw error; // ends parsing: caught below
    }
    // No prototype: an attribute named `__proto__` or `constructor` stays data.
    const attrs: Record<string, string> = Object.create(null);
    for (const [k, a] of Object.entries(tag.attributes)) {
      attrs[k] = typeof a === "string" ? a : a.value;
    }
    const el: XmlElement = {
      kind: "element",
      name: tag.local ?? tag.name,
      qname: tag.name,
      ns: tag.uri ?? "",
      attrs,
      children: [],
      line: tagLine,
      column: tagColumn,
    };
    if (stack.length > 0) stack[stack.length - 1].children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on("closetag", () => {
    stack.pop();
  });
  const onText = (text: string) => {
    if (stack.length > 0) stack[stack.length - 1].children.push({ kind: "text", text });
  };
  parser.on("text", onText);
  parser.on("cdata", onText);
  try {
    parser.write(text).close();
  } catch (e) {
    if (error === null) {
      error = new ScxmlError(
        `malformed XML: ${e instanceof Error ? e.message : String(e)}`,
        parser.line,
        parser.column,
        source,
      );
    }
  }
  if (error !== null) throw error;
  if (root === null) throw new ScxmlError("malformed XML: no root element", 1, 1, source);
  return root;
}

/** The element children of an element. */
export function elements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => c.kind === "element");
}

/** The concatenated text of an element's direct text children. */
export function textOf(el: XmlElement): string {
  return el.children.map((c) => (c.kind === "text" ? c.text : "")).join("");
}

/** Serialises an element back to XML text (for inline content handed on as a string). */
export function serialize(node: XmlNode): string {
  if (node.kind === "text") return escapeText(node.text);
  const attrs = Object.entries(node.attrs).map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join("");
  if (node.children.length === 0) return `<${node.qname}${attrs}/>`;
  return `<${node.qname}${attrs}>${node.children.map(serialize).join("")}</${node.qname}>`;
}

function escapeText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, "&quot;");
}

/** Serialises an element for use as a document of its own: its namespace is declared. */
export function serializeStandalone(el: XmlElement): string {
  if (el.ns === "" || Object.hasOwn(el.attrs, "xmlns")) return serialize(el);
  return serialize({ ...el, attrs: { xmlns: el.ns, ...el.attrs } });
}

/** A small read-only DOM over an element tree (what the ECMAScript data model exposes). */
export interface DomNode {
  nodeType: number;
  nodeName: string;
  tagName?: string;
  localName?: string;
  namespaceURI?: string;
  childNodes: DomNode[];
  textContent: string;
  getAttribute?(name: string): string | null;
  getElementsByTagName?(name: string): DomNode[];
  toString(): string;
}

/** A DOM document whose root is `el`. */
export function toDom(roots: XmlElement[]): DomNode {
  const wrap = (n: XmlNode): DomNode => {
    if (n.kind === "text") {
      return { nodeType: 3, nodeName: "#text", childNodes: [], textContent: n.text };
    }
    const children = n.children.map(wrap);
    const node: DomNode = {
      nodeType: 1,
      nodeName: n.qname,
      tagName: n.qname,
      localName: n.name,
      namespaceURI: n.ns,
      childNodes: children,
      textContent: children.map((c) => c.textContent).join(""),
      getAttribute: (name) => Object.hasOwn(n.attrs, name) ? n.attrs[name] : null,
      getElementsByTagName: (name) => byTag(children, name),
      toString: () => serializeStandalone(n),
    };
    return node;
  };
  const top = roots.map(wrap);
  return {
    nodeType: 9,
    nodeName: "#document",
    childNodes: top,
    textContent: top.map((c) => c.textContent).join(""),
    getElementsByTagName: (name) => byTag(top, name),
    toString: () => roots.map(serializeStandalone).join(""),
  };
}

function byTag(nodes: DomNode[], name: string): DomNode[] {
  const out: DomNode[] = [];
  const visit = (n: DomNode) => {
    if (n.nodeType !== 1) return;
    if (name === "*" || n.tagName === name || n.localName === name) out.push(n);
    n.childNodes.forEach(visit);
  };
  nodes.forEach(visit);
  return out;
}
