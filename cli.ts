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
import type { Command, OptionValues } from "@commander-js/extra-typings";
import type { RunOptions } from "./lib/cli/run.ts";
import type { ReplOptions } from "./lib/cli/repl.ts";
import type { ServeCommandOptions } from "./lib/cli/serve.ts";
import denoJson from "./deno.json" with { type: "json" };
import { CliError } from "./lib/cli/cli_error.ts";
import { importLazily } from "./lib/cli/lazy_import.ts";
import { REPL_COMMAND, RUN_COMMAND, SERVE_COMMAND } from "./lib/cli/command_tables.ts";
import { parseFastArgs } from "./lib/cli/fast_args.ts";
import type { TableAction } from "./lib/cli/commander_table.ts";
import {
  type CommandSpec,
  OptionValueError,
  parseNonNegativeInt,
  parsePositiveInt,
} from "./lib/cli/option_table.ts";
import {
  DEFAULT_KEY_ENV,
  DEFAULT_KV_PATH,
  DIAGRAM_FORMATS,
  EXPORT_FORMATS,
  KV_STATUSES,
} from "./lib/cli/constants.ts";

// Each command's body is imported when that command runs, not at start-up: loading every
// command's module graph (store, plugins, SCXML, REPL) would cost every command ~150 ms.
// Commander itself (~27 ms of module loading) is imported only once a command line needs
// it: `--version` is answered without it, and a plain `run`, `repl` or `serve` line is read
// against the command's table (lib/cli/command_tables.ts) by lib/cli/fast_args.ts (see the
// end of this file). The imports are not literal `import("...")`s, which Deno would load at
// start-up, taken or not (~40 ms here for the commands, ~2.5 ms for commander).

/** Each command's module, by its file name in lib/cli/. */
interface Commands {
  check: typeof import("./lib/cli/check.ts");
  run: typeof import("./lib/cli/run.ts");
  diagram: typeof import("./lib/cli/diagram.ts");
  export: typeof import("./lib/cli/export.ts");
  kv: typeof import("./lib/cli/kv.ts");
  plugin: typeof import("./lib/cli/plugin.ts");
  repl: typeof import("./lib/cli/repl.ts");
  serve: typeof import("./lib/cli/serve.ts");
  cluster: typeof import("./lib/cli/cluster.ts");
  schedule: typeof import("./lib/cli/schedule.ts");
  init: typeof import("./lib/cli/init.ts");
  test: typeof import("./lib/cli/test.ts");
  replay: typeof import("./lib/cli/replay.ts");
  instance: typeof import("./lib/cli/instance.ts");
}
const load = <K extends keyof Commands>(name: K): Promise<Commands[K]> =>
  importLazily<Commands[K]>(import.meta.url, `./lib/cli/${name}.ts`);

/** Commander's classes and the table-to-commander builder, once `loadCommander` has run. */
let commander: typeof import("@commander-js/extra-typings");
let addTableCommand: typeof import("./lib/cli/commander_table.ts").addTableCommand;

async function loadCommander(): Promise<void> {
  if (commander !== undefined) return;
  ({ commander, addTableCommand } = await importLazily<
    typeof import("./lib/cli/commander_table.ts")
  >(import.meta.url, "./lib/cli/commander_table.ts"));
}

/** Builds the `statecraft` program (commander, loaded first), without parsing anything. */
function buildProgram(): Command {
  const { Command, Option } = commander;
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
    .argument("<files...>", "machine scripts (.ts or .js) exporting machines, or SCXML documents")
    .action(async (files) => finish(await (await load("check")).checkCommand(files)));

  addTableCommand(program, RUN_COMMAND, TABLE_BODIES.run);

  program
    .command("export")
    .description("write a machine in another format (SCXML)")
    .argument("<machine>", "machine script (.ts or .js) or SCXML document")
    .addOption(
      new Option("--format <format>", "output format").choices(EXPORT_FORMATS).default(
        "scxml" as const,
      ),
    )
    .option("--machine <id>", "the machine to export when the script exports several")
    .action(async (file, options) => {
      const { text, warnings } = await (await load("export")).exportCommand(file, options);
      for (const w of warnings) console.error(w);
      await Deno.stdout.write(new TextEncoder().encode(text));
      finish(0);
    });

  program
    .command("diagram")
    .description("print the machine's chart as Mermaid or Graphviz DOT")
    .argument("<machine>", "machine script (.ts or .js) or SCXML document (.scxml)")
    .addOption(
      new Option("--format <format>", "diagram format").choices(DIAGRAM_FORMATS).default(
        "mermaid" as const,
      ),
    )
    .option("--machine <id>", "the machine to draw when the script exports several")
    .action(async (file, options) => {
      const text = await (await load("diagram")).diagramCommand(file, options);
      await Deno.stdout.write(new TextEncoder().encode(text));
      finish(0);
    });

  program
    .command("init")
    .description(
      "write a new project (deno.json, statecraft.yaml, machines/, plugins/, tests/) into a " +
        "folder (default: here); existing files are never overwritten without --force",
    )
    .argument("[dir]", "the project folder (created if missing)", ".")
    .option("--force", "overwrite files that exist")
    .option("--link <dir>", "the Statecraft copy to link (default: the one running this)")
    .option("--no-link", "import the published package only")
    .action(async (dir, options) => finish(await (await load("init")).initCommand(dir, options)));

  addTestCommand(program);
  addKvCommands(program);
  addReplayCommand(program);
  addPluginCommands(program);
  addTableCommand(program, REPL_COMMAND, TABLE_BODIES.repl);
  addTableCommand(program, SERVE_COMMAND, TABLE_BODIES.serve);
  addClusterCommands(program);
  addScheduleCommands(program);
  addInstanceCommands(program);

  return program;
}

