/**
 * `statecraft repl` with stdin piped, as a user runs it (`statecraft repl < lines.txt`): a
 * fresh store in a temporary folder, no plugins, no timings, no colours.
 *
 * @module
 */
import { type CliResult, ROOT } from "../cli/_run_cli.ts";

/** Runs the REPL on `stdin` with extra `args` and `env`; its exit code and output. */
export async function pipedRepl(
  stdin: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_repl_" });
  try {
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--allow-read",
        "--allow-write=/tmp",
        "--allow-env",
        "cli.ts",
        "repl",
        "--kv",
        `${dir}/state.kv`,
        "--no-plugins",
        "--no-timings",
        ...(options.args ?? []),
      ],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", STATECRAFT_HISTORY: `${dir}/history`, ...options.env },
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
