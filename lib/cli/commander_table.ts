/**
 * Commander, and a commander command built from a command's table (`option_table.ts`): the
 * same flags, descriptions, defaults, choices and conflicts the fast parser (`fast_args.ts`)
 * reads, so each option is described once. `cli.ts` imports this module only when a command
 * line needs commander, by a specifier built at run time (`lazy_import.ts`): a literal
 * `import("@commander-js/extra-typings")` costs every start ~2.5 ms, taken or not.
 *
 * @module
 */
import * as commander from "@commander-js/extra-typings";
import {
  attributeName,
  type CommandSpec,
  optionFlags,
  type OptionSpec,
  OptionValueError,
} from "./option_table.ts";

/** Commander's classes (`Command`, `Option`, `InvalidArgumentError`, ...). */
export { commander };

/** The body a table's command runs: its positional arguments and its options object. */
export type TableAction = (
  args: (string | undefined)[],
  options: Record<string, unknown>,
) => Promise<void>;

/**
 * Adds `spec` as a subcommand of `parent`, its action calling `action` with what commander
 * parsed.
 *
 * @example
 * ```ts ignore
 * import { addTableCommand, commander } from "./commander_table.ts";
 * import { RUN_COMMAND } from "./command_tables.ts";
 * const program = new commander.Command().name("statecraft");
 * addTableCommand(program, RUN_COMMAND, async (args, options) => {
 *   console.log(args, options);
 * });
 * await program.parseAsync(["run", "door.ts", "--virtual-time"], { from: "user" });
 * ```
 */
export function addTableCommand(
  parent: commander.CommandUnknownOpts,
  spec: CommandSpec,
  action: TableAction,
): void {
  const command = parent.command(spec.name).description(spec.description);
  for (const argument of spec.arguments) {
    const made = new commander.Argument(
      argument.required ? `<${argument.name}>` : `[${argument.name}]`,
      argument.description,
    );
    command.addArgument(argument.default === undefined ? made : made.default(argument.default));
  }
  for (const option of spec.options) command.addOption(commanderOption(option));
  command.action(async (...received: unknown[]) => {
    // Commander calls the action with the arguments, then the options, then the command.
    const args = received.slice(0, spec.arguments.length) as (string | undefined)[];
    const options = received[spec.arguments.length] as Record<string, unknown>;
    await action(args, options);
  });
}

/** One option of a table as commander's `Option`. */
function commanderOption(spec: OptionSpec): commander.Option {
  if (spec.choices !== undefined && (spec.parse !== undefined || spec.repeatable === true)) {
    throw new Error(`option ${optionFlags(spec)}: choices cannot go with parse or repeatable`);
  }
  let option = new commander.Option(optionFlags(spec), spec.description);
  if (spec.default !== undefined) option = option.default(spec.default);
  if (spec.choices !== undefined) option = option.choices(spec.choices);
  if (spec.conflicts !== undefined) option = option.conflicts(spec.conflicts);
  const parse = spec.parse;
  const collects = spec.variadic === true || spec.repeatable === true;
  if (parse !== undefined || spec.repeatable === true) {
    option = option.argParser((value: string, previous: unknown) => {
      let parsed: unknown = value;
      if (parse !== undefined) {
        try {
          parsed = parse(value);
        } catch (e) {
          if (e instanceof OptionValueError) throw new commander.InvalidArgumentError(e.message);
          throw e;
        }
      }
      if (!collects) return parsed;
      // A default (a string) or a negation's false starts a new list, as for variadic options.
      return Array.isArray(previous) ? [...previous, parsed] : [parsed];
    });
  }
  // The attribute commander derives from the flags is the one the fast parser sets.
  if (option.attributeName() !== attributeName(spec)) {
    throw new Error(`option ${optionFlags(spec)}: attribute ${option.attributeName()}`);
  }
  return option as commander.Option;
}
