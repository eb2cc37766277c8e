/**
 * SCXML speed (issue #13): the same chart three ways, side by side in one run: written with
 * `defineMachine` (the baseline of each group), read from an SCXML document by `fromSCXML`,
 * and the same document run by SCION (`@scion-scxml/scxml`, the reference JavaScript SCXML
 * interpreter). `deno bench`'s summary gives each as a ratio to `defineMachine`. Each bench
 * sends a fixed batch of 1,000 events to an instance started outside the timed function;
 * events/s = 1,000 x iter/s.
 *
 * Before anything is timed, all three are driven through the batch and must end in the same
 * configuration (and, with a data model, the same counter); a divergence throws at load.
 *
 * Run: `deno bench --allow-env tests/bench/scxml_bench.ts` (or `deno task bench`); SCION, a
 * Node package, reads environment variables at load.
 *
 * @module
 */
import scion from "@scion-scxml/scxml";
import { defineMachine, type MachineConfig, type MachineInstance } from "../../mod.ts";
import { fromSCXML } from "../../lib/scxml/mod.ts";
import { BATCH, batch, type Ev, traffic, TRAFFIC_CYCLE } from "./_machines.ts";

const EVENTS = `${BATCH.toLocaleString("en")} events`;

/** A chart written both ways: a config for `defineMachine` and the same chart as SCXML. */
interface Chart {
  name: string;
  config: MachineConfig;
  scxml: string;
  cycle: readonly string[];
  /** What the three must agree on after the batch, besides the configuration. */
  counter?: string;
}

const SCXML_NS = `xmlns="http://www.w3.org/2005/07/scxml" version="1.0"`;

/** The counter's transition in TypeScript: guarded on `n`, and counting. */
function counterStep(target: string): MachineConfig["on"] {
  return {
    STEP: {
      target,
      guard: ({ context }) => (context.n as number) >= 0,
      actions: ({ context }) => {
        context.n = (context.n as number) + 1;
      },
    },
  };
}

const charts: Chart[] = [
  {
    // No data model: every event takes one transition (the engine bench's traffic light).
    name: traffic.name,
    config: traffic.config() as MachineConfig,
    scxml: `<scxml ${SCXML_NS} name="light" initial="green">
  <state id="green"><transition event="TIMER" target="yellow"/></state>
  <state id="yellow"><transition event="TIMER" target="red"/></state>
  <state id="red" initial="walk">
    <transition event="TIMER" target="green"/>
    <state id="walk"><transition event="PED_TIMER" target="wait"/></state>
    <state id="wait"><transition event="PED_TIMER" target="stop"/></state>
    <state id="stop"/>
  </state>
</scxml>`,
    cycle: TRAFFIC_CYCLE,
  },
  {
    // A data model: every event is guarded on a variable and updates it.
    name: "counter (data model: cond + assign)",
    config: {
      id: "counter",
      initial: "a",
      context: { n: 0 },
      states: { a: { on: counterStep("b") }, b: { on: counterStep("a") } },
    },
    scxml: `<scxml ${SCXML_NS} name="counter" initial="a" datamodel="ecmascript">
  <datamodel><data id="n" expr="0"/></datamodel>
  <state id="a">
    <transition event="STEP" cond="n &gt;= 0" target="b"><assign location="n" expr="n + 1"/></transition>
  </state>
  <state id="b">
    <transition event="STEP" cond="n &gt;= 0" target="a"><assign location="n" expr="n + 1"/></transition>
  </state>
</scxml>`,
    cycle: ["STEP"],
    counter: "n",
  },
];

// SCION's API is callback-based and untyped.
// deno-lint-ignore no-explicit-any
type ScionChart = any;

async function scionChart(name: string, doc: string): Promise<ScionChart> {
  // deno-lint-ignore no-explicit-any
  const s = scion as any;
  const model = await new Promise((resolve, reject) =>
    s.documentStringToModel(
      `${name}.scxml`,
      doc,
      (e: unknown, m: unknown) => e ? reject(e) : resolve(m),
    )
  );
  const fnModel = await new Promise((resolve, reject) =>
    // deno-lint-ignore no-explicit-any
    (model as any).prepare((e: unknown, f: unknown) => e ? reject(e) : resolve(f))
  );
  const chart = new s.core.Statechart(fnModel);
  chart.start();
  return chart;
}

function leaves(i: MachineInstance): string {
  return [...i.atomicConfiguration].sort().join(",");
}

for (const chart of charts) {
  const events: Ev[] = batch(chart.cycle);
  const scionEvents = events.map((e) => ({ name: e.type }));
  const ts = defineMachine(chart.config).start();
  const sx = fromSCXML(chart.scxml).start();
  const sc = await scionChart(chart.config.id ?? "chart", chart.scxml);
  // The same run first: the timed instances are the ones checked here.
  for (let i = 0; i < events.length; i++) {
    ts.send(events[i]);
    sx.send(events[i]);
    sc.gen(scionEvents[i]);
  }
  const want = leaves(ts);
  const got = { fromSCXML: leaves(sx), SCION: [...sc.getConfiguration()].sort().join(",") };
  if (got.fromSCXML !== want || got.SCION !== want) {
    throw new Error(`${chart.name}: configurations differ: ${JSON.stringify({ want, ...got })}`);
  }
  if (chart.counter !== undefined) {
    const n = ts.context[chart.counter];
    const scionN = sc.getSnapshot()[3][chart.counter];
    if (sx.context[chart.counter] !== n || scionN !== n) {
      throw new Error(
        `${chart.name}: counters differ: ${n}, ${sx.context[chart.counter]}, ${scionN}`,
      );
    }
  }
  const group = `${chart.name}, ${EVENTS}`;
  Deno.bench({
    name: "defineMachine",
    group,
    baseline: true,
    fn() {
      for (let i = 0; i < events.length; i++) ts.send(events[i]);
    },
  });
  Deno.bench({
    name: "fromSCXML",
    group,
    fn() {
      for (let i = 0; i < events.length; i++) sx.send(events[i]);
    },
  });
  Deno.bench({
    name: "SCION",
    group,
    fn() {
      for (let i = 0; i < scionEvents.length; i++) sc.gen(scionEvents[i]);
    },
  });
}
