/**
 * Hostile SCXML documents (issue #14): the W3C conformance documents and the microwave,
 * mutated (elements dropped or duplicated, attributes dropped, ids and event names from
 * `PROTO_NAMES`, bad expressions, deep nesting, junk text, truncation) and random small
 * documents. `fromSCXML` either builds a machine, which then starts, takes a few events and
 * keeps a legal configuration, or throws an `ScxmlError` with a line and column; in bounded
 * time, with `Object.prototype` untouched. A subset (with endless scripts added) runs through
 * the CLI's Worker, whose time limit must stop it with the element's place.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fromSCXML, ScxmlError } from "../../lib/scxml/mod.ts";
import { compiledOf } from "../../lib/core/compile.ts";
import { VirtualClock } from "../../lib/core/clock.ts";
import { testFiles, testFolder } from "../conformance/run.ts";
import { outcome, params, PROTO_NAMES, runs } from "./_property.ts";
import { runCli } from "../cli/_run_cli.ts";

const NS = `xmlns="http://www.w3.org/2005/07/scxml"`;
const folder = testFolder();

/** The seeds: conformance documents (no Basic HTTP: it opens a listener) and the microwave. */
const SEEDS: { name: string; text: string; base: string }[] = [
  {
    name: "microwave.scxml",
    text: Deno.readTextFileSync(new URL("../../examples/microwave.scxml", import.meta.url)),
    base: new URL("../../examples/", import.meta.url).href,
  },
  ...testFiles(folder)
    .map((f) => ({
      name: f,
      text: Deno.readTextFileSync(`${folder}${f}`),
      base: `file://${folder}`,
    }))
    .filter((s) => !/basichttp|BasicHTTP/.test(s.text)),
];

const BAD_EXPRESSIONS = [
  "(",
  "undefinedThing.x",
  "1/0",
  "}{",
  "__proto__",
  "constructor.constructor",
  "_event.data.__proto__",
  "'x'.repeat(1e10)",
  "new Array(-1)",
  "In('__proto__')",
  "JSON.parse('{')",
];

