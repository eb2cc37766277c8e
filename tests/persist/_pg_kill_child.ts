// Child of pg_kill_test.ts: runs the kill scenario over a Unix socket URL (argv[0]) in a process
// allowed exactly that socket. The parent kills and restarts the server on request: the child
// writes "KILL" or "START" on stdout and waits for "OK" on stdin; it ends with "REPORT <json>".
// Any uncaught error ends this process with a non-zero status, which fails the parent's test.
import { killScenario } from "./_pg_kill_scenario.ts";

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
let buffered = "";
async function readLine(): Promise<string> {
  for (;;) {
    const nl = buffered.indexOf("\n");
    if (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      return line;
    }
    const { value, done } = await lines.read();
    if (done) throw new Error("parent closed stdin");
    buffered += value;
  }
}

async function ask(what: string): Promise<void> {
  console.log(what);
  const answer = await readLine();
  if (answer !== "OK") throw new Error(`parent answered ${answer} to ${what}`);
}

const report = await killScenario(Deno.args[0], {
  kill: () => ask("KILL"),
  start: () => ask("START"),
});
console.log(`REPORT ${JSON.stringify(report)}`);
lines.releaseLock();
Deno.exit(0);
