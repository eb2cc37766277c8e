/**
 * Runs the `statecraft` CLI as a subprocess from the repository root, the way a user runs it.
 *
 * @module
 */

/** The repository root (the CLI's working directory in the tests). */
export const ROOT: URL = new URL("../../", import.meta.url);

/** What one CLI run produced. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno <args>` in `cwd` (default: the repository root), without colours. */
export async function runDeno(
  args: string[],
  cwd: string | URL = ROOT,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const output = await new Deno.Command("deno", {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * The `deno run` flags of a CLI that may reach a store anywhere a test puts one: files under
 * /tmp, the network to 127.0.0.1 (PostgreSQL).
 */
export const STORE_FLAGS: readonly string[] = [
  "--allow-read",
  "--allow-write=/tmp",
  "--allow-env",
  "--allow-net=127.0.0.1",
];

/** Runs the CLI with `STORE_FLAGS` and collects its output. */
export function runStoreCli(...args: string[]): Promise<CliResult> {
  return runDeno(["run", ...STORE_FLAGS, "cli.ts", ...args]);
}

/** Runs `deno run --allow-read --allow-env cli.ts ...args` and collects its output. */
export function runCli(...args: string[]): Promise<CliResult> {
  return runDeno(["run", "--allow-read", "--allow-env", "cli.ts", ...args]);
}

/**
 * Offline: every request Deno makes goes to a proxy that is not there, so anything a project
 * needed from the network (JSR, npm) would fail; only Deno's cache and `"links"` can serve it.
 */
export const OFFLINE: Readonly<Record<string, string>> = {
  HTTPS_PROXY: "http://127.0.0.1:9",
  HTTP_PROXY: "http://127.0.0.1:9",
};

/**
 * Runs `deno <args>` offline in a project folder with `input` on stdin, as a user in that
 * folder would (its `deno.json`, its tasks); stdout and stderr together.
 */
export async function runInProject(
  args: string[],
  cwd: string,
  input = "",
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("deno", {
    args,
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...OFFLINE },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const r = await child.output();
  const decoder = new TextDecoder();
  return { code: r.code, output: decoder.decode(r.stdout) + decoder.decode(r.stderr) };
}

/** `statecraft init <dir> ...flags`, run from the repository as a user runs the CLI. */
export function initProject(dir: string, ...flags: string[]): Promise<CliResult> {
  return runDeno(["run", "--allow-read", "--allow-write=/tmp", "cli.ts", "init", dir, ...flags]);
}

/** Runs `fn` with a fresh directory under /tmp, removed afterwards. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The text at `line:col` of a file under the repository root (for "points at" checks). */
export async function textAt(file: string, line: number, col: number): Promise<string> {
  const source = await Deno.readTextFile(new URL(file, ROOT));
  return source.split("\n")[line - 1].slice(col - 1);
}

/** Writes a throwaway script into a fresh directory under /tmp, runs `fn` on it, removes it. */
export async function withTempScript<T>(
  name: string,
  text: string,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_cli_" });
  try {
    const path = `${dir}/${name}`;
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The `file:` URL of the library entry point, for throwaway scripts to import. */
export const MOD_URL: string = new URL("mod.ts", ROOT).href;

/** Asserts that no stack trace leaked into the output. */
export function noStackTrace(text: string): boolean {
  return !/^\s+at .+:\d+:\d+\)?$/m.test(text);
}