/** One mutation of a document's text (positions are fractions of the text or match counts). */
const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant("drop-element" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("duplicate-element" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("drop-attribute" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("proto-name" as const),
    at: fc.nat(),
    name: fc.constantFrom(...PROTO_NAMES),
  }),
  fc.record({
    kind: fc.constant("bad-expression" as const),
    at: fc.nat(),
    expr: fc.constantFrom(...BAD_EXPRESSIONS),
  }),
  fc.record({
    kind: fc.constant("deep" as const),
    at: fc.nat(),
    depth: fc.integer({ min: 1, max: 1_200 }),
  }),
  fc.record({
    kind: fc.constant("junk" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    text: fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom("<", "&", "]]>", "<!--", "\u0000", "<state>"),
    ),
  }),
  fc.record({
    kind: fc.constant("truncate" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
);
type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

/** The `n`th match (mod the count) of `re` in `text`, or undefined. */
function nth(text: string, re: RegExp, n: number): RegExpExecArray | undefined {
  const all = [...text.matchAll(re)];
  return all.length === 0 ? undefined : all[n % all.length] as RegExpExecArray;
}

function splice(text: string, at: number, remove: number, insert: string): string {
  return text.slice(0, at) + insert + text.slice(at + remove);
}

function mutate(text: string, m: Mutation): string {
  switch (m.kind) {
    case "drop-element": {
      const hit = nth(text, /<[a-z]+\b[^<>]*\/>/g, m.at);
      return hit ? splice(text, hit.index, hit[0].length, "") : text;
    }
    case "duplicate-element": {
      const hit = nth(text, /<[a-z]+\b[^<>]*\/>/g, m.at);
      return hit ? splice(text, hit.index, 0, hit[0]) : text;
    }
    case "drop-attribute": {
      const hit = nth(text, /\s[a-z]+="[^"]*"/g, m.at);
      return hit ? splice(text, hit.index, hit[0].length, "") : text;
    }
    case "proto-name": {
      const hit = nth(text, /\b(id|event|target|initial|name|location|sendid|item)="[^"]*"/g, m.at);
      return hit ? splice(text, hit.index, hit[0].length, `${hit[1]}="${m.name}"`) : text;
    }
    case "bad-expression": {
      const hit = nth(text, /\b(cond|expr|array|eventexpr|delayexpr|targetexpr)="[^"]*"/g, m.at);
      const value = m.expr.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
      return hit ? splice(text, hit.index, hit[0].length, `${hit[1]}="${value}"`) : text;
    }
    case "deep": {
      const hit = nth(text, /<state\b[^<>]*?(\/?)>/g, m.at);
      if (!hit) return text;
      const open = Array.from({ length: m.depth }, (_, i) => `<state id="deep${i}">`).join("");
      const close = "</state>".repeat(m.depth);
      if (hit[1] === "/") return splice(text, hit.index, hit[0].length, open + hit[0] + close);
      const end = text.indexOf("</state>", hit.index);
      if (end < 0) return text;
      return text.slice(0, hit.index) + open + text.slice(hit.index, end + 8) + close +
        text.slice(end + 8);
    }
    case "junk":
      return splice(text, Math.floor(m.at * text.length), 0, m.text);
    case "truncate":
      return text.slice(0, Math.floor(m.at * text.length));
  }
}

/** Whether a configuration is legal: parents active, one child per compound, all regions. */
function assertLegal(machine: ReturnType<typeof fromSCXML>, configuration: readonly string[]) {
  const m = compiledOf(machine);
  const active = new Set(configuration.map((id) => {
    const s = m.byId.get(id);
    assert.ok(s !== undefined, `configuration names an unknown state "${id}"`);
    return s;
  }));
  for (const s of active) {
    if (s.parent !== null && s.parent !== m.root) {
      assert.ok(active.has(s.parent), `"${s.id}" is active without its parent`);
    }
    const kids = s.children.filter((c) => active.has(c)).length;
    if (s.kind === "compound") assert.equal(kids, 1, `"${s.id}" has ${kids} active children`);
    if (s.kind === "parallel") {
      assert.equal(kids, s.children.length, `parallel "${s.id}" is missing a region`);
    }
  }
}

/** How many documents loaded and how many were refused (printed with STATECRAFT_FUZZ_RUNS). */
const tally = { loaded: 0, refused: 0 };
globalThis.addEventListener("unload", () => {
  if (runs(0) > 0) console.log(`scxml property: ${tally.loaded} loaded, ${tally.refused} refused`);
});

/** Builds, starts, sends a few events, checks the configuration; or a located ScxmlError. */
async function check(text: string, base: string, events: string[]): Promise<void> {
  const result = await outcome(
    "fromSCXML",
    () => fromSCXML(text, { baseUrl: base, source: "doc.scxml" }),
  );
  if ("error" in result) {
    tally.refused++;
    assert.ok(
      result.error instanceof ScxmlError,
      `not an ScxmlError: ${result.error.name}: ${result.error.message}`,
    );
    assert.ok(result.error.line !== undefined && result.error.line >= 1, result.error.message);
    assert.match(result.error.message, /^doc\.scxml:\d+(:\d+)? /);
    return;
  }
  tally.loaded++;
  const machine = result.ok;
  const clock = new VirtualClock();
  const run = await outcome("start and send", () => {
    const i = machine.start({ clock });
    try {
      for (const e of events) {
        if (i.status !== "active") break;
        i.send(e);
        clock.advance(10);
      }
      assertLegal(machine, i.configuration);
    } finally {
      i.stop?.();
    }
  });
  void run; // a refusal of an event (an EventError) is a clear error, checked by outcome
}

const eventArb = fc.array(
  fc.oneof(
    fc.constantFrom("event1", "event2", "foo", "timeout", "door.close", "turn.on"),
    fc.constantFrom(...PROTO_NAMES),
  ),
  { maxLength: 4 },
);

Deno.test("property: mutated conformance and example documents load or fail at a place", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: SEEDS.length - 1 }),
      fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
      eventArb,
      async (seed, mutations, events) => {
        const { text, base } = SEEDS[seed];
        await check(mutations.reduce(mutate, text), base, events);
      },
    ),
    params(120, 3_000),
  );
});

