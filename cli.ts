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
import denoJson from "./deno.json" with { type: "json" };
import { CliError } from "./lib/cli/cli_error.ts";
import { importLazily } from "./lib/cli/lazy_import.ts";
import {
  DEFAULT_KEY_ENV,
  DEFAULT_KV_PATH,
  DIAGRAM_FORMATS,
  EXPORT_FORMATS,
  KV_STATUSES,
} from "./lib/cli/constants.ts";

// Each command's body is imported when that command runs, not at start-up: loading every
// command's module graph (store, plugins, SCXML, REPL) would cost every command ~150 ms.
// Commander itself (~40 ms of module loading) is imported only once a command line needs
// parsing: `--version` is answered without it (see the end of this file). The imports are not
// literal `import("...")`s, which Deno would load at start-up, taken or not (~40 ms here).

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

/** Commander's classes, once `loadCommander` has run. */
let commander: typeof import("@commander-js/extra-typings");

async function loadCommander(): Promise<void> {
  commander ??= await import("@commander-js/extra-typings");
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

  program
    .command("run")
    .description(
      "start a machine (in memory; durable with --kv, --plugins, --config), feed it events " +
        "and print each transition",
    )
    .argument("<machine>", "machine script (.ts or .js) or SCXML document (.scxml)")
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
    .option("--kv <store>", "durable: KV file path, :memory: or KV Connect URL")
    .option("--plugins <dirs...>", "durable: plugin directories to load")
    .option("--config <file>", "durable: the statecraft.yaml to read")
    .option("--instance <id>", "durable: instance id (an existing one continues)")
    .option("--durable", "run as a durable instance (implied by --kv, --plugins, --config)")
    .option(
      "--trusted",
      "SCXML: evaluate the document's expressions in this process (default: a Worker " +
        "without permissions)",
    )
    .option(
      "--time-limit <duration>",
      "SCXML without --trusted: stop the document when it runs this long without finishing " +
        "a step (a script or expression in a loop); default 5s, 0 for none",
    )
    .action(async (file, options) => finish(await (await load("run")).runCommand(file, options)));

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
  addReplCommand(program);
  addServeCommand(program);
  addClusterCommands(program);
  addScheduleCommands(program);
  addInstanceCommands(program);

  return program;
}

/** `statecraft repl [project-dir]`: the interactive session; body in lib/cli/repl.ts. */
function addReplCommand(program: Command): void {
  program
    .command("repl")
    .description(
      "an interactive session over a project's runtime: spawn, send (Tab completes accepted " +
        "events), state, history, rollback, diagram, and TypeScript lines; with stdin not a " +
        "terminal, runs the lines as a script (exit 1 if any failed)",
    )
    .argument("[project-dir]", "the project folder (default: the current directory)")
    .option("--kv <path|url>", "KV file, KV Connect or PostgreSQL URL (default: from the config)")
    .option("--config <file>", "the configuration file (default: <project>/statecraft.yaml)")
    .option("--plugins <dirs...>", "plugin directories (default: from the config)")
    .option("--no-plugins", "load no plugins")
    .option("--watch", "reload machine scripts when they change")
    .option("--no-timings", "no (0.4 ms) after sends and calls (for scripted sessions)")
    .option("--cluster", "join the store's cluster as a member (see docs/cluster.md)")
    .option("--node <name>", "this node's name in the cluster (implies --cluster)")
    .action(async (dir, options) => finish(await (await load("repl")).replCommand(dir, options)));
}

/** `statecraft serve [project-dir]`: the HTTP API; body in lib/cli/serve.ts. */
function addServeCommand(program: Command): void {
  program
    .command("serve")
    .description(
      "serve the project's runtime over HTTP (JSON API, SSE, /metrics, /openapi.json) until " +
        "Ctrl-C; loopback by default, a bearer token is required beyond it",
    )
    .argument("[project-dir]", "the project folder (default: the current directory)")
    .option("--port <n>", "port (default: server.port of the config, else 8787)", portNumber)
    .option("--host <host>", "interface (default: server.host of the config, else 127.0.0.1)")
    .option("--kv <path|url>", "KV file, KV Connect or PostgreSQL URL (default: from the config)")
    .option("--config <file>", "the configuration file (default: <project>/statecraft.yaml)")
    .option("--plugins <dirs...>", "plugin directories (default: from the config)")
    .option("--no-plugins", "load no plugins")
    .option(
      "--token-env <name>",
      "environment variable holding the bearer token (default: server.tokenEnv of the config)",
    )
    .option("--cluster", "join the store's cluster as a member (see docs/cluster.md)")
    .option("--node <name>", "this node's name in the cluster (implies --cluster)")
    .option("--max-body <bytes>", "largest request body (default 1048576)", positiveInt)
    .action(async (dir, options) => finish(await (await load("serve")).serveCommand(dir, options)));
}

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

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new commander.InvalidArgumentError("expected a positive whole number");
  }
  return Number(value);
}

function portNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new commander.InvalidArgumentError("expected a port number, 0 to 65535");
  }
  return Number(value);
}

function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) {
    throw new commander.InvalidArgumentError("expected a whole number, 0 or more");
  }
  return Number(value);
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
  // The command's own modules load while commander does (module loading overlaps I/O).
  if (first === "run") load("run").catch(() => {});
  else if (first === "repl") load("repl").catch(() => {});
  try {
    await loadCommander();
    await buildProgram().parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    report(e);
  }
  // Timers of user scripts (intervals, pending invocations) must not keep the process alive.
  Deno.exit(Deno.exitCode);
}
