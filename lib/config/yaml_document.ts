/**
 * A YAML document checked against a zod schema: `${VAR}` substitution, then validation, with
 * every problem reported at once at the line and column it was written at (syntax errors, zod
 * issues in plain words, unknown keys with "did you mean", rules across fields). Plugin
 * manifests (`lib/plugins/manifest.ts`) and `statecraft.yaml` (`lib/runtime/config.ts`) are
 * read through it.
 *
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, type Pair, parseDocument, type YAMLMap } from "yaml";
import type { z } from "zod";
import { denoEnv, type EnvLookup, substituteEnv } from "./env_substitution.ts";
import { DocumentError, type DocumentProblem, sortProblems } from "./problems.ts";
import { suggestKey } from "./suggest_key.ts";
import { withoutYamlDebugEnv } from "./yaml_quiet.ts";
import { MAX_YAML_DEPTH, shapeProblems } from "./yaml_shape.ts";
import { zodIssueMessage } from "./zod_messages.ts";

/** One step of a path into a YAML document: a key or an index. */
export type Segment = string | number;

/** Where a path was written: `key` is the key's position, `value` (default) the value's. */
export type Locate = (path: readonly Segment[], at?: "key" | "value") => {
  line: number;
  col: number;
};

/** What a YAML document is checked against. */
export interface YamlSpec<T> {
  /** The schema (its output, with defaults filled, is the document's value). */
  schema: z.ZodType<T>;
  /** Known keys at a path, for "did you mean" hints (default: none). */
  knownKeys?: (path: readonly Segment[]) => string[];
  /** Rules across fields, checked on the substituted value whatever its shape. */
  crossCheck?: (
    raw: unknown,
    add: (path: Segment[], message: string, at?: "key" | "value") => void,
  ) => void;
  /** The message for an empty document. */
  empty: string;
  /** What the document is, for the error's first line (default "document"). */
  what?: string;
}

/** A checked document: its value when there was no problem, and a way back to positions. */
export interface ParsedDocument<T> {
  /** The validated value (defaults filled), absent when there is any problem. */
  value?: T;
  /** Every problem, in the order found ({@linkcode sortProblems} puts them in file order). */
  problems: DocumentProblem[];
  /** The line and column a path was written at (the nearest existing ancestor's otherwise). */
  locate: Locate;
}

/**
 * Parses `text` and checks it against `spec`, collecting every problem. A value whose
 * `${VAR}` substitution failed is left as written and not validated further.
 *
 * @param env looks up `${VAR}` references (default: the process environment, read only when
 *   a value refers to a variable)
 */
export function parseYamlDocument<T>(
  text: string,
  spec: YamlSpec<T>,
  env: EnvLookup = denoEnv,
): ParsedDocument<T> {
  const lineCounter = new LineCounter();
  const doc = withoutYamlDebugEnv(() =>
    parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false })
  );
  const pos = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };

  // Each map's pairs by key, made when a path first goes through it (many problems in one
  // large map stay linear).
  const pairsOf = new WeakMap<YAMLMap, Map<string, Pair>>();
  const pairOf = (map: YAMLMap, key: string): Pair | undefined => {
    let index = pairsOf.get(map);
    if (index === undefined) {
      index = new Map();
      for (const p of map.items) {
        if (!isScalar(p.key)) continue;
        const k = String(p.key.value);
        if (!index.has(k)) index.set(k, p as Pair);
      }
      pairsOf.set(map, index);
    }
    return index.get(key);
  };

  const locate: Locate = (path, at = "value") => {
    let node: unknown = doc.contents;
    let best = isNodeWithRange(node) ? node.range[0] : 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = pairOf(node, String(seg));
        if (pair === undefined) break;
        const keyStart = isNodeWithRange(pair.key) ? pair.key.range[0] : best;
        if (last && at === "key") return pos(keyStart);
        if (isNodeWithRange(pair.value)) {
          best = pair.value.range[0];
          node = pair.value;
        } else {
          best = keyStart;
          break;
        }
      } else if (isSeq(node) && /^\d+$/.test(String(seg))) {
        const item: unknown = node.items[Number(seg)];
        if (!isNodeWithRange(item)) break;
        best = item.range[0];
        node = item;
      } else break;
    }
    return pos(best);
  };

  const problems: DocumentProblem[] = [];
  const add = (path: readonly Segment[], message: string, at: "key" | "value" = "value") => {
    problems.push({ path: path.map(String), message, ...locate(path, at) });
  };

  // One syntax error per line: the ones after the first on a line are mostly its echoes.
  for (const error of doc.errors) {
    const at = pos(error.pos[0]);
    if (problems.some((p) => p.line === at.line)) continue;
    problems.push({ path: [], message: yamlMessage(error.message), ...at });
  }
  if (problems.length > 0) return { problems, locate };
  for (const p of shapeProblems(doc, pos)) problems.push(p);
  if (problems.length > 0) return { problems, locate };
  if (doc.contents === null) {
    problems.push({ path: [], message: spec.empty });
    return { problems, locate };
  }

  const unsubstituted = new Set<string>();
  substituteEnv(doc, env, (node, path, message) => {
    problems.push({ path, message, ...pos(node.range?.[0] ?? 0) });
    unsubstituted.add(path.join("\0"));
  });
  const envFailed = (path: readonly Segment[]) => unsubstituted.has(path.join("\0"));

  // Aliases were checked above (no cycle, a bounded expansion): yaml's own alias count, which
  // refuses an anchor used more than 100 times, is not needed.
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: -1 });
  } catch (error) {
    problems.push({ path: [], message: `YAML: ${(error as Error).message}`, ...pos(0) });
    return { problems, locate };
  }
  const result = spec.schema.safeParse(raw, { error: zodIssueMessage });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.filter((s): s is Segment => typeof s !== "symbol");
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          const hint = suggestKey(key, spec.knownKeys?.(path) ?? []);
          add(
            [...path, key],
            `unknown key${hint === undefined ? "" : `; did you mean "${hint}"?`}`,
            "key",
          );
        }
      } else if (issue.code === "invalid_key") {
        add(path, issue.issues[0]?.message ?? issue.message, "key");
      } else if (!envFailed(path)) {
        add(path, issue.message);
      }
    }
  }
  spec.crossCheck?.(raw, (path, message, at) => {
    if (!envFailed(path)) add(path, message, at);
  });
  if (problems.length > 0 || !result.success) return { problems, locate };
  return { value: result.data, problems, locate };
}

/**
 * Parses and checks a YAML document; throws a {@linkcode DocumentError} (`invalid <what>`)
 * listing every problem as `file:line:col path: message`.
 *
 * @param file the file name used in messages
 */
export function parseYamlWith<T>(
  text: string,
  file: string,
  spec: YamlSpec<T>,
  env?: EnvLookup,
): T {
  const parsed = parseYamlDocument(text, spec, env);
  if (parsed.value === undefined) {
    throw new DocumentError(file, sortProblems(parsed.problems), spec.what);
  }
  return parsed.value;
}

function isNodeWithRange(node: unknown): node is { range: [number, number, number] } {
  return typeof node === "object" && node !== null &&
    Array.isArray((node as { range?: unknown }).range);
}

function yamlMessage(message: string): string {
  // yaml's composer recurses: it reports a document too deep for the stack as a syntax error.
  if (/Maximum call stack size exceeded/.test(message)) {
    return `YAML: nested more than ${MAX_YAML_DEPTH} levels deep`;
  }
  // yaml's messages end with " at line N, column M" when pretty; ours carry the position.
  return `YAML: ${message.replace(/ at line \d+, column \d+:?[\s\S]*$/, "")}`;
}
