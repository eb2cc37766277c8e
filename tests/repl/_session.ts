/**
 * A REPL session in-process over a Runtime on a temp KV, capturing what it prints (no plugins
 * unless `plugins` names plugin directories).
 */
import { Runtime } from "../../lib/runtime/runtime.ts";
import { ReplSession } from "../../lib/repl/session.ts";

/** The repository's root. */
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A session and what it printed. */
export interface Captured {
  session: ReplSession;
  /** Result lines (stdout). */
  lines: string[];
  /** Error lines (stderr). */
  errors: string[];
  close(): Promise<void>;
}

/** Opens a runtime over `machines` (and `plugins` directories, if any) and a session on it. */
export async function openSession(
  machines: string[],
  options: { projectDir?: string; plugins?: string[] } = {},
): Promise<Captured> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_" });
  const runtime = await Runtime.open({
    projectDir: options.projectDir ?? ROOT,
    kv: `${dir}/state.kv`,
    machines,
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
    lines,
    errors,
    close: async () => {
      await runtime.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
