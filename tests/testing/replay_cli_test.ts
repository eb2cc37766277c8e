// `statecraft replay` as a deploy pipeline runs it: the CLI as a subprocess on a store written
// in-process, with machine files written into a temporary folder.
import assert from "node:assert/strict";
import { type CliResult, ROOT, runDeno } from "../cli/_run_cli.ts";
import { writeMachineFile, writeStore } from "./_replay_store.ts";

/** `statecraft replay <args>` from the repository root, with no encryption key set. */
function replay(args: string[]): Promise<CliResult> {
  return runDeno(
    ["run", "--allow-read", "--allow-write", "--allow-env", "cli.ts", "replay", ...args],
    ROOT,
    { STATECRAFT_KEY: "" },
  );
}

Deno.test("statecraft replay: exit 0 when every journal matches, 1 naming instance and seq", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-replay-cli-" });
  try {
    const kv = await writeStore(dir);

    const same = await replay(["--kv", kv, await writeMachineFile(dir, "same")]);
    assert.equal(same.stderr, "");
    assert.equal(same.code, 0);
    assert.match(
      same.stdout,
      /^replayed 4 instances of "note", "order" \(10 journal entries\) under .*order_same\.ts: every instance matches\n$/,
    );

    const guard = await replay([
      "--kv",
      kv,
      await writeMachineFile(dir, "guard"),
      "--machine=order",
    ]);
    assert.equal(guard.code, 1);
    assert.equal(
      guard.stdout.split("\n").slice(0, 3).join("\n"),
      [
        'differs: instance "o1" (machine "order") at seq 2, event CHECKOUT',
        "  expected: paying",
        "  actual:   cart",
      ].join("\n"),
    );
    assert.match(guard.stdout, /replayed 3 instances of "order" .*: 1 instance differs\n$/);

    const target = await replay([
      "--kv",
      kv,
      await writeMachineFile(dir, "target"),
      "--machine=order",
    ]);
    assert.equal(target.code, 1);
    assert.match(
      target.stdout,
      /^missing migration: instance "o1" \(machine "order"\) at seq 0: .*no migration leads/m,
    );
    assert.match(target.stdout, /: 3 instances differ\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("statecraft replay: bad input is one clear error and exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft-replay-cli-" });
  try {
    const kv = await writeStore(dir);
    const file = await writeMachineFile(dir, "same");
    const cases: [string[], RegExp][] = [
      [["--kv", kv, `${dir}/nope.ts`], /^error: .*nope\.ts: .*/],
      [["--kv", `${dir}/missing.kv`, file], /^error: no store at .*missing\.kv: check --kv/],
      [
        ["--kv", kv, file, "--machine", "ghost"],
        /^error: .* has no machine "ghost"; it exports "note", "order"/,
      ],
      [["--kv", dir, file], /^error: store .* is not a file: check --kv/],
    ];
    for (const [args, expected] of cases) {
      const result = await replay(args);
      assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, expected);
      assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
      assert.equal(result.stdout, "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
