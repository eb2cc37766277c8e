// Schedules declared in statecraft.yaml follow the file, on both backends: a schedule the file
// no longer declares is removed, a changed one updated (keeping its tick state when its cron is
// unchanged), schedules added at run time are left alone; two nodes starting with the same file
// at once converge, each change made once; a runtime started without a file removes nothing.
import assert from "node:assert/strict";
import { VirtualClock } from "../../mod.ts";
import { getSchedule, listSchedules } from "../../lib/persist/schedules.ts";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { runtimeSchedules } from "../../lib/runtime/schedules.ts";
import { backendTest } from "../persist/_backends.ts";
import { beats, counter, job } from "./_machines.ts";

const T0 = Date.UTC(2025, 0, 1);

/** A project folder whose statecraft.yaml declares `schedules` (YAML lines), or none. */
async function project(dir: string, schedules: string[] | null): Promise<void> {
  const file = `${dir}/statecraft.yaml`;
  if (schedules === null) await Deno.remove(file).catch(() => {});
  else await Deno.writeTextFile(file, ["schedules:", ...schedules, ""].join("\n"));
}

/** A live runtime on `kv` over the project in `dir`; its log lines go to `log`. */
function open(dir: string, kv: string, clock: VirtualClock, log: string[]): Promise<Runtime> {
  return Runtime.open({
    projectDir: dir,
    kv,
    machines: [],
    extraMachines: [counter, job] as never[],
    noPlugins: true,
    clock,
    log: (level, message) => log.push(`${level}: ${message}`),
  });
}

const BEAT = [
  "  - name: beat",
  '    cron: "0 * * * *"',
  "    send: { instance: c1, event: { type: BEAT, n: 1 } }",
];
const JOBS = ["  - name: jobs", '    cron: "*/30 * * * *"', "    create: { machine: job }"];