/**
 * The commands described by a table (lib/cli/command_tables.ts) and their bodies: commander's
 * action and the fast path (a plain command line, read without commander) call the same.
 */
const TABLE_COMMANDS: Record<string, CommandSpec> = {
  run: RUN_COMMAND,
  repl: REPL_COMMAND,
  serve: SERVE_COMMAND,
};
const TABLE_BODIES: Record<"run" | "repl" | "serve", TableAction> = {
  run: async ([file], options) =>
    finish(await (await load("run")).runCommand(file!, options as RunOptions)),
  repl: async ([dir], options) =>
    finish(await (await load("repl")).replCommand(dir, options as ReplOptions)),
  serve: async ([dir], options) =>
    finish(await (await load("serve")).serveCommand(dir, options as ServeCommandOptions)),
};

/** `statecraft cluster ...`: look at a store run in cluster mode; bodies in lib/cli/cluster.ts. */
function addClusterCommands(program: Command): void {
  const cluster = program
    .command("cluster")
    .description("look at a store run in cluster mode (several nodes on one store)");

  cluster.command("status")
    .description(
      "nodes (role, live, heartbeat age, partitions owned) and partitions (owner, epoch, " +
        "lease expiry), read from the store (exit 1 if it never ran in cluster mode)",
    )
    .option("--kv <path|url>", "KV file path, KV Connect URL or postgres:// URL", DEFAULT_KV_PATH)
    .option("--json", "one JSON object")
    .action(async (options) => finish(await (await load("cluster")).clusterStatusCommand(options)));
}

/** `statecraft schedule ...`: the store's schedules; bodies in lib/cli/schedule.ts. */
function addScheduleCommands(program: Command): void {
  const { Option } = commander;
  const schedule = program
    .command("schedule")
    .description("cron schedules that create instances or send events (docs/operations.md)");
  const kv = () =>
    new Option("--kv <path|url>", "KV file path, KV Connect URL or postgres:// URL").default(
      DEFAULT_KV_PATH,
    );
  const keyEnv = () =>
    new Option("--key-env <name>", "environment variable holding the encryption key").default(
      DEFAULT_KEY_ENV,
    );
  schedule.command("add")
    .description("add a schedule: --cron and either --create <machine> or --send <instance>")
    .argument("<name>", "the schedule's name (letters, digits, '.', '_', '-')")
    .requiredOption("--cron <expr>", 'a cron expression ("0 2 * * *"; 6 fields: seconds first)')
    .option("--timezone <zone>", "IANA time zone the expression is read in (default UTC)")
    .option("--create <machine>", "each tick creates an instance of this machine")
    .option("--id <template>", 'instance id template holding {tick} (default "{schedule}-{tick}")')
    .option("--context <json>", "the created instances' initial context (a JSON object)")
    .option("--send <instance>", "each tick sends --event to this instance")
    .option("--event <TYPE|json>", "the event a tick sends")
    .addOption(new Option("--overlap <policy>", "previous tick still running").choices([
      "skip",
      "queue",
      "allow",
    ]))
    .addOption(
      new Option("--catch-up <policy>", "ticks missed while down").choices(["none", "last", "all"]),
    )
    .option("--max-catch-up <n>", "with --catch-up all: at most this many", positiveInt)
    .option("--max-queued <n>", "with --overlap queue: at most this many waiting", positiveInt)
    .option("--grace-ms <ms>", "a tick this late still counts as on time", nonNegativeInt)
    .option("--paused", "add it paused")
    .addOption(kv())
    .addOption(keyEnv())
    .action(async (name, options) =>
      finish(await (await load("schedule")).scheduleAddCommand(name, options))
    );
  schedule.command("ls")
    .description("the schedules: next tick, counts, the latest outcome")
    .option("--json", "one JSON object per schedule")
    .addOption(kv())
    .addOption(keyEnv())
    .action(async (options) => finish(await (await load("schedule")).scheduleListCommand(options)));
  for (const action of ["pause", "resume", "rm"] as const) {
    schedule.command(action)
      .description(
        action === "pause"
          ? "pause a schedule (nothing fires until resumed)"
          : action === "resume"
          ? "resume a schedule from its next tick"
          : "remove a schedule",
      )
      .argument("<name>", "the schedule")
      .addOption(kv())
      .addOption(keyEnv())
      .action(async (name, options) =>
        finish(await (await load("schedule")).scheduleChangeCommand(action, name, options))
      );
  }
}

