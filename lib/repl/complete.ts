/**
 * Tab completion for the REPL: command names, then by argument position machine names,
 * instance ids, the events an instance accepts in its current configuration, checkpoint
 * labels, plugins and their actions, files; in code lines, instance handles and their
 * members, and the accepted events inside `<id>.send("`.
 *
 * @module
 */
import { type ArgKind, COMMANDS, findCommand } from "./commands.ts";
import { isBindableName } from "./evaluate.ts";
import { type ReplSession, userEvents } from "./session.ts";

/** Handle members offered after `<id>.`. */
const HANDLE_MEMBERS = [
  "send(",
  "state",
  "configuration",
  "context",
  "status",
  "seq",
  "accepts",
  "machine",
  "matches(",
  "can(",
  "history(",
  "checkpoint(",
  "rollback(",
  "undo(",
  "inspect(",
  "watch(",
  "refresh(",
];

/**
 * Completes a line: returns the candidates and the text they replace (readline's
 * `[completions, substring]`). Never throws: a failing lookup completes nothing.
 *
 * @example
 * ```ts ignore
 * await completeLine(session, "send front ");  // [["CLOSE", "LOCK"], ""]
 * await completeLine(session, "sp");           // [["spawn "], "sp"]
 * ```
 */
export async function completeLine(
  session: ReplSession,
  line: string,
): Promise<[string[], string]> {
  try {
    return await complete(session, line);
  } catch {
    return [[], ""];
  }
}

async function complete(session: ReplSession, line: string): Promise<[string[], string]> {
  const words = line.split(/\s+/);
  const word = words.at(-1) ?? "";
  const command = findCommand(words[0]);
  if (words.length === 1) {
    await session.refreshIds();
    const names = [
      ...COMMANDS.map((c) => `${c.name} `),
      ...session.instanceIds.filter(isBindableName),
      "runtime",
    ];
    const code = await completeCode(session, line);
    if (code !== null) return code;
    return [names.filter((n) => n.startsWith(word)), word];
  }
  if (command === undefined || /^[=(.[`]/.test(words[1] ?? "")) {
    return (await completeCode(session, line)) ?? [[], word];
  }
  const position = words.length - 2;
  const kind: ArgKind = command.complete[position] ?? "none";
  const candidates = await candidatesFor(session, kind, words);
  const matching = candidates.filter((c) => c.startsWith(word));
  // A lone match gets its trailing space when more arguments may follow.
  const more = position + 1 < command.complete.length && kind !== "file";
  return [matching.length === 1 && more ? [`${matching[0]} `] : matching, word];
}

async function candidatesFor(
  session: ReplSession,
  kind: ArgKind,
  words: string[],
): Promise<string[]> {
  const runtime = session.runtime;
  switch (kind) {
    case "machine":
      return [...runtime.machines.keys()].sort();
    case "instance":
      return await session.refreshIds();
    case "target":
      return [...await session.refreshIds(), ...[...runtime.machines.keys()].sort()];
    case "flag":
      return ["--mermaid"];
    case "event":
      return userEvents(await runtime.acceptedEvents(words[1], { ignoreGuards: true })).sort();
    case "checkpoint": {
      const checkpoints = await runtime.store.checkpoints(words[1]);
      return checkpoints.map((c) => c.label ?? String(c.seq));
    }
    case "plugin":
      return runtime.plugins.list().map((p) => p.name).sort();
    case "action":
      return runtime.plugins.get(words[1])?.actions ?? [];
    case "command":
      return COMMANDS.map((c) => c.name);
    case "file":
      return await files(words.at(-1) ?? "");
    default:
      return [];
  }
}

async function files(prefix: string): Promise<string[]> {
  const slash = prefix.lastIndexOf("/");
  const dir = slash < 0 ? "." : prefix.slice(0, slash + 1) || "/";
  const base = slash < 0 ? "" : prefix.slice(0, slash + 1);
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".") && !prefix.slice(slash + 1).startsWith(".")) continue;
    if (e.isDirectory) out.push(`${base}${e.name}/`);
    else if (/\.(m?[jt]sx?|scxml)$/.test(e.name)) out.push(`${base}${e.name}`);
  }
  return out.sort();
}

/** Code lines: `front.` members, `front.send("` events. Null when nothing applies. */
async function completeCode(
  session: ReplSession,
  line: string,
): Promise<[string[], string] | null> {
  const send = /([A-Za-z_$][\w$]*)\.send\(\s*["']([A-Za-z0-9_.*-]*)$/.exec(line);
  if (send !== null && session.instanceIds.includes(send[1])) {
    const events = userEvents(
      await session.runtime.acceptedEvents(send[1], { ignoreGuards: true }),
    );
    return [events.filter((e) => e.startsWith(send[2])).sort(), send[2]];
  }
  const member = /([A-Za-z_$][\w$]*)\.([\w$]*)$/.exec(line);
  if (member !== null) {
    await session.refreshIds();
    if (!session.instanceIds.includes(member[1])) return null;
    return [
      HANDLE_MEMBERS.filter((m) => m.startsWith(member[2])).map((m) => `${member[1]}.${m}`),
      `${member[1]}.${member[2]}`,
    ];
  }
  return null;
}
