/**
 * The W3C SCXML conformance runner: every `test*.scxml` document of the ECMAScript data model
 * folder of `@scion-scxml/test-framework` (read from Deno's npm cache, never copied here) is
 * loaded with `fromSCXML` and run until it reaches a top-level final state or times out. A
 * test passes when it ends in the state `pass` (test301: when the document is rejected).
 *
 * Prints one line per failure, then `N passed, N failed`. `--json` prints the result object.
 *
 * @module
 */
import { fromSCXML } from "../../lib/scxml/mod.ts";
// Imported so that Deno installs the package; its files are then read from the npm cache.
import _pkg from "npm:@scion-scxml/test-framework@2.0.16/package.json" with { type: "json" };

/** One test's outcome. */
export interface TestResult {
  id: string;
  passed: boolean;
  reason: string;
}

/** Where the test documents are. */
export function testFolder(): string {
  const url = import.meta.resolve("npm:@scion-scxml/test-framework@2.0.16/package.json");
  void _pkg;
  return new URL("./test/w3c-ecma/", url).pathname;
}

/** The test documents: `testNNN.txml.scxml` (sub-documents `testNNNsubN.scxml` excluded). */
export function testFiles(folder = testFolder()): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(folder)) {
    if (/^test\d+[\w-]*\.txml\.scxml$/.test(e.name)) out.push(e.name);
  }
  return out.sort((a, b) => parseInt(a.slice(4)) - parseInt(b.slice(4)));
}

const TIMEOUT_MS = 6000;
/** W3C manual tests: test178 (duplicate param keys in _event.raw), 230 (autoforwarded event
 * fields), 250 (onexit of a cancelled child), 307 (late binding log), 415 (halts at once). */
export const MANUAL = new Set(["test178", "test230", "test250", "test307", "test415"]);

/** What a person reading the log of each manual test looks for. */
const MANUAL_CHECKS: Record<string, (logs: string[], entered: string[]) => boolean> = {
  // Both values of the duplicated key are in the event.
  test178: (logs) => logs.some((l) => l.includes("Var1=2") && l.includes("Var1=3")),
  // The autoforwarded event has the same fields in parent and child (14 lines, two halves).
  test230: (logs) => {
    const fields = logs.filter((l) => / is : /.test(l));
    const half = fields.length / 2;
    return fields.length === 14 &&
      fields.slice(0, half).every((l, i) => l === fields[half + i]);
  },
  // The cancelled child ran its onexit handlers and did not reach its final state.
  test250: (logs) =>
    logs.includes("Exiting sub01") && logs.includes("Exiting sub0") &&
    !logs.some((l) => l.startsWith("entering final state")),
  // Reading an unbound late-binding variable and a missing property behave the same.
  test307: (logs) => !logs.some((l) => l.startsWith("error in state")),
  // The machine halts in its initial final state without processing event1.
  test415: (_logs, entered) => entered.length === 1 && entered[0] === "final",
};

/** Runs one test document. */
export async function runTest(folder: string, file: string): Promise<TestResult> {
  const id = file.replace(/\.txml\.scxml$/, "");
  const path = folder + file;
  const text = await Deno.readTextFile(path);
  let machine;
  try {
    machine = fromSCXML(text, { baseUrl: new URL(`file://${path}`), source: file });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (id === "test301") return { id, passed: true, reason: "rejected" };
    return { id, passed: false, reason: `load: ${msg}` };
  }
  if (id === "test301") return { id, passed: false, reason: "the document was not rejected" };
  let expected: string[] = ["pass"];
  try {
    const json = JSON.parse(await Deno.readTextFile(path.replace(/\.scxml$/, ".json")));
    expected = json.initialConfiguration ?? ["pass"];
  } catch {
    // No .json: HTTP tests and tests without an expected configuration end in "pass".
  }
  // Manual tests (no pass state; a person reads the log): they pass here when they halt in
  // their final state "final" without entering "fail"; tests/scxml/ checks their logs.
  if (MANUAL.has(id)) expected = ["final"];
  const entered: string[] = [];
  const logs: string[] = [];
  return await new Promise<TestResult>((resolve) => {
    let settled = false;
    let inst: ReturnType<typeof machine.start> | undefined;
    const finish = (r: TestResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        inst?.stop();
      } catch { /* already done */ }
      resolve(r);
    };
    const timer = setTimeout(() => {
      finish({
        id,
        passed: false,
        reason: `timeout in ${JSON.stringify(inst?.configuration ?? [])}${
          logs.length ? ` log: ${logs.slice(-3).join(" | ")}` : ""
        }`,
      });
    }, TIMEOUT_MS);
    const check = () => {
      if (inst === undefined || inst.status === "active") return;
      const finals = entered.filter((s) => expected.includes(s));
      const ok = expected.every((s) => finals.includes(s)) && !entered.includes("fail");
      const manual = MANUAL_CHECKS[id];
      if (ok && manual !== undefined && !manual(logs, entered)) {
        finish({ id, passed: false, reason: `manual check failed; log: ${logs.join(" | ")}` });
        return;
      }
      finish({
        id,
        passed: ok,
        reason: ok
          ? ""
          : `ended after entering ${JSON.stringify(entered.slice(-4))}${
            logs.length ? ` log: ${logs.slice(-3).join(" | ")}` : ""
          }`,
      });
    };
    try {
      inst = machine.start({
        listener: (r) => {
          if (r.kind === "enter") entered.push(r.state);
          if (r.kind === "error") logs.push(`error: ${r.error}`);
          if (r.kind === "macrostep") queueMicrotask(check);
        },
        log: (_id, values) => logs.push(values.map(String).join(" ")),
      });
      check();
    } catch (e) {
      finish({ id, passed: false, reason: `start: ${e instanceof Error ? e.message : e}` });
    }
  });
}

/** Runs every test, a few at a time. */
export async function runAll(filter?: (id: string) => boolean): Promise<TestResult[]> {
  const folder = testFolder();
  const files = testFiles(folder).filter((f) => filter === undefined || filter(f.split(".")[0]));
  const results: TestResult[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      results[i] = await runTest(folder, files[i]);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return results;
}

if (import.meta.main) {
  const only = Deno.args.filter((a) => !a.startsWith("--"));
  const results = await runAll(only.length > 0 ? (id) => only.includes(id) : undefined);
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify(results));
  } else {
    for (const r of results) if (!r.passed) console.log(`FAIL ${r.id}: ${r.reason}`);
    const passed = results.filter((r) => r.passed).length;
    console.log(`${passed} passed, ${results.length - passed} failed`);
  }
  Deno.exit(0);
}
