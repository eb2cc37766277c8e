/**
 * Start-up latency, measured as a user sees it: from spawning the process to the first line
 * that matters, each as a ratio to an empty `deno run` measured in the same run (the floor:
 * whatever the machine's load, a ratio compares like with like).
 *
 * - floor: `deno run tests/bench/_empty.ts` to its exit; the same on a pseudo-terminal
 *   (`script`), the floor of the prompt.
 * - `--version`: target within 1.5x of the floor.
 * - `run`: `cli.ts run examples/traffic_light.ts --virtual-time` until its first transition
 *   line: target within 1.5x of the floor.
 * - `repl`: `cli.ts repl --kv :memory:` with `deno task start`'s permissions, on a
 *   pseudo-terminal, until the `statecraft> ` prompt, with `--no-plugins` and with the bundled
 *   plugins: target within 2x of the pseudo-terminal floor (the store and plugins open behind
 *   the prompt). Also until the banner line, printed once the runtime is open.
 * - `--help`: commander's cost (not a target).
 *
 * The cases run in turn, round after round (A B C ... A B C ...), so the machine's drift hits
 * every case alike. Prints median, p90 and min per case and the median ratio to its floor.
 * With `--before <dir>` (another copy of the project, e.g. a `git worktree` of `HEAD`), each
 * `cli.ts` case also runs in that copy, in the same rounds, printed as `before: <case>`: a
 * before/after comparison under the same load.
 *
 * ```sh
 * deno run --allow-read --allow-run=deno,script --allow-env tests/bench/startup.ts [runs] \
 *   [--before <dir>]
 * ```
 *
 * @module
 */
const ROOT = new URL("../../", import.meta.url).pathname;
const beforeAt = Deno.args.indexOf("--before");
const BEFORE = beforeAt < 0 ? undefined : Deno.args[beforeAt + 1];
const RUNS = Number(Deno.args.find((a, i) => /^\d+$/.test(a) && i !== beforeAt + 1) ?? 15);
const WARMUP = 2;
/** `deno task start`'s permissions. */
const START_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-run",
  "--allow-sys=systemMemoryInfo,hostname",
];

interface Case {
  name: string;
  /** The floor case this one is compared with, and the largest ratio to it that meets the target. */
  floor?: { name: string; ratio: number };
  program: string;
  args: string[];
  /** The output that ends the measurement (the process is then killed); null: its exit. */
  until: RegExp | null;
  /** The project copy it runs in (default: this one). */
  cwd?: string;
}

const deno = (...args: string[]) => ["run", ...args];
const pty = (args: string[]) => ["-qfec", ["deno", ...args].join(" "), "/dev/null"];
const repl = (extra: string[]) =>
  pty(deno(...START_FLAGS, "cli.ts", "repl", "--kv", ":memory:", ...extra));
const FLOOR = "floor: empty deno run";
const PTY_FLOOR = "floor: empty deno run on a pty";

const CASES: Case[] = [
  { name: FLOOR, program: "deno", args: deno("tests/bench/_empty.ts"), until: null },
  { name: PTY_FLOOR, program: "script", args: pty(deno("tests/bench/_empty.ts")), until: null },
  {
    name: "cli.ts --version",
    floor: { name: FLOOR, ratio: 1.5 },
    program: "deno",
    args: deno("--allow-read=.", "cli.ts", "--version"),
    until: null,
  },
  {
    name: "run traffic_light to first transition",
    floor: { name: FLOOR, ratio: 1.5 },
    program: "deno",
    args: deno("--allow-read=.", "cli.ts", "run", "examples/traffic_light.ts", "--virtual-time"),
    until: /^\S+: .* -> /m,
  },
  {
    name: "repl to prompt (--no-plugins)",
    floor: { name: PTY_FLOOR, ratio: 2 },
    program: "script",
    args: repl(["--no-plugins"]),
    until: /statecraft> /,
  },
  {
    name: "repl to prompt (bundled plugins)",
    floor: { name: PTY_FLOOR, ratio: 2 },
    program: "script",
    args: repl([]),
    until: /statecraft> /,
  },
  {
    name: "repl to runtime open (bundled plugins)",
    program: "script",
    args: repl([]),
    until: /Statecraft REPL/,
  },
  {
    name: "cli.ts --help (commander)",
    program: "deno",
    args: deno("--allow-read=.", "cli.ts", "--help"),
    until: /^Usage: statecraft/m,
  },
];

if (BEFORE !== undefined) {
  // The same cli.ts cases in the other copy, right after each one, round after round.
  for (const c of [...CASES]) {
    if (!c.args.some((a) => a.includes("cli.ts"))) continue;
    CASES.splice(CASES.indexOf(c) + 1, 0, { ...c, name: `before: ${c.name}`, cwd: BEFORE });
  }
}

/** Milliseconds from spawn to the first output matching `until`. */
async function once(c: Case): Promise<number> {
  const start = performance.now();
  const child = new Deno.Command(c.program, {
    args: c.args,
    cwd: c.cwd ?? ROOT,
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
    if (c.until?.test(seen)) {
      at = performance.now() - start;
      break;
    }
  }
  if (c.until === null) at = performance.now() - start;
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
  `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${RUNS} rounds (after ${WARMUP} warm-up)${
    BEFORE === undefined ? "" : `, before: ${BEFORE}`
  }`,
);
const times = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
for (let i = 0; i < WARMUP + RUNS; i++) {
  for (const c of CASES) {
    const ms = await once(c);
    if (i >= WARMUP) times.get(c.name)!.push(ms);
  }
}
const medianOf = (name: string) => quantile([...times.get(name)!].sort((a, b) => a - b), 0.5);
for (const c of CASES) {
  const sorted = [...times.get(c.name)!].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  let verdict = "";
  if (c.floor !== undefined) {
    const ratio = median / medianOf(c.floor.name);
    verdict = `  ${ratio.toFixed(2)}x floor (target <= ${c.floor.ratio}x: ${
      ratio <= c.floor.ratio ? "met" : "MISSED"
    })`;
  }
  console.log(
    `${c.name.padEnd(BEFORE === undefined ? 40 : 48)} median ${
      median.toFixed(0).padStart(4)
    } ms  p90 ${quantile(sorted, 0.9).toFixed(0).padStart(4)} ms  min ${
      sorted[0].toFixed(0).padStart(4)
    } ms${verdict}`,
  );
}
