// Schedules on virtual time, one node in memory: definitions and their errors, ticks firing
// once, the overlap and catch-up policies, a time zone across both DST changes, the runtime's
// configuration, the HTTP routes and the REPL command.
import assert from "node:assert/strict";
import { testRuntime, testStore } from "../../lib/testing/harness.ts";
import {
  addSchedule,
  getSchedule,
  parseSchedule,
  pauseSchedule,
  resumeSchedule,
  ScheduleError,
  Scheduler,
  type SchedulerOptions,
} from "../../lib/persist/schedules.ts";
import { StoreError } from "../../lib/persist/types.ts";
import { parseConfig } from "../../lib/runtime/config.ts";
import { createApp } from "../../lib/server/app.ts";
import { scheduleCommand } from "../../lib/repl/schedule_command.ts";
import { beats, counter, iso, job } from "./_machines.ts";

function throwsAt(input: unknown, where: string, pattern: RegExp): void {
  assert.throws(() => parseSchedule(input), (e: unknown) => {
    assert.ok(e instanceof ScheduleError, String(e));
    assert.equal(e.where, where);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("a definition that does not hold names the field at fault", () => {
  const send = { instance: "c1", event: "BEAT" };
  throwsAt({ name: "a", cron: "61 * * * *", send }, "cron", /invalid cron .*minute/);
  throwsAt({ name: "a", cron: "0 0 30 2 *", send }, "cron", /never fires/);
  throwsAt({ name: "a", cron: "* * * * *", timezone: "Mars/Base", send }, "timezone", /IANA/);
  throwsAt({ name: "a", cron: "* * * * *" }, "(root)", /exactly one of create or send/);
  throwsAt({ name: "a b", cron: "* * * * *", send }, "name", /letters/);
  throwsAt(
    { name: "a", cron: "* * * * *", create: { machine: "job", id: "fixed" } },
    "create.id",
    /\{tick\}/,
  );
  throwsAt({ name: "a", cron: "* * * * *", send, overlap: "never" }, "overlap", /skip/);
  const ok = parseSchedule({ name: "a", cron: "@hourly", timezone: "Asia/Kolkata", send });
  assert.deepEqual(ok.send?.event, { type: "BEAT" });
  assert.equal(ok.overlap, "skip");
  assert.equal(ok.catchUp, "last");
});

Deno.test("statecraft.yaml: schedule problems at schedules[i].field with line and column", () => {
  const yaml = [
    "schedules:",
    "  - name: a",
    '    cron: "0 * * * *"',
    "    send: { instance: c1, event: BEAT }",
    "  - name: a",
    '    cron: "0 * * * *"',
    "    create: { machine: job }",
    "  - name: c",
    '    cron: "0 25 * * *"',
    "    create: { machine: job }",
    "    overlp: skip",
  ].join("\n");
  assert.throws(() => parseConfig(yaml, "statecraft.yaml"), (e: unknown) => {
    const m = (e as Error).message;
    assert.match(m, /statecraft\.yaml:9:\d+ schedules\[2\]\.cron: invalid cron .*hour/);
    assert.match(m, /statecraft\.yaml:5:\d+ schedules\[1\]\.name: "a" is declared twice/);
    assert.match(m, /statecraft\.yaml:11:\d+ schedules\[2\]\.overlp: .*overlap/);
    return true;
  });
  const good = parseConfig(yaml.split("\n").slice(0, 4).join("\n"), "statecraft.yaml");
  assert.equal(good.schedules?.[0].cron, "0 * * * *");
});

/** A store on virtual time with a scheduler (re-read only when woken). */
async function setup(options: Partial<SchedulerOptions> = {}, start?: number) {
  const t = await testStore({ machines: [counter, job], start });
  const s = new Scheduler({ store: t.store, clock: t.clock, refreshMs: 0, ...options });
  const add = async (spec: Record<string, unknown>) => {
    await addSchedule(t.store, spec, { now: t.clock.now() });
    s.wake();
    await t.flush();
  };
  /** Instance "c1" and schedule "b" sending it BEAT on `cron`. */
  const beat = async (cron: string, more: Record<string, unknown> = {}) => {
    await t.store.create("counter", "c1");
    await add({ name: "b", cron, send: { instance: "c1", event: "BEAT" }, ...more });
  };
  s.start();
  return {
    t,
    s,
    add,
    beat,
    [Symbol.asyncDispose]: async () => {
      await s.stop();
      await t.close();
    },
  };
}

Deno.test("each tick fires once, on time, with its tick id", async () => {
  await using x = await setup();
  await x.t.store.create("counter", "c1");
  await x.add({ name: "beat", cron: "*/5 * * * *", send: { instance: "c1", event: "BEAT" } });
  await x.t.advance("1h");
  await x.t.advance("30m");
  const ticks = await beats(x.t.store, "c1");
  assert.equal(ticks.length, 18);
  assert.equal(new Set(ticks).size, 18);
  assert.equal(ticks[0], iso(2025, 0, 1, 0, 5));
  assert.equal(ticks[17], iso(2025, 0, 1, 1, 30));
  const journal = await x.t.store.history("c1");
  assert.equal(journal[1].eventId, `sch:beat:${Date.UTC(2025, 0, 1, 0, 5)}`);
  assert.equal(journal[1].by, "schedule:beat");
  const rec = await getSchedule(x.t.store, "beat");
  assert.equal(rec?.fired, 18);
  assert.equal(rec?.next, Date.UTC(2025, 0, 1, 1, 35));
  assert.deepEqual([rec?.pending, rec?.waiting], [[], []]);
});

Deno.test("pause and resume: nothing fires while paused, resuming starts after now", async () => {
  await using x = await setup();
  await x.t.store.create("counter", "c1");
  await x.add({ name: "beat", cron: "0 * * * *", send: { instance: "c1", event: "BEAT" } });
  await x.t.advance("1h");
  await pauseSchedule(x.t.store, "beat", x.t.clock.now());
  await x.t.advance("210m");
  await resumeSchedule(x.t.store, "beat", x.t.clock.now());
  x.s.wake();
  await x.t.advance("1h");
  assert.deepEqual(await beats(x.t.store, "c1"), [iso(2025, 0, 1, 1), iso(2025, 0, 1, 5)]);
});

Deno.test("overlap on create: skip, queue and allow while the last instance is active", async () => {
  for (const overlap of ["skip", "queue", "allow"] as const) {
    await using x = await setup({ retryMs: 60_000 });
    await x.add({ name: "j", cron: "0 * * * *", create: { machine: "job" }, overlap });
    await x.t.advance("3h");
    const ids = async () => (await x.t.store.list({ machine: "job" })).items.map((i) => i.id);
    const first = "j-20250101T010000Z";
    if (overlap === "allow") {
      assert.deepEqual(await ids(), [first, "j-20250101T020000Z", "j-20250101T030000Z"]);
      continue;
    }
    assert.deepEqual(await ids(), [first], overlap);
    const rec = await getSchedule(x.t.store, "j");
    assert.equal(rec?.skipped, overlap === "skip" ? 2 : 0);
    assert.deepEqual(
      rec?.waiting,
      overlap === "queue" ? [Date.UTC(2025, 0, 1, 2), Date.UTC(2025, 0, 1, 3)] : [],
    );
    await x.t.store.send(first, "FINISH");
    await x.t.advance("1m");
    // queue: the 02:00 tick runs now that the first is done; skip: nothing until 04:00.
    assert.deepEqual(
      await ids(),
      overlap === "queue" ? [first, "j-20250101T020000Z"] : [first],
      overlap,
    );
    await x.t.store.send(overlap === "queue" ? "j-20250101T020000Z" : first, "FINISH")
      .catch(() => {});
    await x.t.advance("1h");
    assert.ok(
      (await ids()).includes(overlap === "queue" ? "j-20250101T030000Z" : "j-20250101T040000Z"),
    );
  }
});

Deno.test("overlap on send: a tick whose send is not acknowledged yet", async () => {
  for (const overlap of ["skip", "queue", "allow"] as const) {
    let down = true;
    await using x = await setup({
      retryMs: 60_000,
      send: (id, event, o) => {
        if (down) return Promise.reject(new StoreError("unavailable", "store unreachable"));
        return x.t.store.send(id, event, o);
      },
    });
    await x.beat("*/10 * * * *", { overlap });
    await x.t.advance("30m"); // ticks 00:10, 00:20, 00:30 while the send fails
    const rec = await getSchedule(x.t.store, "b");
    assert.equal(rec?.pending[0], Date.UTC(2025, 0, 1, 0, 10), overlap);
    down = false;
    await x.t.advance("1m");
    const got = await beats(x.t.store, "c1");
    const all = [iso(2025, 0, 1, 0, 10), iso(2025, 0, 1, 0, 20), iso(2025, 0, 1, 0, 30)];
    if (overlap === "skip") assert.deepEqual(got, all.slice(0, 1));
    else assert.deepEqual(got, all, overlap);
    assert.equal((await getSchedule(x.t.store, "b"))?.skipped, overlap === "skip" ? 2 : 0);
  }
});

Deno.test("catch-up after downtime: none, last, all bounded by maxCatchUp", async () => {
  const expected = {
    none: [],
    last: [iso(2025, 0, 1, 5)],
    all: [iso(2025, 0, 1, 3), iso(2025, 0, 1, 4), iso(2025, 0, 1, 5)],
  };
  for (const catchUp of ["none", "last", "all"] as const) {
    await using x = await setup();
    await x.beat("0 * * * *", { catchUp, maxCatchUp: 3 });
    await x.s.stop(); // down from 00:00 to 05:30
    await x.t.advance("330m");
    const again = new Scheduler({ store: x.t.store, clock: x.t.clock, refreshMs: 0 });
    again.start();
    await x.t.flush();
    assert.deepEqual(await beats(x.t.store, "c1"), expected[catchUp], catchUp);
    await x.t.advance("30m"); // 06:00 is on time again
    assert.equal((await beats(x.t.store, "c1")).at(-1), iso(2025, 0, 1, 6));
    const rec = await getSchedule(x.t.store, "b");
    assert.equal(rec?.skipped, 5 - expected[catchUp].length);
    await again.stop();
  }
});

Deno.test("a time zone with DST: 02:30 Europe/Berlin fires once a day across both changes", async () => {
  await using x = await setup({}, Date.UTC(2025, 2, 29));
  await x.beat("30 2 * * *", { timezone: "Europe/Berlin" });
  await x.t.advance("3d");
  // 03-30 has no 02:30 (clocks go 02:00 -> 03:00): it fires at 03:00 CEST.
  assert.deepEqual(await beats(x.t.store, "c1"), [
    iso(2025, 2, 29, 1, 30),
    iso(2025, 2, 30, 1, 0),
    iso(2025, 2, 31, 0, 30),
  ]);
  await x.s.stop();
  await x.t.advance(Date.UTC(2025, 9, 25) - x.t.clock.now());
  // Paused and resumed: from the next tick after now (no catch-up of the months between).
  await pauseSchedule(x.t.store, "b", x.t.clock.now());
  await resumeSchedule(x.t.store, "b", x.t.clock.now());
  const again = new Scheduler({ store: x.t.store, clock: x.t.clock, refreshMs: 0 });
  again.start();
  await x.t.advance("3d");
  await again.stop();
  // 10-26 has 02:30 twice (03:00 CEST -> 02:00 CET): it fires once.
  assert.deepEqual((await beats(x.t.store, "c1")).slice(3), [
    iso(2025, 9, 25, 0, 30),
    iso(2025, 9, 26, 0, 30),
    iso(2025, 9, 27, 1, 30),
  ]);
});

Deno.test("a failing tick is recorded, not retried; the schedule goes on", async () => {
  await using x = await setup();
  await x.add({ name: "b", cron: "0 * * * *", send: { instance: "nobody", event: "BEAT" } });
  await x.t.advance("2h");
  const rec = await getSchedule(x.t.store, "b");
  assert.equal(rec?.failed, 2);
  assert.equal(rec?.last?.outcome, "failed");
  assert.match(rec?.last?.error ?? "", /nobody/);
  assert.deepEqual(rec?.pending, []);
});

Deno.test("runtime: statecraft.yaml schedules, the HTTP routes and the REPL command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-sched-" });
  try {
    await Deno.writeTextFile(
      `${dir}/statecraft.yaml`,
      'schedules:\n  - name: hourly\n    cron: "0 * * * *"\n    create: { machine: job, id: "h-{tick}" }\n    overlap: allow\n',
    );
    await using t = await testRuntime({ machines: [counter, job], projectDir: dir });
    await t.advance("2h");
    const made = (await t.store.list({ machine: "job" })).items.map((i) => i.id);
    assert.deepEqual(made, ["h-20250101T010000Z", "h-20250101T020000Z"]);

    const app = createApp(t.runtime);
    const post = (path: string, body?: unknown) =>
      app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const bad = await post("/schedules", {
      name: "x",
      cron: "* * * * *",
      create: { machine: "nope" },
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).field, "create.machine");
    const badCron = await post("/schedules", {
      name: "x",
      cron: "nope",
      create: { machine: "job" },
    });
    assert.equal((await badCron.json()).field, "cron");
    await t.store.create("counter", "c1");
    const ok = await post("/schedules", {
      name: "beat",
      cron: "*/30 * * * *",
      send: { instance: "c1", event: "BEAT" },
    });
    assert.equal(ok.status, 201);
    assert.equal(
      (await post("/schedules", {
        name: "beat",
        cron: "* * * * *",
        send: { instance: "c1", event: "X" },
      })).status,
      409,
    );
    await t.advance("1h");
    assert.equal((await beats(t.store, "c1")).length, 2);
    assert.equal((await post("/schedules/beat/pause")).status, 200);
    await t.advance("1h");
    assert.equal((await beats(t.store, "c1")).length, 2);
    const listed = await (await app.request("/schedules")).json();
    assert.deepEqual(listed.items.map((s: { name: string }) => s.name), ["beat", "hourly"]);
    assert.equal((await app.request("/schedules/beat", { method: "DELETE" })).status, 204);
    assert.equal((await app.request("/schedules/beat")).status, 404);

    const lines: string[] = [];
    await scheduleCommand(
      t.runtime,
      'add {"name":"r","cron":"15 * * * *","send":{"instance":"c1","event":"BEAT"}}',
      (l) => lines.push(l),
    );
    await scheduleCommand(t.runtime, "ls", (l) => lines.push(l));
    assert.match(lines.join("\n"), /schedule "r" added; next tick 2025-01-01T04:15:00.000Z/);
    assert.match(lines.join("\n"), /r\s+15 \* \* \* \*\s+send BEAT to c1\s+active\s+repl/);
    await assert.rejects(scheduleCommand(t.runtime, "pause nope", () => {}), /no schedule "nope"/);
    await assert.rejects(
      scheduleCommand(
        t.runtime,
        'add {"name":"q","cron":"x","send":{"instance":"c1","event":"B"}}',
        () => {},
      ),
      /schedule add: cron: invalid cron/,
    );
    await t.advance("1h");
    assert.equal((await beats(t.store, "c1")).length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: schedule add, ls, pause, resume, rm on a store file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-sched-cli-" });
  const kv = `${dir}/state.kv`;
  try {
    const { openStore } = await import("../../lib/persist/store.ts");
    await (await openStore({ path: kv, machines: [] })).close();
    const cli = await import("../../lib/cli/schedule.ts");
    const lines: string[] = [];
    const out = { line: (l: string) => lines.push(l) };
    await cli.scheduleAddCommand("n", { kv, cron: "0 2 * * *", create: "job" }, out);
    await assert.rejects(
      cli.scheduleAddCommand("m", { kv, cron: "0 2 * * *", send: "c1" }, out),
      /--send needs --event/,
    );
    await assert.rejects(
      cli.scheduleAddCommand("m", { kv, cron: "0 2 * *", timezone: "Nowhere", create: "job" }, out),
      /schedule add: --timezone: unknown time zone "Nowhere"/,
    );
    await cli.scheduleChangeCommand("pause", "n", { kv }, out);
    await cli.scheduleListCommand({ kv }, out);
    const json: string[] = [];
    await cli.scheduleListCommand({ kv, json: true }, { line: (l) => json.push(l) });
    assert.equal(JSON.parse(json[0]).source, "cli");
    await cli.scheduleChangeCommand("resume", "n", { kv }, out);
    await cli.scheduleChangeCommand("rm", "n", { kv }, out);
    await assert.rejects(cli.scheduleChangeCommand("rm", "n", { kv }, out), /no schedule "n"/);
    const text = lines.join("\n");
    assert.match(text, /schedule "n" added; next tick \d{4}-\d\d-\d\dT02:00:00.000Z/);
    assert.match(text, /n\s+0 2 \* \* \*\s+create job\s+paused\s+cli/);
    assert.match(text, /schedule "n" active; next tick/);
    assert.match(text, /schedule "n" removed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
