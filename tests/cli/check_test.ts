import assert from "node:assert/strict";
import { MOD_URL, noStackTrace, runCli, textAt, withTempScript } from "./_run_cli.ts";

const BAD = "tests/fixtures/cli_bad_definition.ts";

Deno.test("check: a valid script passes with exit code 0", async () => {
  const r = await runCli("check", "tests/fixtures/cli_door.ts");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    `tests/fixtures/cli_door.ts: ok (1 machine "door")\n` +
      `checked 1 file, 1 machine: 0 errors, 0 warnings\n`,
  );
  assert.equal(r.stderr, "");
});

Deno.test("check: definition errors are reported at file:line:col, sorted, exit code 1", async () => {
  const r = await runCli("check", BAD);
  assert.equal(r.code, 1);
  const lines = r.stdout.trimEnd().split("\n");
  assert.deepEqual(lines, [
    `${BAD}:10:9 error: unknown target "runing" in state "idle" (at states.idle.on.START.target)`,
    `${BAD}:14:37 error: unknown guard "isSafe" (named guards go in the machine's "guards") ` +
    `(at states.running.on.STOP.guard)`,
    "checked 1 file, 0 machines: 2 errors, 0 warnings",
  ]);
  // Each position points at the key the problem is about.
  assert.match(await textAt(BAD, 10, 9), /^START: "runing"/);
  assert.match(await textAt(BAD, 14, 37), /^guard: "isSafe"/);
  assert.ok(noStackTrace(r.stdout + r.stderr));
});

Deno.test("check: warnings alone keep exit code 0", async () => {
  const r = await runCli("check", "tests/fixtures/cli_warning.ts");
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^tests\/fixtures\/cli_warning\.ts:10:5 warning: state "dimmed" is unreachable/m,
  );
  assert.match(await textAt("tests/fixtures/cli_warning.ts", 10, 5), /^dimmed:/);
  assert.match(r.stdout, /checked 1 file, 1 machine: 0 errors, 1 warning\n$/);
});

Deno.test("check: a syntax error is reported at its position, without a stack trace", async () => {
  const source = `import { defineMachine } from "${MOD_URL}";
export const m = defineMachine({
  id: "m",
  initial: "a"
  states: { a: {} },
});
`;
  await withTempScript("cli_syntax_error.ts", source, async (path) => {
    const r = await runCli("check", path);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^${path}:5:3 error: SyntaxError: Expected ',', got`, "m"));
    assert.ok(noStackTrace(r.stdout + r.stderr), r.stdout + r.stderr);
  });
});

Deno.test("check: an exception at import names the file and the throwing line", async () => {
  const source = `const ready = false;
if (!ready) {
  throw new RangeError("configuration missing");
}
export {};
`;
  await withTempScript("cli_throws.ts", source, async (path) => {
    const r = await runCli("check", path);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      new RegExp(`^${path}:3:9 error: RangeError: configuration missing`, "m"),
    );
    assert.ok(noStackTrace(r.stdout + r.stderr));
  });
});

Deno.test("check: several files, a missing one and one without machines", async () => {
  await withTempScript("cli_empty.ts", "export const answer = 42;\n", async (empty) => {
    const r = await runCli(
      "check",
      "tests/fixtures/cli_door.ts",
      "tests/fixtures/cli_no_such_file.ts",
      empty,
      "tests/fixtures/cli_two_machines.ts",
    );
    assert.equal(r.code, 1);
    assert.equal(
      r.stdout,
      `tests/fixtures/cli_door.ts: ok (1 machine "door")\n` +
        `tests/fixtures/cli_no_such_file.ts error: file not found\n` +
        `${empty} error: exports no machine: export the result of defineMachine(...)\n` +
        `tests/fixtures/cli_two_machines.ts: ok (2 machines "toggle", "ticker")\n` +
        `checked 4 files, 3 machines: 2 errors, 0 warnings\n`,
    );
  });
});

Deno.test("check: no files is a usage error", async () => {
  const r = await runCli("check");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing required argument 'files'/);
});
