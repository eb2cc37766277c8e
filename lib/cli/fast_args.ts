/**
 * Reads a plain command line against a command's table (`option_table.ts`) without loading
 * commander: known long options (`--kv x`, `--kv=x`, `--watch`, `--no-plugins`), their
 * short names alone (`-k x`), values that do not look like options, the right number of
 * positional arguments. It gives what commander would give for such a line (the same
 * positional arguments, the same options object: defaults, negations, variadic lists, last
 * value wins) and refuses everything else (`null`): help, unknown options, a missing or
 * dash-led value, a value outside the choices, conflicting options, too many or too few
 * arguments, `--`, combined short options, negative numbers. A refused line goes to
 * commander, which parses it or prints its help or error exactly as it always has.
 *
 * @module
 */
import { attributeName, type CommandSpec, isNegation, type OptionSpec } from "./option_table.ts";

/** A command line the fast parser understood: what commander's action would receive. */
export interface FastArgs {
  /** The positional arguments, one per declared argument (a missing optional one: its default). */
  readonly args: (string | undefined)[];
  /** The options, keyed like commander's `opts()`: only those given or with a default. */
  readonly options: Record<string, unknown>;
}

/** Names commander reads itself, wherever they are (the program's `--help` and `--version`). */
const RESERVED = new Set(["help", "version", "h", "V"]);

/** What commander takes for an option rather than a value or an operand. */
const looksLikeOption = (arg: string) => arg.length > 1 && arg[0] === "-";

/**
 * Parses `argv` (the arguments after the command's name) against `spec`; `null` when the line
 * is not a plain one and commander must read it.
 *
 * @example
 * ```ts
 * import { parseFastArgs } from "./fast_args.ts";
 * import { RUN_COMMAND } from "./command_tables.ts";
 * const parsed = parseFastArgs(RUN_COMMAND, ["door.ts", "--events", "OPEN", "--virtual-time"]);
 * console.assert(parsed?.args[0] === "door.ts" && parsed.options.virtualTime === true);
 * console.assert(parseFastArgs(RUN_COMMAND, ["door.ts", "--help"]) === null);
 * ```
 */
export function parseFastArgs(spec: CommandSpec, argv: readonly string[]): FastArgs | null {
  const byLong = new Map<string, OptionSpec>();
  const byShort = new Map<string, OptionSpec>();
  for (const option of spec.options) {
    if (!RESERVED.has(option.long)) byLong.set(option.long, option);
    if (option.short !== undefined && !RESERVED.has(option.short)) {
      byShort.set(option.short, option);
    }
  }
  const options = defaults(spec);
  const given = new Set<string>();
  const positionals: string[] = [];
  let variadic: OptionSpec | null = null;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!looksLikeOption(arg)) {
      if (variadic !== null) {
        if (!assign(options, variadic, arg)) return null;
      } else {
        positionals.push(arg);
      }
      continue;
    }
    variadic = null;
    let option: OptionSpec | undefined;
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 2) {
      // --name=value: only an option that takes a value.
      option = byLong.get(arg.slice(2, eq));
      if (option?.value === undefined) return null;
      value = arg.slice(eq + 1);
    } else {
      option = arg.startsWith("--")
        ? byLong.get(arg.slice(2))
        : arg.length === 2
        ? byShort.get(arg[1])
        : undefined; // -abc: commander reads combined short options
      if (option === undefined) return null;
      if (option.value !== undefined) {
        value = argv[++i];
        // Commander would take a dash-led value (even `--help`) as it is; leave those to it.
        if (value === undefined || looksLikeOption(value)) return null;
        if (option.variadic === true) variadic = option;
      }
    }
    if (!assign(options, option, value)) return null;
    given.add(attributeName(option));
  }

  for (const option of spec.options) {
    if (
      option.conflicts !== undefined && given.has(attributeName(option)) &&
      given.has(option.conflicts)
    ) return null;
  }
  const required = spec.arguments.filter((a) => a.required).length;
  if (positionals.length < required || positionals.length > spec.arguments.length) return null;
  return { args: spec.arguments.map((a, i) => positionals[i] ?? a.default), options };
}

/** The options' values before the command line is read, as commander sets them. */
function defaults(spec: CommandSpec): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  spec.options.forEach((option, index) => {
    const key = attributeName(option);
    if (isNegation(option)) {
      // --no-x alone defaults x to true; after an --x option, it leaves x's default alone.
      const positive = option.long.slice("no-".length);
      if (!spec.options.slice(0, index).some((o) => o.long === positive)) {
        options[key] = option.default ?? true;
      }
    } else if (option.default !== undefined) {
      options[key] = option.default;
    }
  });
  return options;
}

/** Sets one occurrence of `option` (with its value, if it takes one); false: not acceptable. */
function assign(
  options: Record<string, unknown>,
  option: OptionSpec,
  value: string | undefined,
): boolean {
  const key = attributeName(option);
  if (value === undefined) {
    options[key] = !isNegation(option);
    return true;
  }
  let parsed: unknown = value;
  if (option.choices !== undefined && !option.choices.includes(value)) return false;
  if (option.parse !== undefined) {
    try {
      parsed = option.parse(value);
    } catch {
      return false;
    }
  }
  const previous = options[key];
  if (option.variadic === true || option.repeatable === true) {
    // Commander starts a new list over a default (a string) or false (from --no-x).
    options[key] = Array.isArray(previous) ? [...previous, parsed] : [parsed];
  } else {
    options[key] = parsed;
  }
  return true;
}
