/**
 * The fast path of `run`, `repl` and `serve` (lib/cli/fast_args.ts) against commander: a line
 * the fast parser accepts gives the command exactly what commander's action would receive,
 * and a line it refuses goes to commander, which parses it or answers with its help or error.
 * Commander's commands are built from the same tables as in cli.ts (commander_table.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { REPL_COMMAND, RUN_COMMAND, SERVE_COMMAND } from "../../lib/cli/command_tables.ts";
import { addTableCommand, commander } from "../../lib/cli/commander_table.ts";
import { parseFastArgs } from "../../lib/cli/fast_args.ts";
import { type CommandSpec, optionFlags } from "../../lib/cli/option_table.ts";
import { runCli } from "./_run_cli.ts";

const TABLES = [RUN_COMMAND, REPL_COMMAND, SERVE_COMMAND];

type Commanded =
  | { kind: "parsed"; args: (string | undefined)[]; options: Record<string, unknown> }
  | { kind: "exit"; code: string; output: string };

/** What commander makes of `statecraft <spec.name> ...argv`, with cli.ts's program options. */
async function viaCommander(spec: CommandSpec, argv: string[]): Promise<Commanded> {
  let output = "";
  const program = new commander.Command()
    .name("statecraft")
    .version("0.1.0", "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => output += s,
      writeErr: (s) => output += s,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    });
  let parsed: Commanded | undefined;
  for (const table of TABLES) {
    addTableCommand(program, table, (args, options) => {
      parsed = { kind: "parsed", args, options: { ...options } };
      return Promise.resolve();
    });
  }
  try {
    await program.parseAsync([spec.name, ...argv], { from: "user" });
  } catch (e) {
    if (!(e instanceof commander.CommanderError)) throw e;
    return { kind: "exit", code: e.code, output };
  }
  assert.ok(parsed, `commander neither ran ${spec.name} nor exited: ${argv.join(" ")}`);
  return parsed;
}

/** Asserts what the brief asks of every line; returns whether the fast parser took it. */
async function compare(spec: CommandSpec, argv: string[]): Promise<boolean> {
  const fast = parseFastArgs(spec, argv);
  const slow = await viaCommander(spec, argv);
  const line = `${spec.name} ${JSON.stringify(argv)}`;
  if (fast === null) {
    // Refused: commander handles it, parsing it or exiting with its help or an error.
    assert.ok(slow.kind === "parsed" || slow.output !== "", `${line}: commander said nothing`);
    return false;
  }
  assert.equal(slow.kind, "parsed", `${line}: fast path took a line commander rejects`);
  assert.deepStrictEqual(
    { args: fast.args, options: fast.options },
    {
      args: slow.kind === "parsed" ? slow.args : [],
      options: slow.kind === "parsed" ? slow.options : {},
    },
    line,
  );
  return true;
}

