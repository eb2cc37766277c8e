import assert from "node:assert/strict";
import { noStackTrace, runCli } from "./_run_cli.ts";

const DOOR = "tests/fixtures/cli_door.ts";
const LIGHT = "tests/fixtures/cli_timers.ts";

Deno.test("run: --events prints one line per event and the final state", async () => {
  const r = await runCli("run", DOOR, "--events", "OPEN,CLOSE,LOCK,OPEN,UNLOCK");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "start: closed",
      "OPEN: closed -> open",
      "CLOSE: open -> closed",
      "LOCK: closed -> locked",
      "OPEN: locked (no transition)",
      "UNLOCK: locked -> closed",
      "status: active",
      "configuration: closed",
      `context: {"opened":1,"lockedBy":null}`,
      "",
    ].join("\n"),
  );
  assert.equal(r.stderr, "");
});

Deno.test("run: reaching a final state prints done and the output", async () => {
  const r = await runCli("run", DOOR, "--events", "BREAK");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^BREAK: closed -> broken \(done\)$/m);
  assert.match(
    r.stdout,
    /^status: done\nconfiguration: broken\ncontext: \{"opened":0,"lockedBy":null\}\n/m,
  );
  assert.match(r.stdout, /^output: \{"reason":"broken"\}$/m);
});

Deno.test("run: an event the machine rejects ends with exit code 1 and says why", async () => {
  const r = await runCli("run", DOOR, "--events", "BREAK,OPEN");
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: --events item 2: instance "door-\d+" is done: event "OPEN" was not processed$/m,
  );
  assert.match(r.stdout, /^status: done$/m);
  assert.ok(noStackTrace(r.stderr));
});

Deno.test("run: an action that throws is a warning (error.execution), not a failure", async () => {
  const r = await runCli("run", DOOR, "--events", "OPEN,JAM,CLOSE");
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^warning: error while processing "JAM": an action: hinge stuck$/m);
  assert.match(r.stdout, /^CLOSE: open -> closed$/m);
});

Deno.test("run: --events-file with names, objects with payloads and waits", async () => {
  const r = await runCli(
    "run",
    DOOR,
    "--events-file",
    "tests/fixtures/cli_events.jsonl",
    "--virtual-time",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "start: closed",
      "OPEN: closed -> open",
      "CLOSE: open -> closed",
      "wait 1s",
      "LOCK: closed -> locked",
      "status: active",
      "configuration: locked",
      // The payload of {"type": "LOCK", "by": "tester"} reached the action.
      `context: {"opened":1,"lockedBy":"tester"}`,
      "",
    ].join("\n"),
  );
});

Deno.test("run: a malformed events file line is an error naming file and line", async () => {
  const r = await runCli("run", DOOR, "--events-file", "tests/fixtures/cli_events_bad.jsonl");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: tests\/fixtures\/cli_events_bad\.jsonl:3: not valid JSON/);
  assert.equal(r.stdout, "", "nothing runs before the whole file is read");
  assert.ok(noStackTrace(r.stderr));
});

Deno.test("run: --virtual-time fires timers until the machine is done", async () => {
  const r = await runCli("run", LIGHT, "--virtual-time");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "start: green",
      "after.1s.green: green -> yellow",
      "after.500.yellow: yellow -> red",
      "after.2s.red: red -> green",
      "after.1s.green: green -> yellow",
      "after.500.yellow: yellow -> red",
      "after.2s.red: red -> off (done)",
      "status: done",
      "configuration: off",
      `context: {"cycles":2}`,
      "",
    ].join("\n"),
  );
});

Deno.test("run: --for bounds virtual time after the events; wait: tokens advance it", async () => {
  const r = await runCli("run", LIGHT, "--virtual-time", "--events", "wait:1200ms", "--for", "3s");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "start: green",
      "wait 1.2s",
      "after.1s.green: green -> yellow",
      // 1.5s: red; 3.5s: green again (within 1.2s + 3s); 4.5s would be yellow: not reached.
      "after.500.yellow: yellow -> red",
      "after.2s.red: red -> green",
      "status: active",
      "configuration: green",
      `context: {"cycles":1}`,
      "",
    ].join("\n"),
  );
});

Deno.test("run: without --virtual-time and --for nothing waits for timers", async () => {
  const r = await runCli("run", LIGHT, "--events", "wait:1ms");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^start: green\nwait 1ms\nstatus: active\nconfiguration: green\n/);
});

Deno.test("run: a script with several machines needs --machine", async () => {
  const file = "tests/fixtures/cli_two_machines.ts";
  const ambiguous = await runCli("run", file, "--events", "FLIP");
  assert.equal(ambiguous.code, 1);
  assert.equal(
    ambiguous.stderr,
    `error: ${file} exports 2 machines ("toggle", "ticker"): choose one with --machine <id>\n`,
  );
  const picked = await runCli("run", file, "--machine", "ticker", "--events", "TICK");
  assert.equal(picked.code, 0, picked.stderr);
  assert.match(picked.stdout, /^TICK: idle -> done \(done\)$/m);
  const unknown = await runCli("run", file, "--machine", "nope");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /has no machine "nope"; it exports "toggle", "ticker"/);
});

Deno.test("run: a script with definition errors does not start, and says where", async () => {
  const r = await runCli("run", "tests/fixtures/cli_bad_definition.ts", "--events", "START");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: tests\/fixtures\/cli_bad_definition\.ts did not load:$/m);
  assert.match(
    r.stderr,
    /^ {2}tests\/fixtures\/cli_bad_definition\.ts:10:9 error: unknown target/m,
  );
  assert.equal(r.stdout, "");
  assert.ok(noStackTrace(r.stderr));
});

Deno.test("run: option mistakes are one-line errors with exit code 1", async () => {
  for (
    const [args, message] of [
      [["--for", "soon"], /^error: --for: "soon" is not a duration/],
      [["--events", "OPEN,,CLOSE"], /^error: --events item 2 is empty/],
      [["--events", "wait:later"], /^error: --events item 1: "wait:later" is not a wait/],
      [["--events", "A", "--events-file", "x.jsonl"], /cannot be used with option/],
      [["--events-file", "tests/fixtures/cli_nothing.jsonl"], /^error: events file not found/],
    ] as const
  ) {
    const r = await runCli("run", DOOR, ...args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.ok(noStackTrace(r.stderr));
  }
  const missing = await runCli("run", "tests/fixtures/cli_missing.ts");
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, "error: tests/fixtures/cli_missing.ts: file not found\n");
});
