/**
 * The REPL's operator actions (docs/operations.md, "Operator actions"): `cancel <id>
 * <reason...>`, `fork <id> [seq] [newId]` and `redrive <id> [effectId|invocation]`, on the
 * runtime's store (through the partition's owner in cluster mode), journaled as done by
 * `"repl"`; and the lines that show an instance's failed effects (`state` prints them).
 *
 * @module
 */
import type { InstanceInfo, RedrivenEffect, Store } from "../persist/types.ts";
import { ReplError, words } from "./arguments.ts";

/** The operator actions the REPL has, by command name. */
export const OPERATOR_COMMANDS: readonly string[] = ["cancel", "fork", "redrive"];

/**
 * Runs operator command `name` with its arguments `rest`; prints one line through `line`
 * (`states` formats an instance's configuration). Returns the instance acted on (for `fork`:
 * the fork). Mistakes are `ReplError`s; store errors pass through.
 *
 * @example
 * ```ts ignore
 * await operatorCommand(runtime.store, "cancel", "order-17 customer asked", fmt, console.log);
 * ```
 */
export async function operatorCommand(
  store: Store,
  name: string,
  rest: string,
  states: (info: InstanceInfo) => string,
  line: (text: string) => void,
): Promise<InstanceInfo> {
  switch (name) {
    case "cancel": {
      // The reason is the rest of the line: words(..., 0) takes the id and keeps the rest.
      const [id, reason] = words(rest, 1, "cancel <id> <reason...>", 0);
      if (reason === "") {
        throw new ReplError("usage: cancel <id> <reason...> (a reason is required)");
      }
      const info = await store.cancel(id, { reason, by: "repl" });
      line(`${id} cancelled (${reason}): ${states(info)}`);
      return info;
    }
    case "fork": {
      const [id, seqArg, newIdArg, extra] = words(rest, 3, "fork <id> [seq] [newId]", 1);
      if (extra !== "") {
        throw new ReplError(`usage: fork <id> [seq] [newId] (unexpected "${extra}")`);
      }
      let seq: number | undefined;
      let newId = newIdArg;
      if (/^\d+$/.test(seqArg)) seq = Number(seqArg);
      else if (seqArg !== "" && newIdArg === "") newId = seqArg; // fork <id> <newId>
      else if (seqArg !== "") {
        throw new ReplError(`fork: the seq must be a whole number, not "${seqArg}"`);
      }
      const info = await store.fork(id, newId === "" ? `${id}-fork` : newId, { seq, by: "repl" });
      line(`${info.id} forked from ${id} at seq ${seq ?? "latest"}: ${states(info)}`);
      return info;
    }
    case "redrive": {
      const usage = "redrive <id> [effectId|invocation]";
      const [id, pick, extra] = words(rest, 2, usage, 1);
      if (extra !== "") throw new ReplError(`usage: ${usage} (unexpected "${extra}")`);
      const info = await store.redrive(id, {
        by: "repl",
        effect: pick === "" || pick === "invocation" ? undefined : pick,
        invocation: pick === "invocation" ? true : undefined,
      });
      for (const e of info.redriven ?? []) line(`  effect ${effectLine(e)}`);
      line(`${id} redriven: ${states(info)}`);
      for (const l of failedEffectLines(info)) line(l);
      return info;
    }
    default:
      throw new ReplError(`not an operator command: ${name}`);
  }
}

/** One redriven effect: `<effect id>  delivered`, `... failed: <why>`, `... queued`. */
function effectLine(e: RedrivenEffect): string {
  return `${e.effectId}  ${e.outcome}${e.error === undefined ? "" : `: ${e.error}`}`;
}

/**
 * The lines that show an instance's failed effects (none when it has none): a heading, then
 * one line per effect with its target, event, failed runs and last error.
 *
 * @example
 * ```ts
 * import { failedEffectLines } from "./operator_commands.ts";
 * failedEffectLines({
 *   id: "o1", machine: "order", status: "active", archived: false, seq: 3, createdAt: 0,
 *   updatedAt: 0, configuration: ["paid"], context: {},
 *   failedEffects: [{
 *     effectId: "o1:send:3:0", target: "plugin:mail.send", event: "receipt", attempts: 2,
 *     error: "SMTP down", at: 0,
 *   }],
 * });
 * // ["failed effects (redrive <id> runs them again):",
 * //  "  o1:send:3:0  receipt -> plugin:mail.send, 2 failed runs: SMTP down"]
 * ```
 */
export function failedEffectLines(info: InstanceInfo): string[] {
  const failed = info.failedEffects ?? [];
  if (failed.length === 0) return [];
  return [
    "failed effects (redrive <id> runs them again):",
    ...failed.map((f) =>
      `  ${f.effectId}  ${f.event} -> ${f.target}, ${f.attempts} failed run${
        f.attempts === 1 ? "" : "s"
      }: ${f.error}`
    ),
  ];
}
