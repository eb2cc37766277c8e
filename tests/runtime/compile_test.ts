/**
 * `deno task compile` end to end: builds the binary from the task's own command line (output
 * under /tmp), then runs it as a user would: `run` on an example, a scripted REPL session from
 * stdin, `plugin call` on a fixture plugin. `deno compile` needs its `denort` base binary: it
 * downloads it from Deno's CDN, or takes the file `DENORT_BIN` names. When it cannot get one,
 * the end-to-end test is ignored and the reason printed; any other build failure fails.
 *
 * @module
 */
import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const decoder = new TextDecoder();

/** Download or lookup failures of the base binary, as `deno compile` words them. */
const NO_DENORT =
  /Setting up base binary|denort-[\w-]+\.zip|Could not find denort|dl\.deno\.land|error sending request/;

interface Build {
  binary?: string;
  dir: string;
  code: number;
  output: string;
}

async function build(): Promise<Build> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_compile_" });
  const [program, ...args] = denoJson.tasks.compile.split(/\s+/);
  assert.equal(program, "deno");
  const out = args.indexOf("dist/statecraft");
  assert.ok(out > 0, `the compile task writes dist/statecraft: ${denoJson.tasks.compile}`);
  args[out] = `${dir}/statecraft`;
  const r = await new Deno.Command("deno", {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const output = decoder.decode(r.stdout) + decoder.decode(r.stderr);
  return { binary: r.code === 0 ? `${dir}/statecraft` : undefined, dir, code: r.code, output };
}

const built = await build();
const missingDenort = built.binary === undefined && NO_DENORT.test(built.output);
if (missingDenort) {
  const reason = built.output.split("\n").map((l) => l.trim()).filter((l) =>
    /denort|error sending request|dns error|Could not find/.test(l)
  ).slice(0, 3).join(" | ");
  console.log(
    `compile_test: SKIPPED the binary end to end: deno compile could not get its denort base ` +
      `binary (${reason}). Set DENORT_BIN=/path/to/denort (deno ${Deno.version.deno}) to run it.`,
  );
  await Deno.remove(built.dir, { recursive: true });
}

Deno.test("compile: the build succeeds, or fails only for want of denort", () => {
  if (built.binary !== undefined) return;
  assert.ok(missingDenort, `deno task compile failed (exit ${built.code}):\n${built.output}`);
  // Only the download failed: with DENORT_BIN set, a failure is a failure.
  assert.equal(Deno.env.get("DENORT_BIN"), undefined, built.output);
});

/** Runs the binary in the repository (through deno: the tests may only run `deno`). */
async function statecraft(args: string[], stdin?: string) {
  const child = new Deno.Command("deno", {
    args: [
      "run",
      `--allow-run=${built.binary}`,
      "tests/fixtures/run_exec.ts",
      built.binary!,
      ...args,
    ],
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const r = await child.output();
  return { code: r.code, stdout: decoder.decode(r.stdout), stderr: decoder.decode(r.stderr) };
}

const ignoredBecause = missingDenort ? " (ignored: no denort here, see above)" : "";

Deno.test({
  name: `compile: the binary runs a script from disk and a REPL session${ignoredBecause}`,
  ignore: missingDenort,
  fn: async () => {
    // A machine script from disk: loaded from its source (the binary cannot import() it).
    const args = ["run", "examples/traffic_light.ts", "--virtual-time", "--for", "2m"];
    const viaBinary = await statecraft(args);
    assert.equal(viaBinary.code, 0, viaBinary.stderr);
    const viaDeno = await new Deno.Command("deno", {
      args: ["run", "--allow-read", "cli.ts", ...args],
      cwd: ROOT,
      stdout: "piped",
    }).output();
    assert.equal(viaBinary.stdout, decoder.decode(viaDeno.stdout));

    // A REPL session read from stdin, over the examples the binary loads from disk.
    const repl = await statecraft(
      ["repl", "--kv", ":memory:", "--no-plugins", "--no-timings"],
      "spawn door d1\nsend d1 OPEN\nstate d1\n",
    );
    assert.equal(repl.code, 0, repl.stderr);
    assert.match(repl.stdout, /^OPEN: secure\.closed -> secure\.opened$/m);
  },
});

Deno.test({
  name: `compile: the binary calls a plugin in a Worker${ignoredBecause}`,
  ignore: missingDenort,
  fn: async () => {
    try {
      // The worker entry is embedded; the plugin itself is read from disk.
      const call = await statecraft([
        "plugin",
        "call",
        "recorder",
        "record",
        `{"via":"binary"}`,
        "--plugins",
        "tests/fixtures/plugins/run_plugins",
      ]);
      assert.equal(call.code, 0, call.stderr);
      assert.deepEqual(JSON.parse(call.stdout), { recorded: "binary" });
    } finally {
      await Deno.remove(built.dir, { recursive: true });
    }
  },
});
