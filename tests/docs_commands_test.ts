/**
 * Every command the README and docs/*.md show runs as written, in order, on a fresh copy of
 * the working tree (tracked and new files, nothing ignored: no store, no keys) with a fresh
 * store: exit 0, no stack trace, no "this is a bug", and none of the signs of a command that
 * silently did the wrong thing (an event listed with `--events` that takes no transition, an
 * id that already exists, an HTTP error body).
 *
 * What counts as a command:
 * - each line of a ```sh fence (backslash continuations joined; comment lines skipped); a
 *   `cd` carries over to the next lines of the same fence, and every fence starts at the root;
 * - an indented block of `statecraft> ` lines is a REPL session: its lines (not the `<Tab>`
 *   demonstrations) are fed to `deno task start` on stdin, and the output lines it shows must
 *   appear in what the REPL printed (timings aside);
 * - an indented block of lines starting with `deno ` is shell commands;
 * - a ```ts fence whose first line imports from "./" is a program: it runs with `deno run -A`
 *   from the root.
 *
 * Each runs through Deno's task shell (`deno task --eval`), which understands the quoting,
 * `&&`, pipes, redirections and globs the docs use, with a timeout. Two substitutions, both
 * placeholders the reader is told to replace: `/path/to/statecraft` is the copy, and
 * `localhost:8787` is a `deno task serve` the test starts (and stops) on a free port for the
 * fences that call it. `deno install --global` installs into the temp folder
 * (`DENO_INSTALL_ROOT`), whose `bin` is first on PATH, so bare `statecraft` commands are the
 * installed command, as for the reader.
 *
 * Commands that cannot run here are in `NOT_RUN`, each with its reason; keep it short. A new
 * command in the docs that cannot run here fails this test until it is listed.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
/** Per command; a run that waits in real time for what `--virtual-time` would skip fails. */
const TIMEOUT_MS = 20_000;

/** Commands not run, with why. `where` is the folder the command would run in. */
const NOT_RUN: { match: RegExp; reason: string; inRoot?: boolean }[] = [
  { match: /^npx /, reason: "fetches Deno through npm; the tasks it runs are run as deno task" },
  {
    match: /^deno task (test|check)\b/,
    inRoot: true,
    reason: "the repository's whole check and test suite (minutes), this test among them",
  },
  {
    match: /^deno (task )?(bench|conformance)\b|tests\/bench\//,
    reason: "benchmarks and the W3C suite: minutes of CPU",
  },
  { match: /postgres:\/\//, reason: "needs a PostgreSQL server" },
  {
    match: /^git worktree /,
    reason:
      "a benchmark's before/after copy: needs a git checkout (this test runs in a plain copy)",
  },
  { match: /localhost:8788\/cluster/, reason: "needs the PostgreSQL cluster started above" },
  { match: /^curl -N /, reason: "streams Server-Sent Events until interrupted" },
  {
    match: /^statecraft cluster status --kv \.statecraft/,
    reason: "needs a store that has run in cluster mode (the servers above)",
  },
  {
    match: /joinCluster\(backend, /,
    reason: "a fragment of the store's own code (`backend`, `K` are lib/persist's)",
  },
  { match: /\| dot -T/, reason: "needs Graphviz's dot" },
  {
    match: /^statecraft (test|replay)\b/,
    reason: "docs/testing.md's commands are for a user's project (tests/door_test.ts...)",
  },
];

/** One command as the docs show it. */
interface DocCommand {
  /** `README.md:68`. */
  where: string;
  /** The command line, or the program (`ts`), or the REPL lines (`repl`). */
  text: string;
  kind: "sh" | "repl" | "ts";
  /** The fence it belongs to (a `cd` lasts until the fence ends). */
  fence: number;
  /** For `repl`: the output lines the docs show. */
  shown?: string[];
}

/** Commands of one Markdown file, in order. */
export function extractCommands(file: string, markdown: string, fenceBase = 0): DocCommand[] {
  const lines = markdown.split("\n");
  const out: DocCommand[] = [];
  let fence = fenceBase;
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)/.exec(lines[i]);
    if (open !== null) {
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) body.push(lines[i]);
      fence++;
      if (open[1] === "sh") {
        for (let j = 0; j < body.length; j++) {
          let text = body[j];
          const at = start + j + 2;
          while (text.endsWith("\\") && j + 1 < body.length) text = text.slice(0, -1) + body[++j];
          text = text.trim();
          if (text === "" || text.startsWith("#")) continue;
          out.push({ where: `${file}:${at}`, text, kind: "sh", fence });
        }
      } else if (open[1] === "ts" && /^import .* from "\.\//.test(body[0] ?? "")) {
        out.push({ where: `${file}:${start + 1}`, text: body.join("\n"), kind: "ts", fence });
      }
      continue;
    }
    if (/^ {4}\S/.test(lines[i]) && (i === 0 || lines[i - 1].trim() === "")) {
      const start = i;
      const block: string[] = [];
      for (; i < lines.length && /^ {4}/.test(lines[i]); i++) block.push(lines[i].slice(4));
      i--;
      fence++;
      if (block.some((l) => l.startsWith("statecraft> "))) {
        const input: string[] = [];
        const shown: string[] = [];
        let tab = false;
        for (const l of block) {
          if (l.startsWith("statecraft> ")) {
            tab = l.includes("<Tab>");
            if (!tab) input.push(l.slice("statecraft> ".length));
          } else if (!tab) shown.push(l);
        }
        out.push({
          where: `${file}:${start + 1}`,
          text: input.join("\n"),
          kind: "repl",
          fence,
          shown,
        });
      } else if (block.every((l) => /^deno /.test(l))) {
        block.forEach((text, j) =>
          out.push({ where: `${file}:${start + j + 1}`, text, kind: "sh", fence })
        );
      }
    }
  }
  return out;
}

