/** Runs a W3C test document from the npm package and collects its log lines. */
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
  const inst = machine.start({
    log: (_id, values) => logs.push(values.map(String).join(" ")),
    listener: (r) => {
      if (r.kind === "enter") entered.push(r.state);
    },
  });
  for (let i = 0; i < 100 && inst.status === "active"; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const status = inst.status;
  inst.stop();
  return { logs, status, entered };
}
