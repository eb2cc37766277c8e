/**
 * The values the command tree needs while it is built (option choices and defaults). Kept
 * apart from the command bodies so that `cli.ts` can load each body only when its command
 * runs: start-up loads commander and this file, not every command's module graph.
 *
 * @module
 */

/** The formats `statecraft diagram` writes. */
export const DIAGRAM_FORMATS = ["mermaid", "dot"] as const;
/** The formats `statecraft export` writes. */
export const EXPORT_FORMATS = ["scxml"] as const;
/** The statuses `kv ls --status` filters by. */
export const KV_STATUSES = ["active", "done", "stopped", "archived"] as const;
/** The store `kv` commands open by default. */
export const DEFAULT_KV_PATH = ".statecraft/state.kv";
/** The default name of the variable holding the encryption key. */
export const DEFAULT_KEY_ENV = "STATECRAFT_KEY";
