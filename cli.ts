/**
 * The `statecraft` command line: builds the command tree; each command's body lives in
 * `lib/cli/<command>.ts`.
 *
 * ```sh
 * deno run --allow-read --allow-env cli.ts check examples/door.ts
 * deno run --allow-read --allow-env cli.ts run examples/door.ts --events OPEN,CLOSE
 * deno run --allow-read --allow-env cli.ts diagram examples/door.ts --format dot
 * ```
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import denoJson from "./deno.json" with { type: "json" };
import { CliError } from "./lib/cli/cli_error.ts";
import { checkCommand } from "./lib/cli/check.ts";
import { runCommand } from "./lib/cli/run.ts";
import { DIAGRAM_FORMATS, diagramCommand } from "./lib/cli/diagram.ts";

/** Builds the `statecraft` program (commander), without parsing anything. */
function buildProgram(): Command {
  const program = new Command()
    .name("statecraft")
    .description("Statecharts with exact SCXML semantics: check, run and draw machine scripts.")
    .version(denoJson.version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showHelpAfterError("(run with --help for usage)")
    // Commander would read FORCE_COLOR/NO_COLOR from the environment: plain text needs no
    // --allow-env (and no permission prompt).
    .configureOutput({ getOutHasColors: () => false, getErrHasColors: () => false });

  program
    .command("check")
    .description(
      "load machine scripts and report every problem as file:line:col " +
        "(exit 1 on any error)",
    )
    .argument("<files...>", "machine scripts (.ts or .js) exporting machines")
    .action(async (files) => finish(await checkCommand(files)));

  program
    .command("run")
    .description("start a machine in memory, feed it events and print each transition")
    .argument("<machine>", "machine script (.ts or .js)")
    .addOption(
      new Option("--events <list>", "comma-separated events; wait:<duration> lets time pass")
        .conflicts("eventsFile"),
    )
    .option(
      "--events-file <file>",
      'JSONL file: {"type":"X",...}, "X" or {"wait": 1000} per line',
    )
    .option("--virtual-time", "use a virtual clock: timers fire without waiting")
    .option(
      "--for <duration>",
      "time to let pass after the events (default: 1m virtual, 0 real)",
    )
    .option("--machine <id>", "the machine to run when the script exports several")
    .action(async (file, options) => finish(await runCommand(file, options)));

  program
    .command("diagram")
    .description("print the machine's chart as Mermaid or Graphviz DOT")
    .argument("<machine>", "machine script (.ts or .js)")
    .addOption(
      new Option("--format <format>", "diagram format").choices(DIAGRAM_FORMATS).default(
        "mermaid" as const,
      ),
    )
    .option("--machine <id>", "the machine to draw when the script exports several")
    .action(async (file, options) => {
      const text = await diagramCommand(file, options);
      await Deno.stdout.write(new TextEncoder().encode(text));
      finish(0);
    });

  return program;
}

function finish(code: number): void {
  Deno.exitCode = code;
}

/** Prints a user mistake as one line on stderr; anything else is a bug, shown in full. */
function report(e: unknown): void {
  if (e instanceof CliError) {
    console.error(`error: ${e.message}`);
  } else {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`error: ${message}`);
    console.error(
      "this is a bug in statecraft, not in your script; set STATECRAFT_DEBUG=1 for details",
    );
    if (debugEnabled() && e instanceof Error && e.stack) console.error(e.stack);
  }
  Deno.exitCode = 1;
}

function debugEnabled(): boolean {
  // Ask without prompting: a user who did not grant --allow-env gets no details, no prompt.
  const env = { name: "env", variable: "STATECRAFT_DEBUG" } as const;
  if (Deno.permissions.querySync(env).state !== "granted") return false;
  return Deno.env.get("STATECRAFT_DEBUG") === "1";
}

if (import.meta.main) {
  try {
    await buildProgram().parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    report(e);
  }
  // Timers of user scripts (intervals, pending invocations) must not keep the process alive.
  Deno.exit(Deno.exitCode);
}