/** Small random documents from the SCXML vocabulary, ids from `PROTO_NAMES` among others. */
const idArb = fc.oneof(fc.constantFrom("a", "b", "c", "s.1", ""), fc.constantFrom(...PROTO_NAMES));
const tagArb = fc.constantFrom(
  "state",
  "parallel",
  "final",
  "history",
  "initial",
  "transition",
  "data",
  "datamodel",
  "onentry",
  "script",
  "if",
  "send",
  "param",
  ...PROTO_NAMES.filter((n) => /^[a-z]/i.test(n)),
);
const attrsArb = fc.array(
  fc.tuple(
    fc.constantFrom(
      "id",
      "event",
      "target",
      "cond",
      "expr",
      "initial",
      "type",
      "location",
      "name",
      ...PROTO_NAMES.filter((n) => /^[a-z_]/i.test(n)),
    ),
    idArb,
  ),
  { maxLength: 3 },
);
type Node = { tag: string; attrs: [string, string][]; kids: Node[] };
const docArb: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.record({
    tag: tagArb,
    attrs: attrsArb,
    kids: fc.oneof(
      { maxDepth: 4, depthIdentifier: "doc" },
      fc.constant([] as Node[]),
      fc.array(tie("node"), { maxLength: 3 }),
    ),
  }),
})).node;

function render(n: Node): string {
  const seen = new Set<string>();
  const attrs = n.attrs.filter(([k]) => !seen.has(k) && seen.add(k))
    .map(([k, v]) => ` ${k}="${v}"`).join("");
  return `<${n.tag}${attrs}>${n.kids.map(render).join("")}</${n.tag}>`;
}

Deno.test("property: random documents load or fail at a place", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(docArb, { minLength: 1, maxLength: 3 }),
      eventArb,
      async (states, events) => {
        await check(`<scxml ${NS}>${states.map(render).join("")}</scxml>`, "file:///", events);
      },
    ),
    params(200, 2_000),
  );
});

Deno.test("property: the CLI's Worker runs mutated documents or stops them at their place", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft_scxml_fuzz_" });
  try {
    const loopArb = fc.constantFrom(
      "",
      `<onentry><script>while(true){}</script></onentry>`,
      `<transition event="go" cond="(()=>{while(1){}})()"/>`,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: SEEDS.length - 1 }),
        fc.array(mutationArb, { maxLength: 2 }),
        loopArb,
        async (seed, mutations, loop) => {
          let text = mutations.reduce(mutate, SEEDS[seed].text);
          if (loop !== "") {
            text = text.replace(
              /<state\b([^<>]*?)(\/?)>/,
              (_, attrs, closed) => `<state${attrs}>${loop}${closed ? "</state>" : ""}`,
            );
          }
          const file = `${dir}/doc.scxml`;
          await Deno.writeTextFile(file, text);
          const r = await runCli(
            "run",
            file,
            "--events",
            "go,event1",
            "--virtual-time",
            "--for",
            "1s",
            "--time-limit",
            "400ms",
          );
          assert.ok(r.code === 0 || r.code === 1, `exit code ${r.code}`);
          assert.doesNotMatch(
            r.stderr,
            /this is a bug in statecraft|Maximum call stack|Uncaught/,
            r.stderr,
          );
          if (/ran for more than/.test(r.stderr)) {
            assert.match(
              r.stderr,
              /doc\.scxml(:\d+:\d+ <[^>]+>|: the document) ran for more than 400ms/,
            );
          }
        },
      ),
      { ...params(6, 20_000), numRuns: Math.max(6, Math.floor(runs(6) / 10)) },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
