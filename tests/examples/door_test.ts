import assert from "node:assert/strict";
import { EventError, VirtualClock } from "../../mod.ts";
import doorDefault, { door, SIREN_MS } from "../../examples/door.ts";

function start(code?: string) {
  const clock = new VirtualClock();
  const d = door.start({ clock, context: code === undefined ? {} : { code } });
  return { clock, d };
}

Deno.test("door: the default export is the named machine", () => {
  assert.equal(doorDefault, door);
  assert.deepEqual(door.warnings, []);
});

Deno.test("door: opens and closes", () => {
  const { d } = start();
  assert.deepEqual(d.configuration, ["secure", "secure.closed"]);
  d.send("OPEN");
  assert.deepEqual(d.atomicConfiguration, ["secure.opened"]);
  d.send("CLOSE");
  assert.deepEqual(d.atomicConfiguration, ["secure.closed"]);
});

Deno.test("door: locks only with the right code", () => {
  const { d } = start("1234");
  assert.equal(d.can({ type: "LOCK", code: "0000" }), false);
  assert.equal(d.can({ type: "LOCK", code: "1234" }), true);
  d.send({ type: "LOCK", code: "0000" });
  assert.deepEqual(d.atomicConfiguration, ["secure.closed"]);
  d.send({ type: "LOCK", code: "1234" });
  assert.deepEqual(d.configuration, ["secure", "secure.locked", "secure.locked.latched"]);
});

Deno.test("door: an open door cannot be locked", () => {
  const { d } = start();
  d.send("OPEN");
  assert.equal(d.can({ type: "LOCK", code: "0000" }), false);
  d.send({ type: "LOCK", code: "0000" });
  assert.deepEqual(d.atomicConfiguration, ["secure.opened"]);
});

Deno.test("door: unlocks with the right code; wrong codes are counted and forgotten after", () => {
  const { d } = start("2468");
  d.send({ type: "LOCK", code: "2468" });
  d.send("OPEN");
  assert.deepEqual(d.atomicConfiguration, ["secure.locked.latched"], "a locked door stays shut");
  d.send({ type: "UNLOCK", code: "1111" });
  assert.equal(d.context.failedAttempts, 1);
  assert.ok(d.matches("secure.locked"));
  d.send({ type: "UNLOCK", code: "2468" });
  assert.deepEqual(d.atomicConfiguration, ["secure.closed"]);
  d.send({ type: "LOCK", code: "2468" });
  assert.equal(d.context.failedAttempts, 0, "locking again starts a fresh count");
});

Deno.test("door: the third wrong code in a row sets off the alarm", () => {
  const { d } = start();
  d.send({ type: "LOCK", code: "0000" });
  d.send({ type: "UNLOCK", code: "1111" });
  d.send({ type: "UNLOCK", code: "2222" });
  assert.ok(d.matches("secure.locked"));
  d.send({ type: "UNLOCK", code: "3333" });
  assert.deepEqual(d.configuration, ["alarm", "alarm.sounding"]);
  assert.equal(d.context.failedAttempts, 3);
  assert.equal(d.context.alarms, 1);
});

Deno.test("door: the siren silences itself but the alarm stays until RESET", () => {
  const { clock, d } = start();
  d.send({ type: "LOCK", code: "0000" });
  d.send("FORCE");
  clock.advance(SIREN_MS - 1);
  assert.deepEqual(d.atomicConfiguration, ["alarm.sounding"]);
  clock.advance(1);
  assert.deepEqual(d.atomicConfiguration, ["alarm.silenced"]);
  d.send("OPEN");
  d.send({ type: "UNLOCK", code: "0000" });
  assert.deepEqual(d.atomicConfiguration, ["alarm.silenced"]);
  assert.deepEqual(d.acceptedEvents({ ignoreGuards: true }), ["RESET"]);
});

Deno.test("door: RESET with a wrong code keeps the alarm on", () => {
  const { d } = start("9876");
  d.send({ type: "LOCK", code: "9876" });
  d.send("FORCE");
  d.send({ type: "RESET", code: "0000" });
  assert.deepEqual(d.atomicConfiguration, ["alarm.sounding"]);
  assert.equal(d.can({ type: "RESET", code: "0000" }), false);
});

Deno.test("door: RESET returns to the exact previous substate, deadbolt included", () => {
  const { d } = start();
  d.send({ type: "LOCK", code: "0000" });
  d.send("DEADBOLT");
  assert.deepEqual(d.atomicConfiguration, ["secure.locked.deadbolted"]);
  d.send("FORCE");
  assert.deepEqual(d.configuration, ["alarm", "alarm.sounding"]);
  d.send({ type: "RESET", code: "0000" });
  assert.deepEqual(d.configuration, ["secure", "secure.locked", "secure.locked.deadbolted"]);
});

Deno.test("door: after a brute-force alarm the door comes back locked, count reset", () => {
  const { d } = start();
  d.send({ type: "LOCK", code: "0000" });
  for (const code of ["1111", "2222", "3333"]) d.send({ type: "UNLOCK", code });
  assert.ok(d.matches("alarm"));
  d.send("SILENCE");
  assert.deepEqual(d.atomicConfiguration, ["alarm.silenced"]);
  d.send({ type: "RESET", code: "0000" });
  assert.deepEqual(d.atomicConfiguration, ["secure.locked.latched"]);
  assert.equal(d.context.failedAttempts, 0);
  d.send({ type: "UNLOCK", code: "0000" });
  assert.deepEqual(d.atomicConfiguration, ["secure.closed"]);
});

Deno.test("door: history survives a snapshot and restore", () => {
  const { clock, d } = start();
  d.send({ type: "LOCK", code: "0000" });
  d.send("DEADBOLT");
  d.send("FORCE");
  const snap = JSON.parse(JSON.stringify(d.snapshot()));
  const again = door.restore(snap, { clock: new VirtualClock(clock.now()) });
  again.send({ type: "RESET", code: "0000" });
  assert.deepEqual(again.atomicConfiguration, ["secure.locked.deadbolted"]);
  assert.equal(again.context.alarms, 1);
});

Deno.test("door: a malformed code is rejected by the schema before the machine sees it", () => {
  const { d } = start();
  assert.throws(
    () => d.send({ type: "LOCK" } as never),
    (e: unknown) => e instanceof EventError && /"LOCK"/.test(e.message) && /code/.test(e.message),
  );
  assert.throws(
    () => d.send({ type: "LOCK", code: 1234 } as never),
    EventError,
  );
  assert.throws(
    () => d.send({ type: "LOCK", code: "12ab" }),
    (e: unknown) => e instanceof EventError && /four digits/.test(e.message),
  );
  assert.deepEqual(d.atomicConfiguration, ["secure.closed"]);
  assert.equal(d.stats.events, 0, "rejected events are not processed");

  d.send({ type: "LOCK", code: "0000" });
  assert.throws(() => d.send("UNLOCK"), EventError);
  assert.equal(d.context.failedAttempts, 0, "a rejected UNLOCK is not a wrong attempt");
});