/** [command, argv, whether the fast parser takes it]. */
const LINES: [CommandSpec, string[], boolean][] = [
  [RUN_COMMAND, ["examples/traffic_light.ts", "--virtual-time"], true],
  [RUN_COMMAND, ["examples/door.ts", "--events", "OPEN,CLOSE"], true],
  [RUN_COMMAND, ["--events=OPEN,wait:1s", "examples/door.ts", "--for", "2m"], true],
  [RUN_COMMAND, ["examples/door.ts", "--events-file", "door.events.jsonl"], true],
  [RUN_COMMAND, ["m.ts", "--kv", ":memory:", "--instance", "i-1", "--durable"], true],
  [RUN_COMMAND, ["m.ts", "--plugins", "a", "b", "--config", "statecraft.yaml"], true],
  [RUN_COMMAND, ["--plugins", "a", "b", "m.ts"], false], // m.ts is a plugin folder: no machine
  [RUN_COMMAND, ["m.ts", "--plugins", "a", "--plugins", "b"], true],
  [RUN_COMMAND, ["m.ts", "--plugins=a", "b"], false], // b is a second machine: too many
  [RUN_COMMAND, ["m.scxml", "--trusted", "--time-limit", "0", "--machine", "x"], true],
  [RUN_COMMAND, ["m.ts", "--kv", "a", "--kv", "b"], true],
  [RUN_COMMAND, ["m.ts", "--kv", ""], true],
  [RUN_COMMAND, ["-"], true],
  [RUN_COMMAND, [], false],
  [RUN_COMMAND, ["m.ts", "extra"], false],
  [RUN_COMMAND, ["m.ts", "--help"], false],
  [RUN_COMMAND, ["m.ts", "-h"], false],
  [RUN_COMMAND, ["m.ts", "-V"], false],
  [RUN_COMMAND, ["m.ts", "--kv", "-V"], false],
  [RUN_COMMAND, ["m.ts", "--kv", "--help"], false],
  [RUN_COMMAND, ["m.ts", "--kv=--help"], true],
  [RUN_COMMAND, ["m.ts", "--events"], false],
  [RUN_COMMAND, ["m.ts", "--events", "A", "--events-file", "f"], false],
  [RUN_COMMAND, ["m.ts", "--virtual-time=yes"], false],
  [RUN_COMMAND, ["m.ts", "--bogus"], false],
  [RUN_COMMAND, ["m.ts", "--", "--kv"], false],
  [RUN_COMMAND, ["-1"], false],
  [REPL_COMMAND, [], true],
  [REPL_COMMAND, ["--no-plugins"], true],
  [REPL_COMMAND, ["--kv", ":memory:", "--no-plugins", "project"], true],
  [REPL_COMMAND, ["project", "--plugins", "p1", "p2", "--no-timings", "--watch"], true],
  [REPL_COMMAND, ["--plugins", "p1", "--no-plugins"], true],
  [REPL_COMMAND, ["--no-plugins", "--plugins", "p1"], true],
  [REPL_COMMAND, ["--cluster", "--node", "n1", "--config", "c.yaml"], true],
  [REPL_COMMAND, ["a", "b"], false],
  [REPL_COMMAND, ["--plugins"], false],
  [REPL_COMMAND, ["--port", "1"], false],
  [REPL_COMMAND, ["--no-watch"], false],
  [SERVE_COMMAND, [], true],
  [SERVE_COMMAND, ["--port", "0", "--host", "0.0.0.0", "--token-env", "TOKEN"], true],
  [SERVE_COMMAND, ["--port=8787", "--max-body", "1024", "dir"], true],
  [SERVE_COMMAND, ["--port", "70000"], false],
  [SERVE_COMMAND, ["--port", "x"], false],
  [SERVE_COMMAND, ["--max-body", "0"], false],
  [SERVE_COMMAND, ["--max-body", "-1"], false],
];

Deno.test("fast args: each line of the table as commander reads it, or left to commander", async () => {
  for (const [spec, argv, expected] of LINES) {
    assert.equal(await compare(spec, argv), expected, `${spec.name} ${JSON.stringify(argv)}`);
  }
});

Deno.test("fast args: random lines the fast parser takes are read as commander reads them", async () => {
  for (const spec of TABLES) {
    const flags = spec.options.flatMap((o) => {
      const long = `--${o.long}`;
      return o.value === undefined ? [long] : [long, `${long}=x`, `${long}=-1`, `${long}=`];
    });
    // Mostly the table's options and plain words; now and then what commander reads itself.
    const token = fc.oneof(
      { arbitrary: fc.constantFrom(...flags), weight: 4 },
      {
        arbitrary: fc.constantFrom("m.ts", "dir", "0", "8787", "70000", "x", "", "-", "a=b"),
        weight: 4,
      },
      {
        arbitrary: fc.constantFrom("--", "-h", "--help", "-V", "-1", "--bogus", "-k", "-Vx"),
        weight: 1,
      },
    );
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(token, { maxLength: 7 }), async (argv) => {
        if (await compare(spec, argv)) taken++;
      }),
      { numRuns: 400, seed: 13 },
    );
    // Not vacuous: many of the random lines go the fast way.
    console.log(`${spec.name}: ${taken} of 400 random lines taken by the fast parser`);
    assert.ok(taken > 40, `${spec.name}: the fast parser took only ${taken} of 400 lines`);
  }
});

Deno.test("fast args: commander's options come from the tables (flags as the help shows them)", async () => {
  const help = (await viaCommander(RUN_COMMAND, ["--help"])) as { output: string };
  for (const option of RUN_COMMAND.options) {
    assert.match(help.output, new RegExp(`  ${optionFlags(option)}`));
  }
  assert.match(help.output, /^Usage: statecraft run \[options\] <machine>$/m);
});

Deno.test("fast args: cli.ts leaves help and mistakes to commander", async () => {
  const help = await runCli("run", "--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: statecraft run \[options\] <machine>$/m);
  assert.match(help.stdout, /--virtual-time {2,}use a virtual clock/);
  const unknown = await runCli("repl", "--bogus");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: unknown option '--bogus'$/m);
  assert.match(unknown.stderr, /\(run with --help for usage\)/);
  const port = await runCli("serve", "--port", "http");
  assert.equal(port.code, 1);
  assert.match(
    port.stderr,
    /^error: option '--port <n>' argument 'http' is invalid\. expected a port number, 0 to 65535$/m,
  );
});
