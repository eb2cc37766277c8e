/**
 * What a line leaves behind that fails later (issue #14): a timer's callback that throws, a
 * promise rejected with no one waiting, a watcher that throws, an invoked function that fails.
 * Each is reported as one line naming an earlier line, the session goes on, and once the
 * session lets go the global listeners are gone. In process here; with stdin piped and on a
 * terminal in `later_errors_cli_test.ts`.
 */
import assert from "node:assert/strict";
import { defineMachine } from "../../core.ts";
import { waitFor } from "../_wait.ts";
import { memorySession } from "./_memory_session.ts";

/** A fetcher whose invoked function fails after the line that started it has ended. */
const fetcher = defineMachine({
  id: "fetcher",
  initial: "idle",
  states: {
    idle: { on: { GO: "loading" } },
    loading: {
      invoke: {
        src: async () => {
          await new Promise((resolve) => setTimeout(resolve, 0));
          throw new Error("the invoked function failed");
        },
        onError: "failed",
      },
    },
    failed: {},
  },
});

const open = (debug = false) => memorySession([fetcher], { debug });

const LATER = "error: later, from an earlier line: ";

Deno.test("a timer that throws after its line: one line, the session goes on", async () => {
  await using t = await open();
  assert.equal(await t.session.execute('setTimeout(() => { throw new Error("x") }, 0); 1'), "ok");
  await waitFor("the report", () => t.errors.length > 0);
  assert.deepEqual(t.errors, [`${LATER}uncaught Error: x`]);
  assert.equal(await t.session.execute("1 + 1"), "ok");
  assert.equal(t.lines.at(-1), "2");
  assert.equal(t.session.failures, 1);
});

Deno.test("an unhandled rejection: one line, the session goes on", async () => {
  await using t = await open();
  // As a line's value the rejection is awaited (the line fails now); left alone it fails later.
  assert.equal(await t.session.execute('Promise.reject(new Error("y"))'), "failed");
  assert.deepEqual(t.errors, ["error: y"]);
  assert.equal(await t.session.execute('void Promise.reject(new Error("y"))'), "ok");
  await waitFor("the report", () => t.errors.length > 1);
  assert.equal(t.errors[1], `${LATER}unhandled rejection Error: y`);
  assert.equal(await t.session.execute('setTimeout(() => { throw "plain" }, 0); 2'), "ok");
  await waitFor("the report", () => t.errors.length > 2);
  assert.equal(t.errors[2], `${LATER}uncaught "plain"`);
  assert.equal(await t.session.execute("ls"), "ok");
});

Deno.test("a watcher that throws and an invoked function that fails end nothing", async () => {
  await using t = await open();
  await t.session.execute("spawn fetcher f");
  await t.session.execute('runtime.watch(() => { throw new Error("w") }); 0');
  assert.equal(await t.session.execute("send f GO"), "ok");
  await waitFor("the invocation's failure", async () => {
    const info = await t.session.runtime.get("f");
    return info?.configuration.includes("failed");
  });
  assert.equal(await t.session.execute("state f"), "ok");
  assert.match(t.lines.join("\n"), /^f \(fetcher\) active/m);
  // A multi-line message stays one line.
  await t.session.execute('setTimeout(() => { throw new Error("a\\nb") }, 0); 3');
  await waitFor("the report", () => t.errors.some((e) => e.includes("a b")));
  assert.ok(t.errors.every((e) => !e.includes("\n")), t.errors.join("\n"));
});

Deno.test("the stack only when debugging; the listeners go when released", async () => {
  {
    await using t = await open(true);
    await t.session.execute('setTimeout(() => { throw new Error("deep") }, 0); 1');
    await waitFor("the report", () => t.errors.length > 1);
    assert.equal(t.errors[0], `${LATER}uncaught Error: deep`);
    assert.match(t.errors[1], /^\s+at /);
    t.release();
  }
  // Released: an error event is no longer prevented (a real one would end the process).
  const event = new ErrorEvent("error", { cancelable: true, error: new Error("probe") });
  assert.equal(globalThis.dispatchEvent(event), true);
});
