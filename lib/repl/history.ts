/**
 * The REPL's line history, kept across sessions in a file: one line per entry, oldest first.
 * The file is `<project>/.statecraft/repl_history` (next to the default store: the ids and
 * machines in it belong to the project), or `$STATECRAFT_HISTORY` when set; set it empty to
 * keep no history.
 *
 * @module
 */

/** Entries kept (older ones are dropped when the file is read). */
export const HISTORY_SIZE = 1000;

/** The history file for a project, or null when history is off. */
export function historyPath(
  projectDir: string,
  env: (name: string) => string | undefined,
): string | null {
  const override = env("STATECRAFT_HISTORY");
  if (override !== undefined) return override === "" ? null : override;
  return `${projectDir.replace(/\/$/, "")}/.statecraft/repl_history`;
}

/** A history file: read once, appended to line by line (so a crash loses nothing). */
export class HistoryFile {
  /** Where it is. */
  readonly path: string;
  #last = "";

  /** A history kept in `path`. */
  constructor(path: string) {
    this.path = path;
  }

  /** The entries, most recent first (readline's order); none when the file is missing. */
  async load(): Promise<string[]> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch {
      return [];
    }
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    const kept = lines.slice(-HISTORY_SIZE);
    if (lines.length > 2 * HISTORY_SIZE) {
      await Deno.writeTextFile(this.path, kept.join("\n") + "\n").catch(() => {});
    }
    this.#last = kept.at(-1) ?? "";
    return kept.reverse();
  }

  /** Appends a line (not an empty one, nor a repeat of the previous). */
  async add(line: string): Promise<void> {
    const entry = line.replace(/\n/g, " ");
    if (entry.trim() === "" || entry === this.#last) return;
    this.#last = entry;
    try {
      const dir = this.path.slice(0, this.path.lastIndexOf("/"));
      if (dir !== "") await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(this.path, entry + "\n", { append: true });
    } catch {
      // No place to keep history (read-only project): the session goes on without it.
    }
  }
}
