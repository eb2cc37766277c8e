/**
 * The arguments and options of `statecraft run`, `repl` and `serve`, described once: `cli.ts`
 * builds their commander commands from these tables, and reads a plain command line of
 * theirs against the same tables without loading commander (`fast_args.ts`).
 *
 * @module
 */
import {
  type CommandSpec,
  type OptionSpec,
  parsePortNumber,
  parsePositiveInt,
} from "./option_table.ts";

/**
 * `statecraft run <machine>`: body in `lib/cli/run.ts`.
 *
 * @example
 * ```ts
 * import { RUN_COMMAND } from "./command_tables.ts";
 * console.assert(RUN_COMMAND.options.some((o) => o.long === "virtual-time"));
 * ```
 */
export const RUN_COMMAND: CommandSpec = {
  name: "run",
  description: "start a machine (in memory; durable with --kv, --plugins, --config), feed it " +
    "events and print each transition",
  arguments: [{
    name: "machine",
    required: true,
    description: "machine script (.ts or .js) or SCXML document (.scxml)",
  }],
  options: [
    {
      long: "events",
      value: "list",
      description: "comma-separated events; wait:<duration> lets time pass",
      conflicts: "eventsFile",
    },
    {
      long: "events-file",
      value: "file",
      description: 'JSONL file: {"type":"X",...}, "X" or {"wait": 1000} per line',
    },
    { long: "virtual-time", description: "use a virtual clock: timers fire without waiting" },
    {
      long: "for",
      value: "duration",
      description: "time to let pass after the events (default: 1m virtual, 0 real)",
    },
    {
      long: "machine",
      value: "id",
      description: "the machine to run when the script exports several",
    },
    {
      long: "kv",
      value: "store",
      description: "durable: KV file path, :memory: or KV Connect URL",
    },
    {
      long: "plugins",
      value: "dirs",
      variadic: true,
      description: "durable: plugin directories to load",
    },
    { long: "config", value: "file", description: "durable: the statecraft.yaml to read" },
    {
      long: "instance",
      value: "id",
      description: "durable: instance id (an existing one continues)",
    },
    {
      long: "durable",
      description: "run as a durable instance (implied by --kv, --plugins, --config)",
    },
    {
      long: "trusted",
      description: "SCXML: evaluate the document's expressions in this process (default: a " +
        "Worker without permissions)",
    },
    {
      long: "time-limit",
      value: "duration",
      description: "SCXML without --trusted: stop the document when it runs this long without " +
        "finishing a step (a script or expression in a loop); default 5s, 0 for none",
    },
  ],
};

/** `[project-dir]` of `repl` and `serve`. */
const PROJECT_DIR = {
  name: "project-dir",
  required: false,
  description: "the project folder (default: the current directory)",
} as const;

/** The store, configuration and plugins of `repl` and `serve`. */
const PROJECT_OPTIONS: OptionSpec[] = [
  {
    long: "kv",
    value: "path|url",
    description: "KV file, KV Connect or PostgreSQL URL (default: from the config)",
  },
  {
    long: "config",
    value: "file",
    description: "the configuration file (default: <project>/statecraft.yaml)",
  },
  {
    long: "plugins",
    value: "dirs",
    variadic: true,
    description: "plugin directories (default: from the config)",
  },
  { long: "no-plugins", description: "load no plugins" },
];

/** Cluster mode of `repl` and `serve`. */
const CLUSTER_OPTIONS: OptionSpec[] = [
  { long: "cluster", description: "join the store's cluster as a member (see docs/cluster.md)" },
  {
    long: "node",
    value: "name",
    description: "this node's name in the cluster (implies --cluster)",
  },
];

/**
 * `statecraft repl [project-dir]`: body in `lib/cli/repl.ts`.
 *
 * @example
 * ```ts
 * import { REPL_COMMAND } from "./command_tables.ts";
 * console.assert(REPL_COMMAND.options.some((o) => o.long === "no-plugins"));
 * ```
 */
export const REPL_COMMAND: CommandSpec = {
  name: "repl",
  description: "an interactive session over a project's runtime: spawn, send (Tab completes " +
    "accepted events), state, history, rollback, diagram, and TypeScript lines; with stdin " +
    "not a terminal, runs the lines as a script (exit 1 if any failed)",
  arguments: [PROJECT_DIR],
  options: [
    ...PROJECT_OPTIONS,
    { long: "watch", description: "reload machine scripts when they change" },
    {
      long: "no-timings",
      description: "no (0.4 ms) after sends and calls (for scripted sessions)",
    },
    ...CLUSTER_OPTIONS,
  ],
};

/**
 * `statecraft serve [project-dir]`: body in `lib/cli/serve.ts`.
 *
 * @example
 * ```ts
 * import { SERVE_COMMAND } from "./command_tables.ts";
 * console.assert(SERVE_COMMAND.options.some((o) => o.long === "port"));
 * ```
 */
export const SERVE_COMMAND: CommandSpec = {
  name: "serve",
  description: "serve the project's runtime over HTTP (JSON API, SSE, /metrics, " +
    "/openapi.json) until Ctrl-C; loopback by default, a bearer token is required beyond it",
  arguments: [PROJECT_DIR],
  options: [
    {
      long: "port",
      value: "n",
      description: "port (default: server.port of the config, else 8787)",
      parse: parsePortNumber,
    },
    {
      long: "host",
      value: "host",
      description: "interface (default: server.host of the config, else 127.0.0.1)",
    },
    ...PROJECT_OPTIONS,
    {
      long: "token-env",
      value: "name",
      description:
        "environment variable holding the bearer token (default: server.tokenEnv of the config)",
    },
    ...CLUSTER_OPTIONS,
    {
      long: "max-body",
      value: "bytes",
      description: "largest request body (default 1048576)",
      parse: parsePositiveInt,
    },
  ],
};