/** `statecraft instance cancel|fork|redrive`: operator actions; body in lib/cli/instance.ts. */
function addInstanceCommands(program: Command): void {
  const instance = program
    .command("instance")
    .description(
      "operator actions on one instance, or in bulk on those a filter selects " +
        "(docs/operations.md)",
    );
  const actions = {
    cancel: "stop an instance for good, with --reason (its timers and invocations stop)",
    fork: "a new instance from another's state at a journal seq (--at; default the latest)",
    redrive: "run an instance's failed effects again, else retry its latest failed invocation",
  } as const;
  for (const action of ["cancel", "fork", "redrive"] as const) {
    let command = withStoreOptions(
      instance.command(action)
        .description(`${actions[action]}; without an id: every instance the filter selects`)
        .argument("[id]", "the instance (omit it and give a filter for a bulk action)")
        .option("--machine <id>", "bulk: instances of this machine")
        .option("--state <id>", "bulk: instances with this state active (any level)")
        .addOption(
          new commander.Option("--status <status>", "bulk: instances with this status").choices(
            KV_STATUSES,
          ),
        )
        .option(
          "--where <clause>",
          "bulk: search clause, repeatable (field=value, tag=name)",
          collect,
        )
        .option("--dry-run", "bulk: list the instances, change nothing")
        .option("--by <name>", "who does it, as the journal records it", "cli"),
    );
    if (action === "cancel") command = command.option("--reason <text>", "why (required)");
    if (action === "fork") {
      command = command
        .option("--at <seq>", "the journal seq to fork at (default: the latest)", nonNegativeInt)
        .option("--id <newId>", "the fork's id (default <id>-fork)")
        .option("--suffix <text>", "bulk: each fork is named <id><suffix> (default -fork)");
    }
    if (action === "redrive") {
      command = command
        .option("--effect <effectId>", "only this failed effect (a send kept in the outbox)")
        .option("--invocation", "the failed invocation, even when there are failed effects");
    }
    command.action(async (id, options) =>
      finish(await (await load("instance")).instanceCommand(action, id, options))
    );
  }
}

/** `statecraft replay`: the stored journals under a new definition; body in lib/cli/replay.ts. */
function addReplayCommand(program: Command): void {
  program
    .command("replay")
    .description(
      "replay every stored journal of a machine's instances under a new definition (a deploy " +
        "gate): exit 1 on the first difference of any instance or a missing migration",
    )
    .argument("<machine-file>", "machine script with the new definition(s)")
    .option("--kv <store>", "KV file path, KV Connect or PostgreSQL URL", DEFAULT_KV_PATH)
    .option("--machine <id>", "only this machine's instances (default: every machine of the file)")
    .option("--limit <n>", "at most this many instances per machine", positiveInt)
    .option("--key-env <name>", "environment variable holding the encryption key", DEFAULT_KEY_ENV)
    .action(async (file, options) =>
      finish(await (await load("replay")).replayCommand(file, options))
    );
}

/** `statecraft test`: deno test with chart coverage; body in lib/cli/test.ts. */
function addTestCommand(program: Command): void {
  program
    .command("test")
    .description(
      "run the project's tests (deno test; default files tests/) and print the chart coverage " +
        "the testing kit recorded; flags starting with - (give values with =) go to deno test; " +
        "exit code: deno test's",
    )
    .argument("[files...]", "test files or folders, and deno test flags (--allow-net=...)")
    .option("--filter <pattern>", "run only tests whose name matches (deno test --filter)")
    .option("--coverage-json <file>", "also write the merged coverage reports as JSON")
    .allowUnknownOption()
    .action(async (args, options) => finish(await (await load("test")).testCommand(args, options)));
}

