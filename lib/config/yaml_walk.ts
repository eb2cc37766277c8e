/**
 * A walk over a parsed YAML document's nodes in document order, without recursion (a document
 * may nest deeper than the stack), with each node's path from the root: map values by their
 * key, sequence items by their index. Map keys are visited too (`at: "key"`), under the path
 * of the value they name.
 *
 * @module
 */
import { isMap, isPair, isScalar, isSeq, type Node as YamlNode, type parseDocument } from "yaml";

/** One step of a path: a key or an index. */
type Segment = string | number;

/** What the walk tells about each node. */
export interface YamlVisitor {
  /**
   * A node is entered: its path, depth (the root is 0) and whether it is a map key. Returning
   * `false` ends the walk.
   */
  enter(
    node: YamlNode,
    path: readonly Segment[],
    depth: number,
    at: "key" | "value",
  ): boolean | void;
  /** Every node under it has been visited. */
  exit?(node: YamlNode): void;
}

type Frame = { node: YamlNode; path: Segment[]; depth: number; at: "key" | "value"; out: boolean };

/** Visits every node of `doc` (aliases are visited, not followed). */
export function walkYaml(doc: ReturnType<typeof parseDocument>, visitor: YamlVisitor): void {
  const root = doc.contents as YamlNode | null;
  if (root === null) return;
  const stack: Frame[] = [{ node: root, path: [], depth: 0, at: "value", out: false }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.out) {
      visitor.exit?.(frame.node);
      continue;
    }
    const { node, path, depth } = frame;
    if (visitor.enter(node, path, depth, frame.at) === false) return;
    frame.out = true;
    stack.push(frame);
    const children: Frame[] = [];
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key as YamlNode | null;
        const seg: Segment = isScalar(key) ? String(key.value) : "?";
        const childPath = [...path, seg];
        if (key !== null && typeof key === "object") {
          children.push({ node: key, path: childPath, depth: depth + 1, at: "key", out: false });
        }
        const value = pair.value as YamlNode | null;
        if (value !== null && typeof value === "object") {
          children.push({
            node: value,
            path: childPath,
            depth: depth + 1,
            at: "value",
            out: false,
          });
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        if (item !== null && typeof item === "object") {
          const n = item as YamlNode;
          children.push({ node: n, path: [...path, i], depth: depth + 1, at: "value", out: false });
        }
      });
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
}
