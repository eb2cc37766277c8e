/**
 * Checks of a parsed YAML document's shape before it becomes a value: how deep it nests and
 * what its aliases do. An alias without an anchor, an alias inside the node it names (a
 * cycle: the value would contain itself) and aliases that multiply the document (the
 * "billion laughs" alias bomb) are refused at the alias, with its line and column, before any
 * value is built; so is nesting deeper than `MAX_YAML_DEPTH`, counting what aliases bring in.
 * The key `__proto__` is refused (a schema would drop it silently, or it would set the
 * value's prototype). Keys written twice in one map are found here too, in linear time (the `yaml` package's own
 * check compares every key with every other; documents are parsed with it off).
 *
 * @module
 */
import { isAlias, isMap, isScalar, type Node as YamlNode, type parseDocument } from "yaml";
import type { DocumentProblem } from "./problems.ts";
import { walkYaml } from "./yaml_walk.ts";

/** How deep a document may nest (maps and sequences, aliases expanded). */
export const MAX_YAML_DEPTH = 128;

/** How many values aliases may add to a document, all expansions counted. */
export const MAX_ALIAS_EXPANSION = 100_000;

/**
 * The problems of `doc`'s shape: every key written twice, and the first problem of depth or
 * aliases (which ends the check). `pos` turns an offset into a line and column.
 */
export function shapeProblems(
  doc: ReturnType<typeof parseDocument>,
  pos: (offset: number) => { line: number; col: number },
): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  /** The latest node defining each anchor, as the walk reaches it (aliases look backwards). */
  const anchors = new Map<string, YamlNode>();
  /** Nodes entered and not yet left (an alias to one of them is a cycle). */
  const open = new Set<YamlNode>();
  /** Of anchored nodes: the values in them (aliases expanded), how deep they go below. */
  const size = new Map<YamlNode, number>();
  const height = new Map<YamlNode, number>();
  /** Of nodes entered: the running count and deepest level when they were entered. */
  const started = new Map<YamlNode, { total: number; depth: number; deepest: number }>();
  let total = 0;
  let added = 0;
  let deepest = 0;
  const at = (node: YamlNode, path: readonly (string | number)[], message: string) => {
    problems.push({ path: path.map(String), message, ...pos(node.range?.[0] ?? 0) });
    return false;
  };
  walkYaml(doc, {
    enter(node, path, depth) {
      if (depth > MAX_YAML_DEPTH) {
        return at(node, path, `YAML: nested more than ${MAX_YAML_DEPTH} levels deep`);
      }
      if (typeof node.anchor === "string") anchors.set(node.anchor, node);
      if (isMap(node)) {
        const keys = new Set<string>();
        for (const pair of node.items) {
          const key = pair.key;
          if (!isScalar(key) || key.value === "<<") continue;
          if (key.value === "__proto__") {
            problems.push({
              path: [...path.map(String), "__proto__"],
              message: 'YAML: "__proto__" cannot be a key (the value read from it would ' +
                "lose it or change its prototype)",
              ...pos(key.range?.[0] ?? 0),
            });
          }
          const k = `${typeof key.value}:${String(key.value)}`;
          if (keys.has(k)) {
            problems.push({
              path: [...path.map(String), String(key.value)],
              message: `YAML: the key "${String(key.value)}" is written twice in this map`,
              ...pos(key.range?.[0] ?? 0),
            });
          }
          keys.add(k);
        }
      }
      open.add(node);
      started.set(node, { total, depth, deepest });
      deepest = depth;
      if (!isAlias(node)) {
        total += 1;
        return;
      }
      const name = node.source;
      const source = anchors.get(name);
      if (source === undefined) {
        return at(node, path, `YAML: alias *${name} has no anchor &${name} before it`);
      }
      if (open.has(source)) {
        return at(
          node,
          path,
          `YAML: alias *${name} is inside the value it names (&${name}): ` +
            "the value would contain itself",
        );
      }
      const n = size.get(source) ?? 1;
      total += n;
      added += n;
      if (added > MAX_ALIAS_EXPANSION) {
        return at(
          node,
          path,
          `YAML: aliases expand the document by more than ${MAX_ALIAS_EXPANSION} values ` +
            `(an alias bomb?); this alias (*${name}, ${n} values) crosses the limit`,
        );
      }
      deepest = depth + (height.get(source) ?? 0);
      if (deepest > MAX_YAML_DEPTH) {
        return at(
          node,
          path,
          `YAML: alias *${name} nests the document more than ${MAX_YAML_DEPTH} levels deep`,
        );
      }
    },
    exit(node) {
      open.delete(node);
      const start = started.get(node)!;
      started.delete(node);
      if (typeof node.anchor === "string") {
        size.set(node, total - start.total);
        height.set(node, deepest - start.depth);
      }
      deepest = Math.max(start.deepest, deepest);
    },
  });
  return problems;
}