/** `statecraft kv ...`: inspect and maintain the durable store; bodies in lib/cli/kv.ts. */
function addKvCommands(program: Command): void {
  const kv = program
    .command("kv")
    .description("inspect and maintain the durable store (nothing runs: timers do not fire)");

  withStoreOptions(
    kv.command("ls")
      .description("list instances: a table, or JSON lines with --json")
      .option("--machine <id>", "only instances of this machine")
      .option("--state <id>", "only instances with this state active (any level)")
      .addOption(
        new commander.Option("--status <status>", "only instances with this status").choices(
          KV_STATUSES,
        ),
      )
      .option("--limit <n>", "at most this many rows (default 100)", positiveInt)
      .option(
        "--where <clause>",
        "search clause, repeatable: field=value, field>=value (> < <=), tag=name",
        (v: string, prev: string[] = []) => [...prev, v],
      )
      .option(
        "--sort <by[:order]>",
        "order: id, updatedAt, createdAt or a search field (needs --machine), :asc or :desc " +
          "(e.g. total:desc)",
      )
      .option("--json", "one JSON object per line"),
  ).action(async (options) => finish(await (await load("kv")).kvLsCommand(options)));

  withStoreOptions(
    kv.command("show")
      .description("an instance: status, configuration, context, pending timers, checkpoints")
      .argument("<id>", "instance id")
      .option("--json", "one JSON object"),
  ).action(async (id, options) => finish(await (await load("kv")).kvShowCommand(id, options)));

  withStoreOptions(
    kv.command("history")
      .description("an instance's journal: seq  time  kind  by  event  -> configuration")
      .argument("<id>", "instance id")
      .option("--from <seq>", "first journal entry to show (default 0)", nonNegativeInt)
      .option("--limit <n>", "at most this many entries (default 1000)", positiveInt)
      .option("--json", "one JSON object per entry"),
  ).action(async (id, options) => finish(await (await load("kv")).kvHistoryCommand(id, options)));

  withStoreOptions(
    kv.command("checkpoint")
      .description("record a checkpoint of an instance's current state; prints its seq")
      .argument("<id>", "instance id")
      .option("--label <label>", "a name to roll back to (not a number)"),
  ).action(async (id, options) =>
    finish(await (await load("kv")).kvCheckpointCommand(id, options))
  );

  withStoreOptions(
    kv.command("rollback")
      .description(
        "move an instance back to a journal entry or checkpoint; prints its configuration",
      )
      .argument("<id>", "instance id")
      .requiredOption("--to <seq|label>", "a seq (a number) or a checkpoint label"),
  ).action(async (id, options) => finish(await (await load("kv")).kvRollbackCommand(id, options)));

  withStoreOptions(
    kv.command("export")
      .description("write instances, journals and checkpoints as JSON lines")
      .option("--out <file>", "the file to write (default: stdout)")
      .option("--machine <id>", "only instances of this machine"),
  ).action(async (options) => finish(await (await load("kv")).kvExportCommand(options)));

  withStoreOptions(
    kv.command("import")
      .description("read a kv export file into the store (created if missing)")
      .argument("<file>", "a JSONL file written by kv export"),
  ).action(async (file, options) =>
    finish(await (await load("kv")).kvImportCommand(file, options))
  );
}

