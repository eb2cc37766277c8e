/**
 * Mutations of valid YAML documents for the property suites of plugin manifests and
 * `statecraft.yaml` (issue #14): values of the wrong type, unknown keys, `PROTO_NAMES` keys,
 * `${VAR}` oddities, huge strings and deep nesting (on the parsed value), then anchors and
 * aliases (reuse, bombs, cycles, unknown anchors), junk and truncation (on the text).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Document, parse } from "yaml";
import type { DocumentError, DocumentProblem } from "../../lib/config/problems.ts";
import { outcome, PROTO_NAMES } from "./_property.ts";

type Json = unknown;

const oddValueArb: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1e308, "", "x", [], {}, ["a", "a"], { a: 1 }),
  fc.constantFrom(
    "${HOME}",
    "${UNSET_VARIABLE}",
    "${UNSET:-fallback}",
    "${",
    "${}",
    "${1BAD}",
    "$${literal}",
    "${__proto__}",
    "${constructor:-x}",
    "${A}${B:-}${",
  ),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => "x".repeat(n)),
  fc.integer({ min: 1, max: 400 }).map((n) => {
    let v: Json = "deep";
    for (let i = 0; i < n; i++) v = i % 2 ? { k: v } : [v];
    return v;
  }),
);

const keyArb = fc.oneof(
  fc.constantFrom(...PROTO_NAMES),
  fc.constantFrom("unknown", "nmae", "permisions", "x-y", "", " "),
  fc.string({ maxLength: 6 }),
);

/** A change of the parsed value at a random place. */
export const valueMutationArb = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: oddValueArb }),
  fc.record({ kind: fc.constant("add" as const), at: fc.nat(), key: keyArb, value: oddValueArb }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
);
type ValueMutation = typeof valueMutationArb extends fc.Arbitrary<infer T> ? T : never;

/** A change of the text. */
export const textMutationArb = fc.oneof(
  fc.record({ kind: fc.constant("reuse" as const), uses: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant("bomb" as const), levels: fc.integer({ min: 2, max: 9 }) }),
  fc.record({ kind: fc.constant("cycle" as const) }),
  fc.record({ kind: fc.constant("unknown-alias" as const) }),
  fc.record({
    kind: fc.constant("junk" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    text: fc.oneof(
      fc.string({ maxLength: 10 }),
      fc.constantFrom(":", "- ", "&a", "*a", "{", "[", "\t", "? ", "!!binary", "%YAML 1.2\n---\n"),
    ),
  }),
  fc.record({
    kind: fc.constant("truncate" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
);
type TextMutation = typeof textMutationArb extends fc.Arbitrary<infer T> ? T : never;

/** Every container in `root` (objects and arrays), in a fixed order. */
function containers(root: Json): Json[] {
  const out: Json[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null) continue;
    out.push(v);
    for (const c of Object.values(v)) stack.push(c);
  }
  return out;
}

function setOwn(obj: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Applies value mutations to a copy of `value`. */
export function mutateValue(value: Json, mutations: ValueMutation[]): Json {
  const root = { doc: structuredClone(value) } as Record<string, Json>;
  for (const m of mutations) {
    const all = containers(root);
    const target = all[m.at % all.length] as Record<string, Json> | Json[];
    const keys = Object.keys(target);
    if (m.kind === "add") {
      if (Array.isArray(target)) target.push(m.value);
      else setOwn(target, m.key, m.value);
    } else if (keys.length > 0) {
      const key = keys[m.at % keys.length];
      if (m.kind === "set") setOwn(target as Record<string, Json>, key, m.value);
      else if (Array.isArray(target)) target.splice(Number(key), 1);
      else delete (target as Record<string, Json>)[key];
    }
  }
  return root.doc;
}

/** YAML text of a value (null when it cannot be written, as a document too deep for yaml). */
export function toYaml(value: Json): string | null {
  try {
    return new Document(value).toString({ lineWidth: 0 });
  } catch {
    return null;
  }
}

/** Applies a text mutation. */
export function mutateText(text: string, m: TextMutation): string {
  switch (m.kind) {
    case "reuse":
      return `${text}\nx-anchor: &shared v\nx-uses: [${
        Array(m.uses).fill("*shared").join(", ")
      }]\n`;
    case "bomb": {
      const lines = ["x-bomb:", "  l0: &l0 [a, a, a, a, a, a, a, a, a, a]"];
      for (let i = 1; i <= m.levels; i++) {
        lines.push(`  l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(", ")}]`);
      }
      return `${text}\n${lines.join("\n")}\n`;
    }
    case "cycle":
      return `${text}\nx-cycle: &c { self: *c }\n`;
    case "unknown-alias":
      return `${text}\nx-alias: *nowhere\n`;
    case "junk": {
      const at = Math.floor(m.at * text.length);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case "truncate":
      return text.slice(0, Math.floor(m.at * text.length));
  }
}

/** Reads a seed file's value. */
function seedValue(text: string): Json {
  return parse(text);
}

/** The text of a seed after value and text mutations (seeds whose value yaml cannot write are skipped). */
export function mutatedYamlArb(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc.tuple(
    fc.nat({ max: seeds.length - 1 }),
    fc.array(valueMutationArb, { maxLength: 3 }),
    fc.array(textMutationArb, { maxLength: 2 }),
  ).map(([seed, values, texts]) => {
    const yaml = toYaml(mutateValue(seedValue(seeds[seed]), values));
    return yaml === null ? null : texts.reduce(mutateText, yaml);
  }).filter((text): text is string => text !== null);
}

/**
 * Checks one outcome of a YAML reader: a value (handed to `valid`), or an error of `type` with
 * problems, each at a line and column unless `unplaced` allows it; within 2 s.
 */
export async function checkYamlOutcome<T>(
  what: string,
  read: () => T,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => DocumentError,
  valid: (value: T) => void,
  unplaced: (problem: DocumentProblem) => boolean,
): Promise<void> {
  const started = performance.now();
  const result = await outcome(what, read);
  assert.ok(performance.now() - started < 2_000, "bounded time");
  if ("ok" in result) return valid(result.ok);
  const e = result.error;
  assert.ok(e instanceof type, `not a ${type.name}: ${e.name}: ${e.message}`);
  assert.ok(e.problems.length > 0, "an error without problems");
  for (const p of e.problems) {
    if (unplaced(p)) continue;
    assert.ok(
      p.line !== undefined && p.line >= 1 && p.col !== undefined && p.col >= 1,
      `no line:col: ${p.message}`,
    );
  }
}
