/**
 * `statecraft test` as a user runs it, on the fixture project in
 * tests/fixtures/testing_project/: deno test's output, then the chart coverage the kit
 * recorded in every test module, merged; the exit code is deno test's.
 */
import assert from "node:assert/strict";
import { ROOT, runDeno } from "../cli/_run_cli.ts";
import { permissionFlags } from "../../lib/cli/test.ts";
import type { CoverageReport } from "../../lib/testing/coverage.ts";

const PROJECT = new URL("../fixtures/testing_project/", import.meta.url);
const CLI = new URL("cli.ts", ROOT).pathname;

function statecraftTest(...args: string[]) {
  return runDeno(
    ["run", "--allow-read", "--allow-write=/tmp", "--allow-env", "--allow-run=deno", CLI, "test"]
      .concat(args),
    PROJECT,
  );
}

Deno.test("statecraft test: the tests pass, the coverage table follows, exit 0", async () => {
  const r = await statecraftTest("tests/turnstile_spec.ts");
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /reaches unlocked via COIN\{cents\} \.\.\. ok/);
  assert.match(r.stdout, /ok \| 2 passed \(3 steps\) \| 0 failed/);
  const table = r.stdout.slice(r.stdout.indexOf("statecraft: chart coverage"));
  assert.deepEqual(table.trimEnd().split("\n"), [
    "statecraft: chart coverage",
    "machine    states         transitions    guards true    guards false",
    "turnstile  3/3    100.0%  2/4     50.0%  1/1    100.0%  1/1    100.0%",
    "  turnstile: transitions not taken: unlocked#0 (unlocked: PUSH -> locked), " +
    "alarm#0 (alarm: after 60000ms -> locked)",
  ]);
});

Deno.test("statecraft test: a failing test gives exit 1; coverage of every module is merged", async () => {
  const json = await Deno.makeTempFile({ dir: "/tmp", prefix: "statecraft_cov_", suffix: ".json" });
  try {
    const r = await statecraftTest(
      "tests/turnstile_spec.ts",
      "tests/stale_paths_spec.ts",
      `--coverage-json=${json}`,
    );
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(
      r.stdout,
      /path "reaches locked via PUSH": after step 1 of 1 \(PUSH\) the configuration is \[alarm\], but the path recorded \[locked\]/,
    );
    assert.ok(r.stdout.includes("statecraft: chart coverage\nmachine "));
    assert.ok(r.stdout.includes("\nturnstile  3/3 "));
    const [report] = JSON.parse(await Deno.readTextFile(json)) as CoverageReport[];
    // PUSH on the locked turnstile: once in each module.
    assert.equal(report.transitions.hits["locked#1"], 2);
  } finally {
    await Deno.remove(json);
  }
});

Deno.test("statecraft test: --filter and pass-through flags reach deno test", async () => {
  const r = await statecraftTest(
    "tests/turnstile_spec.ts",
    "--filter",
    "wrong coin",
    "--allow-read",
    "--allow-env=HOME",
  );
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /ok \| 1 passed \| 0 failed \| 1 filtered out/);
  assert.ok(
    r.stdout.includes("turnstile  1/3     33.3%  0/4      0.0%  0/1      0.0%  1/1    100.0%"),
  );
});

Deno.test("permission flags: defaults, and the coverage file allowed without narrowing", () => {
  assert.deepEqual(permissionFlags([], "/tmp/c.jsonl"), [
    "--allow-read",
    "--allow-env",
    "--allow-write=/tmp/c.jsonl",
  ]);
  assert.deepEqual(permissionFlags(["--allow-net=127.0.0.1", "--fail-fast"], "/tmp/c"), [
    "--allow-net=127.0.0.1",
    "--fail-fast",
    "--allow-env=STATECRAFT_COVERAGE_FILE",
    "--allow-write=/tmp/c",
  ]);
  // An unscoped flag followed by a scoped one would narrow it: nothing is added then.
  assert.deepEqual(permissionFlags(["--allow-write", "--allow-env"], "/tmp/c"), [
    "--allow-write",
    "--allow-env",
  ]);
  assert.deepEqual(permissionFlags(["-A"], "/tmp/c"), ["-A"]);
});
