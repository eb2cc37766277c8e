/**
 * Start-up latency, measured as a user sees it: from spawning the process to the first line
 * that matters.
 *
 * - `run`: `deno run --allow-read=. cli.ts run examples/traffic_light.ts --virtual-time` until
 *   its first transition line (target: under 150 ms).
 * - `repl`: `cli.ts repl --kv :memory:` on a pseudo-terminal (`script`) until the
 *   `statecraft> ` prompt, with the bundled plugins and with `--no-plugins` (target: under
 *   300 ms).
 * - `--help`: the CLI's floor (module graph, commander, no project).
 *
 * Repeated `Deno.Command` runs rather than hyperfine: hyperfine times a process to its exit,
 * and these are times to a line in the middle of its output. Prints median, p90 and min.
 *
 * ```sh
 * deno run --allow-read --allow-run=deno,script --allow-env tests/bench/startup.ts [runs]
 * ```
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname;
const RUNS = Number(Deno.args[0] ?? 15);
const WARMUP = 2;
/** `deno task statecraft`'s permissions. */
const TASK_FLAGS = ["--allow-read", "--allow-write", "--allow-env"];

interface Case {
  name: string;
  target?: number;
  program: string;
  args: string[];
  /** The output that ends the measurement (the process is then killed). */
  until: RegExp;
}

const deno = (...args: string[]) => ["run", ...args];
const repl = (
  extra: string[],
) => [
  "-qfec",
  ["deno", ...deno(...TASK_FLAGS, "cli.ts", "repl", "--kv", ":memory:", ...extra)].join(" "),
  "/dev/null",
];

const CASES: Case[] = [
  {
    name: "run traffic_light to first transition",
    target: 150,
    program: "deno",
    args: deno("--allow-read=.", "cli.ts", "run", "examples/traffic_light.ts", "--virtual-time"),
    until: /^\S+: .* -> /m,
  },
  {
    name: "repl to prompt (--no-plugins)",
    target: 300,
    program: "script",
    args: repl(["--no-plugins"]),
    until: /statecraft> /,
  },
  {
    name: "repl to prompt (bundled plugins)",
    target: 300,
    program: "script",
    args: repl([]),
    until: /statecraft> /,
  },
  {
    name: "cli.ts --help (floor)",
    program: "deno",
    args: deno("--allow-read=.", "cli.ts", "--help"),
    until: /^Usage: statecraft/m,
  },
];

/** Milliseconds from spawn to the first output matching `until`. */
async function once(c: Case): Promise<number> {
  const start = performance.now();
  const child = new Deno.Command(c.program, {
    args: c.args,
    cwd: ROOT,
    stdin: c.program === "script" ? "piped" : "null",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const decoder = new TextDecoder();
  let seen = "";
  let at: number | undefined;
  for await (const chunk of child.stdout) {
    seen += decoder.decode(chunk, { stream: true });
    if (c.until.test(seen)) {
      at = performance.now() - start;
      break;
    }
  }
  try {
    child.kill("SIGKILL");
  } catch {
    // It had exited.
  }
  if (c.program === "script") await child.stdin.close().catch(() => {});
  await child.status;
  if (at === undefined) throw new Error(`${c.name}: never printed ${c.until}:\n${seen}`);
  return at;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

console.log(
  `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${RUNS} runs each (after ${WARMUP} warm-up)`,
);
for (const c of CASES) {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const ms = await once(c);
    if (i >= WARMUP) times.push(ms);
  }
  times.sort((a, b) => a - b);
  const median = quantile(times, 0.5);
  const verdict = c.target === undefined
    ? ""
    : median < c.target
    ? `  (target < ${c.target} ms: met)`
    : `  (target < ${c.target} ms: MISSED)`;
  console.log(
    `${c.name.padEnd(40)} median ${median.toFixed(0).padStart(4)} ms  p90 ${
      quantile(times, 0.9).toFixed(0).padStart(4)
    } ms  min ${times[0].toFixed(0).padStart(4)} ms${verdict}`,
  );
}