/** `statecraft plugin ...`: list, check, create, call and sign plugins (lib/cli/plugin*.ts). */
function addPluginCommands(program: Command): void {
  const plugin = program
    .command("plugin")
    .description("list, check, create, call and sign plugins (folders of plugins/ by default)");

  withPolicyOptions(withPluginDirs(
    plugin.command("list")
      .description("load every plugin and print NAME VERSION ISOLATION STATE ACTIONS")
      .option("--json", "one JSON object per plugin")
      .option("--kv <file>", "KV file for the plugins' data (default: in memory)")
      .option("--verbose", "print every plugin log line on stderr"),
  )).action(async (options) => finish(await (await load("plugin")).pluginListCommand(options)));

  withPolicyOptions(withPluginDirs(
    plugin.command("check")
      .description(
        "validate manifests, dependencies and signatures without starting anything " +
          "(exit 1 on any problem)",
      ),
  )).action(async (options) => finish(await (await load("plugin")).pluginCheckCommand(options)));

  withPluginDirs(
    plugin.command("new")
      .description("create <dir>/<name>/plugin.yaml and mod.ts (worker, no permissions)")
      .argument("<name>", "the plugin's name: lowercase letters, digits and -"),
  ).action(async (name, options) =>
    finish(await (await load("plugin")).pluginNewCommand(name, options))
  );

  withPolicyOptions(withPluginDirs(
    plugin.command("call")
      .description("load the plugins, call an action and print its result as JSON")
      .argument("<plugin>", "the plugin's name")
      .argument("<action>", "one of the actions it provides")
      .argument("[json]", 'the payload, as JSON (quote it: \'{"name":"x"}\')')
      .option("--raw", "print a string result as it is, not as a JSON string")
      .option("--kv <file>", "KV file for the plugins' data (default: in memory)")
      .option("--verbose", "print every plugin log line on stderr"),
  )).action(async (name, action, json, options) =>
    finish(await (await load("plugin")).pluginCallCommand(name, action, json, options))
  );

  plugin.command("keygen")
    .description("write a new signing key pair: <prefix>.key (private) and <prefix>.pub")
    .option(
      "--out <prefix>",
      "path prefix of the key files (default .statecraft/keys/statecraft-plugin, git-ignored)",
    )
    .action(async (options) => finish(await (await load("plugin")).pluginKeygenCommand(options)));

  withPluginDirs(
    plugin.command("sign")
      .description("sign a plugin folder (writes plugin.sig)")
      .argument("<dir>", "a plugin folder, or the name of a plugin in the plugin directories")
      .requiredOption("--key <file>", "the private key file (from plugin keygen)"),
  ).action(async (dir, options) =>
    finish(await (await load("plugin")).pluginSignCommand(dir, options))
  );

  withPluginDirs(
    plugin.command("verify")
      .description("check a plugin's signature: ok (signed by <fingerprint>) or why not")
      .argument("<dir>", "a plugin folder, or the name of a plugin in the plugin directories")
      .option(
        "--trusted-key <file>",
        "a trusted public key file (repeatable)",
        collect,
      ),
  ).action(async (dir, options) =>
    finish(await (await load("plugin")).pluginVerifyCommand(dir, options))
  );
}

/** `--plugins <dir>`, repeatable. */
function withPluginDirs<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command.option(
    "--plugins <dir>",
    "a directory of plugin folders (repeatable; default plugins)",
    collect,
  );
}

/** The signing policy of the commands that load plugins. */
function withPolicyOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command
    .addOption(
      new commander.Option("--unsigned <policy>", "whether unsigned plugins load")
        .choices(["allow", "deny"] as const)
        .default("allow" as const),
    )
    .option(
      "--trusted-key <file>",
      "a public key file whose signatures are trusted (repeatable)",
      collect,
    );
}

/** Collects a repeatable option's values. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Adds the options every `kv` subcommand takes: where the store is, its machines, its key. */
function withStoreOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  command: Command<A, O, G>,
) {
  return command
    .option("--kv <store>", "KV file path or KV Connect URL", DEFAULT_KV_PATH)
    .option("--machines <files...>", "machine scripts to register (default: examples/*.ts)")
    .option(
      "--key-env <name>",
      "environment variable holding the encryption key",
      DEFAULT_KEY_ENV,
    );
}

const positiveInt = commanderParser(parsePositiveInt);
const nonNegativeInt = commanderParser(parseNonNegativeInt);

/** A value parser of option_table.ts as commander's: its complaint as commander's error. */
function commanderParser<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (e) {
      throw e instanceof OptionValueError ? new commander.InvalidArgumentError(e.message) : e;
    }
  };
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
  const [first] = Deno.args;
  if (Deno.args.length === 1 && (first === "--version" || first === "-V")) {
    // What commander would print, without loading it: the floor of every start-up.
    console.log(denoJson.version);
    Deno.exit(0);
  }
  // A plain `run`, `repl` or `serve` line is read against the command's table without
  // commander (~27 ms of module loading); anything else (help, a mistake, an unusual form)
  // goes to commander, which prints its help and errors as always.
  const table = Object.hasOwn(TABLE_COMMANDS, first ?? "") ? TABLE_COMMANDS[first] : undefined;
  const fast = table === undefined ? null : parseFastArgs(table, Deno.args.slice(1));
  try {
    if (fast !== null) {
      await TABLE_BODIES[first as keyof typeof TABLE_BODIES](fast.args, fast.options);
    } else {
      // The command's own modules load while commander does (module loading overlaps I/O).
      if (first === "run") load("run").catch(() => {});
      else if (first === "repl") load("repl").catch(() => {});
      await loadCommander();
      await buildProgram().parseAsync(Deno.args, { from: "user" });
    }
  } catch (e) {
    report(e);
  }
  // Timers of user scripts (intervals, pending invocations) must not keep the process alive.
  Deno.exit(Deno.exitCode);
}
