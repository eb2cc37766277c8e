/**
 * A command's arguments and options as data: one table per command, read by both parsers of
 * the command line. `commander_table.ts` builds commander's definitions from it (help texts,
 * error messages, everything unusual); `fast_args.ts` reads the plain command lines of
 * `run`, `repl` and `serve` against it without loading commander (~27 ms of start-up). This
 * module imports nothing, so that `cli.ts` can read the tables before it loads commander.
 *
 * @module
 */

/** One option of a command, as data. */
export interface OptionSpec {
  /** The long name without its dashes: `"events-file"`, `"no-plugins"` (a negation). */
  readonly long: string;
  /** A one-letter short name without its dash, if any. */
  readonly short?: string;
  /** The value's placeholder in the help (`"list"` shows `<list>`); absent: a flag. */
  readonly value?: string;
  /**
   * `<dirs...>`: the option takes every following argument up to the next option, and its
   * occurrences add up (commander's variadic option).
   */
  readonly variadic?: boolean;
  /** Each occurrence adds its value to a list (`--where a --where b`). */
  readonly repeatable?: boolean;
  /** The value when the option is not given (none: absent from the parsed options). */
  readonly default?: string;
  /** What the help says of it. */
  readonly description: string;
  /** The only values allowed (not with `parse`). */
  readonly choices?: readonly string[];
  /**
   * Turns the value into what the command receives; throws an `OptionValueError` saying what
   * was expected when the value is not acceptable.
   */
  readonly parse?: (value: string) => unknown;
  /** Another option (its attribute name) that cannot be given together with this one. */
  readonly conflicts?: string;
}

/** One positional argument of a command, as data. */
export interface ArgumentSpec {
  /** Its name in the help: `machine` shows `<machine>` (required) or `[machine]`. */
  readonly name: string;
  /** Whether it must be given. */
  readonly required: boolean;
  /** What the help says of it. */
  readonly description: string;
  /** The value when an optional argument is not given. */
  readonly default?: string;
}

/** A command's name, help, positional arguments and options. */
export interface CommandSpec {
  /** The command's name: `statecraft <name> ...`. */
  readonly name: string;
  /** What the help says of it. */
  readonly description: string;
  /** Its positional arguments, in order. */
  readonly arguments: readonly ArgumentSpec[];
  /** Its options, in the order the help lists them. */
  readonly options: readonly OptionSpec[];
}

/**
 * Thrown by an option's `parse` when a value is not acceptable; the message says what was
 * expected (commander prints it after `option '--port <n>' argument 'x' is invalid.`).
 *
 * @example
 * ```ts
 * import { OptionValueError, parsePortNumber } from "./option_table.ts";
 * try {
 *   parsePortNumber("http");
 * } catch (e) {
 *   console.assert(e instanceof OptionValueError);
 * }
 * ```
 */
export class OptionValueError extends Error {
  /** @param message what the value should have been */
  constructor(message: string) {
    super(message);
    this.name = "OptionValueError";
  }
}

/**
 * The option as commander spells it: `--events <list>`, `-p, --port <n>`, `--plugins <dirs...>`.
 *
 * @example
 * ```ts
 * import { optionFlags } from "./option_table.ts";
 * console.assert(optionFlags({ long: "for", value: "duration", description: "" }) === "--for <duration>");
 * ```
 */
export function optionFlags(option: OptionSpec): string {
  const value = option.value === undefined
    ? ""
    : ` <${option.value}${option.variadic === true ? "..." : ""}>`;
  return `${option.short === undefined ? "" : `-${option.short}, `}--${option.long}${value}`;
}

/**
 * The key of the option's value in the parsed options, as commander names it: the long name
 * in camel case, without a negation's `no-` (`--no-plugins` sets `plugins` to false).
 *
 * @example
 * ```ts
 * import { attributeName } from "./option_table.ts";
 * console.assert(attributeName({ long: "events-file", value: "file", description: "" }) === "eventsFile");
 * console.assert(attributeName({ long: "no-plugins", description: "" }) === "plugins");
 * ```
 */
export function attributeName(option: OptionSpec): string {
  return option.long.replace(/^no-/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Whether the option is a negation (`--no-x`) of an option named `x`.
 *
 * @example
 * ```ts
 * import { isNegation } from "./option_table.ts";
 * console.assert(isNegation({ long: "no-timings", description: "" }));
 * ```
 */
export function isNegation(option: OptionSpec): boolean {
  return option.long.startsWith("no-") && option.value === undefined;
}

/**
 * A positive whole number (`--max-body`, `--limit`).
 *
 * @example
 * ```ts
 * import { parsePositiveInt } from "./option_table.ts";
 * console.assert(parsePositiveInt("12") === 12);
 * ```
 */
export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new OptionValueError("expected a positive whole number");
  }
  return Number(value);
}

/**
 * A port number, 0 to 65535 (`serve --port`).
 *
 * @example
 * ```ts
 * import { parsePortNumber } from "./option_table.ts";
 * console.assert(parsePortNumber("8787") === 8787);
 * ```
 */
export function parsePortNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new OptionValueError("expected a port number, 0 to 65535");
  }
  return Number(value);
}

/**
 * A whole number, 0 or more (`--from`, `--at`).
 *
 * @example
 * ```ts
 * import { parseNonNegativeInt } from "./option_table.ts";
 * console.assert(parseNonNegativeInt("0") === 0);
 * ```
 */
export function parseNonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) {
    throw new OptionValueError("expected a whole number, 0 or more");
  }
  return Number(value);
}
