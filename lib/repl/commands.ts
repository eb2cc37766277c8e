/**
 * The REPL's commands: names, arguments and help text, for `help` and for completion. The
 * bodies are in `session.ts`.
 *
 * @module
 */

/** What an argument position completes to. */
export type ArgKind =
  | "machine"
  | "instance"
  | "target"
  | "flag"
  | "event"
  | "checkpoint"
  | "plugin"
  | "action"
  | "file"
  | "command"
  | "none";

/** One command. */
export interface CommandSpec {
  /** What the user types. */
  name: string;
  /** Argument synopsis, as `help` shows it. */
  args: string;
  /** One line for `help`. */
  summary: string;
  /** More, for `help <command>`. */
  details?: string;
  /** What each argument position completes to. */
  complete: ArgKind[];
}

/** Every command, in the order `help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "spawn",
    args: "<machine> [id] [context-json]",
    summary: "start an instance (id default: generated); prints its states",
    details: 'spawn door front {"code":"1234"} overrides the initial context (a JSON object); ' +
      'spawn door {"code":"1234"} does the same with a generated id.',
    complete: ["machine", "none"],
  },
  {
    name: "send",
    args: "<id> <EVENT> [payload-json]",
    summary: "send an event; prints EVENT: before -> after (time)",
    details: 'send front LOCK {"code":"0000"}. Tab after the id completes the events the ' +
      "instance accepts now (guards ignored: they may depend on the payload).",
    complete: ["instance", "event"],
  },
  {
    name: "state",
    args: "[id]",
    summary: "configuration as a tree, context, accepted events",
    details: "Without an id: the instance used last. Events whose transitions are all " +
      'guarded off without a payload show as "(guarded)".',
    complete: ["instance"],
  },
  {
    name: "ls",
    args: "[--machine <id>] [--where <clause>]... [--sort <by[:asc|:desc]>]",
    summary: "instances with their machine, status and states",
    details: "--where customer=acme --where total>=100 --where tag=vip: search clauses, all " +
      "of which hold (field clauses need --machine; docs/operations.md, Search). " +
      "--sort total:desc (id, updatedAt, createdAt or a search field of --machine).",
    complete: [],
  },
  {
    name: "history",
    args: "<id>",
    summary: "the journal: seq, kind, event, states after",
    complete: ["instance"],
  },
  {
    name: "checkpoint",
    args: "<id> [label]",
    summary: "record a checkpoint (a label is a name, not a number)",
    complete: ["instance", "none"],
  },
  {
    name: "rollback",
    args: "<id> [seq|label]",
    summary: "move back to a journal seq or a checkpoint (default: the last checkpoint before now)",
    details: "Without a target: the latest checkpoint taken before the current seq (by " +
      "`checkpoint`, or the one every rollback records), so that repeated sends can be " +
      "undone back to the last checkpoint. A rollback is itself a journal entry.",
    complete: ["instance", "checkpoint"],
  },
  {
    name: "undo",
    args: "<id>",
    summary: "step back one event (a rollback to the seq before the last event)",
    complete: ["instance"],
  },
  {
    name: "watch",
    args: "[id]",
    summary: "stream committed transitions (all instances, or one) until an empty line",
    details: "Watching goes on while you type other commands; Enter on an empty line stops " +
      "every watch.",
    complete: ["instance"],
  },
  { name: "plugins", args: "", summary: "loaded plugins, their state and actions", complete: [] },
  {
    name: "call",
    args: "<plugin> <action> [payload-json]",
    summary: "call a plugin action; prints its result",
    complete: ["plugin", "action"],
  },
  {
    name: "diagram",
    args: "<id|machine> [--mermaid]",
    summary: "the chart as a tree with active states marked, or Mermaid with --mermaid",
    complete: ["target", "flag"],
  },
  {
    name: "load",
    args: "<file>",
    summary: "load another machine script and add its machines",
    details: "A machine already known is updated when only its code changed, migrated when " +
      "it declares a migration, else kept (the reason is printed). Loaded files take part " +
      "in reload and --watch.",
    complete: ["file"],
  },
  {
    name: "reload",
    args: "",
    summary: "load the machine scripts and plugin folders again; prints what changed",
    details: "Machines: added, updated, migrated or kept (with the reason). Plugins: a new " +
      "folder is loaded, a removed one unloaded, a changed one reloaded (the old version " +
      "serves until the new one is up), one that failed is tried again.",
    complete: [],
  },
  {
    name: "schedule",
    args: "[ls|add <json>|pause <name>|resume <name>|rm <name>]",
    summary: "cron schedules that create instances or send events",
    complete: ["none"],
  },
  {
    name: "cancel",
    args: "<id> <reason...>",
    summary: "stop an instance for good, with a reason (operator action, journaled)",
    details: "Its timers and invocations stop; events are refused from then on. A rollback " +
      "runs it again (docs/operations.md, Operator actions).",
    complete: ["instance", "none"],
  },
  {
    name: "fork",
    args: "<id> [seq] [newId]",
    summary: "a new instance from another's state at a journal seq (default: the latest)",
    details: "newId defaults to <id>-fork; fork <id> <newId> forks at the latest seq. The " +
      "fork's first journal entry names its origin.",
    complete: ["instance", "none"],
  },
  {
    name: "redrive",
    args: "<id> [effectId|invocation]",
    summary: "run the instance's failed effects again, else retry its failed invocation",
    details: "Failed effects (sends to plugins kept in the outbox; state <id> lists them) go " +
      "first; name one effect, or say invocation to retry the failed invocation instead " +
      "(docs/operations.md, Operator actions).",
    complete: ["instance", "none"],
  },
  { name: "help", args: "[command]", summary: "this list, or one command", complete: ["command"] },
  { name: "exit", args: "", summary: "close the runtime and quit (also Ctrl-D)", complete: [] },
];

/** The command named `name`, or undefined. */
export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name || (name === "quit" && c.name === "exit"));
}
