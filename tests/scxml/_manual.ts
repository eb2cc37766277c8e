/** Runs a W3C test document from the npm package and collects its log lines. */
import { VirtualClock } from "../../lib/core/clock.ts";
import { fromSCXML } from "../../lib/scxml/mod.ts";
import { testFolder } from "../conformance/run.ts";

export async function runLogged(
  id: string,
): Promise<{ logs: string[]; status: string; entered: string[] }> {
  const folder = testFolder();
  const path = `${folder}${id}.txml.scxml`;
  const machine = fromSCXML(await Deno.readTextFile(path), { baseUrl: new URL(`file://${path}`) });
  const logs: string[] = [];
  const entered: string[] = [];
  const clock = new VirtualClock();
  const inst = machine.start({
    clock,
    log: (_id, values) => logs.push(values.map(String).join(" ")),
    listener: (r) => {
      if (r.kind === "enter") entered.push(r.state);
    },
  });
  // Virtual time: these documents halt in no time; their only timers are the `timeout` sends
  // of their failure path, seconds away. Each round lets the work in promises settle (a
  // deliberate turn of the event loop), then fires the next timer: a document that does not
  // halt takes its failure path, as in real time, at once.
  for (let round = 0; round < 100 && inst.status === "active"; round++) {
    await new Promise((r) => setTimeout(r, 0));
    const due = clock.nextDue();
    if (inst.status !== "active" || due === undefined) break;
    clock.advance(due - clock.now());
  }
  const status = inst.status;
  inst.stop();
  return { logs, status, entered };
}
