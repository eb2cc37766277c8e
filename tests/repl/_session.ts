/**
 * A REPL session in-process over a Runtime on a temp KV (or the store at `kv`), capturing what
 * it prints (no plugins unless `plugins` names plugin directories).
 */
import type { Machine } from "../../lib/core/machine.ts";
import { Runtime } from "../../lib/runtime/runtime.ts";
import { ReplSession } from "../../lib/repl/session.ts";

/** The repository's root. */
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A session and what it printed. */
export interface Captured {
  session: ReplSession;
  runtime: Runtime;
  /** Result lines (stdout). */
  lines: string[];
  /** Error lines (stderr). */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Opens a runtime over `machines` (files; `extraMachines`, machines given as objects; `plugins`
 * directories, if any) on the store at `kv` (default: one in a temp directory, removed on
 * close), and a session on it.
 */
export async function openSession(
  machines: string[],
  options: {
    projectDir?: string;
    plugins?: string[];
    kv?: string;
    // deno-lint-ignore no-explicit-any
    extraMachines?: Machine<any, any>[];
  } = {},
): Promise<Captured> {
  const dir = options.kv === undefined
    ? await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_" })
    : undefined;
  const runtime = await Runtime.open({
    projectDir: options.projectDir ?? ROOT,
    kv: options.kv ?? `${dir}/state.kv`,
    machines,
    extraMachines: options.extraMachines as Machine<Record<string, unknown>>[] | undefined,
    noPlugins: options.plugins === undefined,
    plugins: options.plugins,
    log: () => {},
  });
  const lines: string[] = [];
  const errors: string[] = [];
  const session = new ReplSession(runtime, {
    line: (t) => lines.push(t),
    error: (t) => errors.push(t),
  }, { timings: false, cwd: ROOT });
  return {
    session,
    runtime,
    lines,
    errors,
    close: async () => {
      await runtime.close();
      if (dir !== undefined) await Deno.remove(dir, { recursive: true });
    },
  };
}
