/**
 * The engine of this tree against the engine of an earlier commit, as ratios: each round runs
 * one process per tree (`_engine_one.ts`), the order alternating, and a case's ratio is the
 * median over rounds of (this tree's min / the other's min) of the same round, so that the
 * shared machine's load falls on both alike. Running both engines in one process was not
 * reliable (a copy of one engine measured up to 15 % apart from itself).
 *
 * ```sh
 * deno run --allow-read --allow-write=/tmp --allow-run=git,tar,deno --allow-env tests/bench/engine_ab.ts 8379d7f 10 300
 * ```
 *
 * Arguments: the commit to compare with, rounds (default 10), ms per case (default 300). The
 * other tree is extracted with `git archive` into a temporary folder, removed at the end.
 *
 * @module
 */
const ROOT = new URL("../../", import.meta.url).pathname;
const ONE = new URL("./_engine_one.ts", import.meta.url).pathname;
const [rev, roundsArg, msArg] = Deno.args;
if (rev === undefined) {
  console.error("usage: engine_ab.ts <commit> [rounds] [ms per case]");
  Deno.exit(2);
}
const rounds = Number(roundsArg ?? 10);
const ms = msArg ?? "300";

const other = await Deno.makeTempDir({ prefix: "statecraft-engine-ab-" });
try {
  const archive = new Deno.Command("git", { args: ["archive", rev], cwd: ROOT, stdout: "piped" })
    .spawn();
  const untar = new Deno.Command("tar", { args: ["-x", "-C", other], stdin: "piped" }).spawn();
  await archive.stdout.pipeTo(untar.stdin);
  if (!(await archive.status).success || !(await untar.status).success) {
    throw new Error(`could not extract ${rev}`);
  }
  const trees = [{ name: rev, dir: other }, { name: "this tree", dir: ROOT.replace(/\/$/, "") }];
  const results = new Map<string, Record<string, [number, number]>[]>(
    trees.map((t) => [t.name, []]),
  );
  for (let round = 0; round < rounds; round++) {
    for (const t of round % 2 === 0 ? trees : [...trees].reverse()) {
      const out = await new Deno.Command("deno", {
        args: ["run", "--allow-read", "--allow-env", ONE, t.dir, ms],
        cwd: ROOT,
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`${t.name}: the bench process failed`);
      results.get(t.name)!.push(JSON.parse(new TextDecoder().decode(out.stdout)));
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const base = results.get(rev)!, mine = results.get("this tree")!;
  console.log(`${rounds} rounds, ${ms} ms per case; µs per 1,000 events (starts), min of rounds`);
  console.log(`| case | ${rev} | this tree | ratio (median of rounds) | rounds |`);
  console.log("| --- | ---: | ---: | ---: | --- |");
  for (const name of Object.keys(base[0])) {
    const ratios = mine.map((r, i) => r[name][0] / base[i][name][0]);
    const min = (rs: Record<string, [number, number]>[]) =>
      Math.min(...rs.map((r) => r[name][0])).toFixed(1);
    console.log(
      `| ${name} | ${min(base)} | ${min(mine)} | ${median(ratios).toFixed(3)}x | ${
        ratios.map((x) => x.toFixed(2)).join(" ")
      } |`,
    );
  }
} finally {
  await Deno.remove(other, { recursive: true });
}