backendTest("schedules: statecraft.yaml is reconciled; run-time schedules stay", async (b) => {
  const kv = await b.path();
  const dir = await Deno.makeTempDir({ prefix: "statecraft-reconcile-" });
  const clock = new VirtualClock(T0);
  try {
    // v1: beat and jobs; an operator adds "manual" at run time.
    await project(dir, [...BEAT, ...JOBS]);
    const log1: string[] = [];
    const rt = await open(dir, kv, clock, log1);
    await rt.spawn("counter", "c1");
    await runtimeSchedules(rt).add({
      name: "manual",
      cron: "0 3 * * *",
      create: { machine: "job" },
    });
    clock.advance(3_600_000);
    await waitIdle(rt);
    assert.equal((await beats(rt.store, "c1")).length, 1);
    const before = await getSchedule(rt.store, "beat");
    assert.equal(before?.fired, 1);
    assert.equal(before?.next, T0 + 2 * 3_600_000);
    assert.equal(before?.source, "config");
    assert.equal((await getSchedule(rt.store, "manual"))?.source, "api");
    await rt.close();

    // v2: beat's event changed (same cron), jobs gone, nightly new. Two nodes start at once.
    await project(dir, [
      ...BEAT.slice(0, 2),
      "    send: { instance: c1, event: { type: BEAT, n: 2 } }",
      "  - name: nightly",
      '    cron: "0 2 * * *"',
      "    create: { machine: job }",
    ]);
    const logs: string[][] = [[], []];
    const nodes = await Promise.all(logs.map((log) => open(dir, kv, clock, log)));
    try {
      const all = logs.flat();
      const count = (re: RegExp) => all.filter((l) => re.test(l)).length;
      assert.equal(
        count(/schedule "jobs" removed: no longer in the configuration/),
        1,
        all.join("\n"),
      );
      assert.equal(count(/schedule "nightly" added from the configuration/), 1, all.join("\n"));
      assert.equal(count(/schedule "beat" updated from the configuration/), 1, all.join("\n"));
      assert.equal(count(/^(warn|error)/), 0, all.join("\n"));
      const names = (await listSchedules(nodes[0].store)).map((s) => [s.name, s.source]);
      assert.deepEqual(names, [["beat", "config"], ["manual", "api"], ["nightly", "config"]]);
      const beat = await getSchedule(nodes[0].store, "beat");
      assert.deepEqual(beat?.spec.send?.event, { type: "BEAT", n: 2 });
      // The cron did not change: the tick state is kept.
      assert.equal(beat?.fired, 1);
      assert.equal(beat?.next, T0 + 2 * 3_600_000);
      // Started again with the same file: nothing to do, nothing written.
      await nodes[1].close();
      const again: string[] = [];
      nodes[1] = await open(dir, kv, clock, again);
      assert.deepEqual(again.filter((l) => /schedule/.test(l)), []);
    } finally {
      for (const n of nodes) await n.close();
    }

    // v3: beat's cron changes: its next tick is recomputed; counters stay.
    await project(dir, [
      "  - name: beat",
      '    cron: "15 * * * *"',
      "    send: { instance: c1, event: BEAT }",
    ]);
    const log3: string[] = [];
    const rt3 = await open(dir, kv, clock, log3);
    const beat = await getSchedule(rt3.store, "beat");
    assert.equal(beat?.next, T0 + 3_600_000 + 15 * 60_000);
    assert.equal(beat?.fired, 1);
    assert.deepEqual((await listSchedules(rt3.store)).map((s) => s.name), ["beat", "manual"]);
    await rt3.close();

    // No statecraft.yaml at all: the runtime says nothing about schedules, removes nothing.
    await project(dir, null);
    const rt4 = await open(dir, kv, clock, []);
    assert.deepEqual((await listSchedules(rt4.store)).map((s) => s.name), ["beat", "manual"]);
    await rt4.close();

    // An empty list in the file: every config schedule goes, the run-time one stays.
    await Deno.writeTextFile(`${dir}/statecraft.yaml`, "schedules: []\n");
    const rt5 = await open(dir, kv, clock, []);
    assert.deepEqual((await listSchedules(rt5.store)).map((s) => s.name), ["manual"]);
    await rt5.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Waits for the runtime's scheduler and store to be idle. */
async function waitIdle(rt: Runtime): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await rt.scheduler?.idle();
    await (rt.store as unknown as { idle(): Promise<void> }).idle();
  }
}

backendTest(
  "schedules: an older schedulesRevision leaves a newer one's schedules alone",
  async (b) => {
    const kv = await b.path();
    const dirs = await Promise.all(
      ["old", "new"].map((p) => Deno.makeTempDir({ prefix: `statecraft-revision-${p}-` })),
    );
    const [oldDir, newDir] = dirs;
    const clock = new VirtualClock(T0);
    const revision = async (dir: string, n: number, schedules: string[]) => {
      await project(dir, schedules);
      await Deno.writeTextFile(
        `${dir}/statecraft.yaml`,
        `schedulesRevision: ${n}\n${await Deno.readTextFile(`${dir}/statecraft.yaml`)}`,
      );
    };
    try {
      // Revision 1 (beat and jobs) runs; the rollout brings revision 2, which drops jobs.
      await revision(oldDir, 1, [...BEAT, ...JOBS]);
      await revision(newDir, 2, BEAT);
      const names = async (rt: Runtime) =>
        (await listSchedules(rt.store)).map((s) => s.name).sort();
      let rt = await open(oldDir, kv, clock, []);
      assert.deepEqual(await names(rt), ["beat", "jobs"]);
      await rt.close();
      rt = await open(newDir, kv, clock, []);
      assert.deepEqual(await names(rt), ["beat"]);
      await rt.close();

      // A node of the old deployment restarts mid-rollout: it puts nothing back, and says why.
      const log: string[] = [];
      rt = await open(oldDir, kv, clock, log);
      try {
        assert.deepEqual(await names(rt), ["beat"]);
        assert.ok(
          log.some((l) =>
            /schedulesRevision 1, and the store follows revision 2 of a newer one/.test(l)
          ),
          log.join("\n"),
        );
      } finally {
        await rt.close();
      }
      // The same revision again (another node of the new deployment) syncs as usual.
      const again: string[] = [];
      rt = await open(newDir, kv, clock, again);
      try {
        assert.deepEqual(await names(rt), ["beat"]);
        assert.ok(!again.some((l) => /left as they are/.test(l)), again.join("\n"));
      } finally {
        await rt.close();
      }
    } finally {
      for (const d of dirs) await Deno.remove(d, { recursive: true });
    }
  },
);
