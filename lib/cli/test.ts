/**
 * `statecraft test [files...] [deno test flags]`: runs the project's tests with `deno test`
 * (a subprocess; default files `tests/`) while the testing kit records chart coverage, then
 * prints the coverage of every machine the tests tracked. The exit code is `deno test`'s.
 *
 * Flags starting with `-` pass through to `deno test` (give values with `=`:
 * `--allow-write=/tmp`). With no permission flag the tests get `--allow-read --allow-env`.
 * The kit appends its reports (JSON lines) to a temporary file named by
 * `STATECRAFT_COVERAGE_FILE`; the tests are also allowed to read that variable and write that
 * file, unless their flags already allow more.
 *
 * @module
 */
import { type CoverageReport, formatCoverage, mergeCoverage } from "../testing/coverage.ts";
import { CliError } from "./cli_error.ts";

/** Options of `statecraft test`. */
export interface TestOptions {
  /** Run only tests whose name matches (`deno test --filter`). */
  filter?: string;
  /** Also write the merged coverage reports (a JSON array) to this file. */
  coverageJson?: string;
}

/** Output sinks, so the command can be run in-process by tests and tools. */
export interface TestOutput {
  /** Receives each line of the coverage summary. */
  line(text: string): void;
  /** Receives warnings. */
  warn(text: string): void;
}

/** The environment variable the testing kit writes its coverage to. */
export const COVERAGE_FILE_ENV = "STATECRAFT_COVERAGE_FILE";

/**
 * Runs `deno test` on `args` (files and pass-through flags) with coverage collection; prints
 * the merged coverage table; returns `deno test`'s exit code.
 *
 * @example
 * ```ts ignore
 * import { testCommand } from "./test.ts";
 * const code = await testCommand(["tests/", "--allow-net=127.0.0.1"], {});
 * ```
 */
export async function testCommand(
  args: readonly string[],
  options: TestOptions,
  out: TestOutput = { line: (t) => console.log(t), warn: (t) => console.error(t) },
): Promise<number> {
  const flags = args.filter((a) => a.startsWith("-"));
  const files = args.filter((a) => !a.startsWith("-"));
  const coverageFile = await Deno.makeTempFile({
    prefix: "statecraft_coverage_",
    suffix: ".jsonl",
  });
  try {
    const denoArgs = [
      "test",
      ...permissionFlags(flags, coverageFile),
      ...(options.filter !== undefined ? ["--filter", options.filter] : []),
      ...(files.length > 0 ? files : ["tests/"]),
    ];
    const status = await spawnDeno(denoArgs, coverageFile).status;
    const reports = mergeCoverage(parseCoverageLines(await Deno.readTextFile(coverageFile), out));
    out.line("");
    out.line("statecraft: chart coverage");
    out.line(formatCoverage(reports));
    if (options.coverageJson !== undefined) {
      await Deno.writeTextFile(options.coverageJson, JSON.stringify(reports, null, 2) + "\n");
    }
    return status.code;
  } finally {
    await Deno.remove(coverageFile).catch(() => {});
  }
}

/**
 * The permission flags of the `deno test` run: the user's (default `--allow-read
 * --allow-env`), plus leave to read the coverage variable and write the coverage file, unless
 * an unscoped flag already grants it (a scoped flag after an unscoped one would narrow it).
 */
export function permissionFlags(flags: readonly string[], coverageFile: string): string[] {
  const permission = /^(-A|--allow-all|--allow-[a-z]+(=.*)?)$/;
  const out = flags.some((f) => permission.test(f)) ? [...flags] : [
    "--allow-read",
    "--allow-env",
    ...flags,
  ];
  const all = out.includes("-A") || out.includes("--allow-all");
  if (!all && !out.includes("--allow-env")) out.push(`--allow-env=${COVERAGE_FILE_ENV}`);
  if (!all && !out.includes("--allow-write")) out.push(`--allow-write=${coverageFile}`);
  return out;
}

function parseCoverageLines(text: string, out: TestOutput): CoverageReport[] {
  const reports: CoverageReport[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    try {
      const r = JSON.parse(line) as CoverageReport;
      if (typeof r?.machine !== "string" || typeof r.states?.hits !== "object") {
        throw new Error("not a coverage report");
      }
      reports.push(r);
    } catch (e) {
      out.warn(
        `warning: coverage line ${i + 1} skipped: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  return reports;
}

/**
 * Starts `deno` from PATH (what `--allow-run=deno` allows), or, when PATH has none, the deno
 * running this.
 */
function spawnDeno(args: string[], coverageFile: string): Deno.ChildProcess {
  const start = (program: string) =>
    new Deno.Command(program, {
      args,
      env: { [COVERAGE_FILE_ENV]: coverageFile },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  try {
    try {
      return start("deno");
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      const exec = Deno.execPath();
      if (!/^deno(\.exe)?$/.test(exec.split(/[\\/]/).pop() ?? "")) throw e;
      return start(exec);
    }
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new CliError(`cannot start deno test: ${why} (statecraft test needs --allow-run=deno)`);
  }
}
