// The client kill scenario, shared by pg_kill_test.ts (TCP, in the test process) and
// _pg_kill_child.ts (Unix socket, in a child process with exactly that socket allowed).
import assert from "node:assert/strict";
import { BackendUnavailableError } from "../../lib/persist/backend.ts";
import { openPostgresBackend } from "../../lib/persist/backend_postgres.ts";

/** What the scenario needs of the server. */
export interface ServerControl {
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** What happened, for the test's report. */
export interface KillReport {
  beforeKill: number;
  ambiguous: number;
  unavailable: number;
  slowestRejectMs: number;
  afterRestart: number;
}

/** Short bounds so the test is quick: give up on an unreachable server after 2 s. */
export const RETRY_MS = 2000;
const CONNECT_TIMEOUT_MS = 1000;
/** Every call settles within this long while the server is down. */
export const BOUND_MS = RETRY_MS + CONNECT_TIMEOUT_MS + 3000;

function withParams(url: string): string {
  return `${url}&retryMs=${RETRY_MS}&connectTimeoutMs=${CONNECT_TIMEOUT_MS}&pool=8`;
}

/**
 * Loads the server with atomic writes, kills it mid-load, checks that every pending and new
 * call rejects with BackendUnavailableError within BOUND_MS (ambiguous where a reply was lost),
 * restarts it and checks that the same backend object works again (writes, reads, onChange).
 */
export async function killScenario(url: string, server: ServerControl): Promise<KillReport> {
  const backend = await openPostgresBackend(withParams(url));
  const report: KillReport = {
    beforeKill: 0,
    ambiguous: 0,
    unavailable: 0,
    slowestRejectMs: 0,
    afterRestart: 0,
  };
  let changes = 0;
  const stopListening = backend.onChange(() => changes++);
  try {
    let killed = false;
    let stop = false;
    const other: unknown[] = [];
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const sentAfterKill = killed;
        const t0 = Date.now();
        try {
          const r = await backend.atomic([{ key: ["w", w, i], version: null }], [
            { type: "set", key: ["w", w, i], value: { w, i, pad: "x".repeat(200) } },
          ]);
          assert.ok(r.ok);
          if (!killed) report.beforeKill++;
        } catch (e) {
          const ms = Date.now() - t0;
          report.slowestRejectMs = Math.max(report.slowestRejectMs, ms);
          if (!(e instanceof BackendUnavailableError)) {
            other.push(e);
            return;
          }
          if (e.ambiguous) report.ambiguous++;
          else report.unavailable++;
          // A call made after the kill finds no server. (It could still be reported ambiguous,
          // conservatively, if it went out on a connection whose end was not yet seen.)
          if (sentAfterKill) return;
        }
      }
    };
    const writers = Array.from({ length: 24 }, (_, w) => writer(w));
    // Let the load run, then kill the server under it.
    const deadline = Date.now() + 20_000;
    while (report.beforeKill < 300 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(report.beforeKill >= 300, `load did not get going: ${report.beforeKill} writes`);
    await server.kill();
    killed = true;
    // Reads and listings during the outage reject too, within the bound.
    const t0 = Date.now();
    await assert.rejects(backend.get(["w", 0, 0]), BackendUnavailableError);
    await assert.rejects(
      (async () => {
        for await (const _ of backend.list({ prefix: ["w"] })) { /* nothing */ }
      })(),
      BackendUnavailableError,
    );
    await assert.rejects(backend.getMany([["w", 0, 0]]), BackendUnavailableError);
    report.slowestRejectMs = Math.max(report.slowestRejectMs, (Date.now() - t0) / 3);
    await Promise.all(writers);
    stop = true;
    assert.deepEqual(other, [], "only BackendUnavailableError while the server is down");
    assert.ok(report.unavailable > 0, "new calls were rejected as unavailable");
    assert.ok(report.slowestRejectMs <= BOUND_MS, `a call took ${report.slowestRejectMs} ms`);

    // The same object works again once the server is back.
    await server.start();
    const seen = changes;
    for (let i = 0; i < 20; i++) {
      const r = await backend.atomic([], [{ type: "set", key: ["after", i], value: i }]);
      assert.ok(r.ok);
      report.afterRestart++;
    }
    assert.equal((await backend.get(["after", 19])).value, 19);
    let listed = 0;
    for await (const _ of backend.list({ prefix: ["after"] })) listed++;
    assert.equal(listed, 20);
    // The LISTEN connection comes back on its own and reports writes again.
    const until = Date.now() + 15_000;
    while (changes === seen && Date.now() < until) {
      await backend.atomic([], [{ type: "set", key: ["ping"], value: Date.now() }]);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(changes > seen, "onChange fires again after the restart");
    return report;
  } finally {
    stopListening();
    await backend.close();
  }
}