/** The tracked and new (not ignored) files of the working tree, copied into `dest`. */
async function copyWorkingTree(dest: string): Promise<void> {
  const list = await new Deno.Command("deno", {
    args: ["task", "--quiet", "--eval", "git ls-files -z --cached --others --exclude-standard"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(list.code, 0, new TextDecoder().decode(list.stderr));
  const files = new TextDecoder().decode(list.stdout).split("\0").filter((f) => f !== "");
  for (const f of files) {
    const from = `${ROOT}/${f}`;
    const info = await Deno.lstat(from).catch(() => null);
    if (info === null || !info.isFile) continue; // deleted in the working tree, or a link
    await Deno.mkdir(`${dest}/${f}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.copyFile(from, `${dest}/${f}`);
  }
}

interface Ran {
  code: number;
  output: string;
  timedOut: boolean;
}

async function run(
  command: string,
  cwd: string,
  env: Record<string, string>,
  stdin?: string,
): Promise<Ran> {
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  const child = new Deno.Command("deno", {
    args: ["task", "--quiet", "--eval", command],
    cwd,
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal,
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin + "\n"));
    await writer.close();
  }
  const result = await child.output();
  const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
  return { code: result.code, output: text, timedOut: signal.aborted };
}

/** `deno task serve` on a free port, ready when it says where it listens. */
async function startServer(
  cwd: string,
  env: Record<string, string>,
): Promise<{ port: number; stop(): Promise<void> }> {
  const child = new Deno.Command("deno", {
    args: ["task", "--quiet", "serve", "--port", "0"],
    cwd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let seen = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${seen}`)), TIMEOUT_MS);
    for (const stream of [child.stdout, child.stderr]) {
      (async () => {
        for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
          seen += chunk;
          const m = /http:\/\/[^\s:]+:(\d+)/.exec(seen);
          if (m !== null) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        }
      })();
    }
    child.status.then((s) => reject(new Error(`serve exited ${s.code}:\n${seen}`)));
  });
  return {
    port,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** What a command that went wrong leaves in its output, though it may exit 0. */
const SIGNS: { match: RegExp; what: string; when?: RegExp }[] = [
  { match: /^\s+at .*:\d+:\d+\)?$/m, what: "a stack trace" },
  { match: /this is a bug/, what: '"this is a bug"' },
  // Events listed on the command line are there to show transitions (an events file may
  // show a guard saying no on purpose).
  { match: /\(no transition\)/, what: "an event the machine does not take", when: /--events / },
  { match: /already exists/, what: "an id that already exists" },
  { match: /^\{"error":/m, what: "an HTTP error body" },
];

function notRun(c: DocCommand, inRoot: boolean): string | undefined {
  return NOT_RUN.find((n) =>
    n.match.test(c.text) && (n.inRoot === undefined || n.inRoot === inRoot)
  )?.reason;
}

Deno.test({
  name: "docs: every command in README.md and docs/*.md runs as written, in order",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const docs = ["README.md"];
    for await (const e of Deno.readDir(`${ROOT}/docs`)) {
      if (e.isFile && e.name.endsWith(".md")) docs.push(`docs/${e.name}`);
    }
    docs.sort((a, b) => a === "README.md" ? -1 : b === "README.md" ? 1 : a.localeCompare(b));
    const commands: DocCommand[] = [];
    for (const f of docs) {
      commands.push(
        ...extractCommands(f, await Deno.readTextFile(`${ROOT}/${f}`), commands.length),
      );
    }

    const tmp = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_docs_" });
    const root = `${tmp}/statecraft`;
    await copyWorkingTree(root);
    const env = {
      PATH: `${tmp}/install/bin:${Deno.env.get("PATH")}`,
      DENO_INSTALL_ROOT: `${tmp}/install`,
      NO_COLOR: "1",
      STATECRAFT_HISTORY: "",
    };
    let server: { port: number; stop(): Promise<void> } | null = null;
    let fence = -1;
    let cwd = root;
    try {
      for (const c of commands) {
        if (c.fence !== fence) {
          fence = c.fence;
          cwd = root;
          if (server !== null) await server.stop();
          server = null;
        }
        let text = c.text.replaceAll("/path/to/statecraft", root);
        const reason = notRun(c, cwd === root);
        const name = `${c.where} ${c.kind === "sh" ? text : c.kind}`.slice(0, 120);
        if (reason !== undefined) {
          await t.step({ name: `${name} (not run: ${reason})`, ignore: true, fn: () => {} });
          continue;
        }
        const cd = /^cd (\S+)$/.exec(text);
        if (cd !== null) {
          cwd = cd[1].startsWith("/") ? cd[1] : `${cwd}/${cd[1]}`;
          continue;
        }
        if (text.includes("localhost:8787")) {
          server ??= await startServer(root, env);
          text = text.replaceAll("localhost:8787", `127.0.0.1:${server.port}`);
        }
        await t.step(name, async () => {
          let ran: Ran;
          if (c.kind === "repl") ran = await run("deno task start", cwd, env, text);
          else if (c.kind === "ts") {
            const file = `${root}/.docs_snippet_${c.where.replace(/\W/g, "_")}.ts`;
            await Deno.writeTextFile(file, text);
            ran = await run(`deno run -A ${file}`, cwd, env);
          } else ran = await run(text, cwd, env);
          const context = `${c.where}: ${text}\n--- output ---\n${ran.output}`;
          assert.ok(!ran.timedOut, `timed out after ${TIMEOUT_MS} ms: ${context}`);
          assert.equal(ran.code, 0, `exit ${ran.code}: ${context}`);
          for (const sign of SIGNS) {
            if (sign.when !== undefined && !sign.when.test(text)) continue;
            assert.doesNotMatch(ran.output, sign.match, `${sign.what}: ${context}`);
          }
          const printed = ran.output.replace(/ \(\d+(\.\d+)? ms\)/g, "");
          for (const line of c.shown ?? []) {
            const expected = line.replace(/ \(\d+(\.\d+)? ms\)/g, "");
            assert.ok(printed.includes(expected), `the docs show "${line}": ${context}`);
          }
        });
      }
    } finally {
      if (server !== null) await server.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
