// The PostgreSQL client under a killed server: a load of atomic writes in flight, SIGKILL of the
// postmaster mid-load; every pending and new call rejects with BackendUnavailableError within a
// bound (ambiguous where a reply was lost), nothing escapes as an uncaught error, and after a
// restart the same backend object works again. Over TCP in this process, and over the Unix
// socket in a child process (Deno allows a Unix socket by exact path: the child is given it).
import assert from "node:assert/strict";
import { pgAvailable, pgServer } from "../_pg.ts";
import { killScenario } from "./_pg_kill_scenario.ts";

const pg = pgAvailable();
const reason = pg.ok ? "" : ` (ignored: ${pg.reason})`;
if (!pg.ok) console.warn(`PostgreSQL kill tests ignored: ${pg.reason}`);
// A server given by STATECRAFT_TEST_PG cannot be killed by us.
const external = Deno.env.get("STATECRAFT_TEST_PG") !== undefined;

Deno.test({
  name: `postgres backend survives a SIGKILLed server over TCP${reason}`,
  ignore: !pg.ok || external,
  fn: async () => {
    const server = await pgServer();
    const report = await killScenario(server.url(), server);
    console.log(`TCP: ${JSON.stringify(report)}`);
    assert.ok(report.afterRestart === 20);
  },
});

Deno.test({
  name: `postgres backend survives a SIGKILLed server over a Unix socket${reason}`,
  ignore: !pg.ok || external,
  fn: async () => {
    const server = await pgServer();
    const url = server.socketUrl();
    const params = new URLSearchParams(url.slice(url.indexOf("?") + 1));
    const socket = `${params.get("host")}/.s.PGSQL.${params.get("port")}`;
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--allow-read",
        `--allow-write=${socket}`,
        "--allow-env",
        "--allow-sys=homedir",
        `--allow-net=unix:${socket}`,
        new URL("./_pg_kill_child.ts", import.meta.url).pathname,
        url,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    const stderr = new Response(child.stderr).text();
    let report = "";
    let buffered = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === "KILL") await server.kill();
        else if (line === "START") await server.start();
        else if (line.startsWith("REPORT ")) report = line.slice(7);
        else continue;
        if (line === "KILL" || line === "START") {
          await writer.write(new TextEncoder().encode("OK\n"));
        }
      }
    }
    await writer.close().catch(() => {});
    const status = await child.status;
    const err = await stderr;
    assert.equal(status.code, 0, `child failed:\n${err}`);
    assert.ok(report, `no report from the child:\n${err}`);
    console.log(`Unix socket: ${report}`);
  },
});
