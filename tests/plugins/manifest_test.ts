import assert from "node:assert/strict";
import { join } from "node:path";
import { formatProblem } from "../../lib/config/problems.ts";
import {
  loadManifest,
  ManifestError,
  parseManifest,
  type ParseManifestOptions,
} from "../../lib/plugins/manifest.ts";

const FIXTURES = new URL("../fixtures/plugins/manifests/", import.meta.url).pathname;
const noEnv: ParseManifestOptions = { env: () => undefined };

/** The problems of a manifest that must fail, as `line:col path: message` lines. */
function problemsOf(text: string, options: ParseManifestOptions = noEnv): string[] {
  try {
    parseManifest(text, "p.yaml", options);
  } catch (error) {
    assert.ok(error instanceof ManifestError, String(error));
    return error.problems.map((p) => formatProblem("", p).trimStart());
  }
  assert.fail("the manifest was accepted");
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "statecraft_manifest_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The error `fn` throws or rejects with (failing the test when there is none). */
async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  assert.fail("no error was thrown");
}

/**
 * `Deno.symlink` needs unscoped read and write permissions, which the test task does not grant
 * (`--allow-write=/tmp`): a `deno eval` child process makes the link.
 */
async function symlink(target: string, path: string): Promise<void> {
  const code = "await Deno.symlink(Deno.args[0], Deno.args[1])";
  const { success, stderr } = await new Deno.Command("deno", {
    args: ["eval", code, target, path],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
}

async function writePlugin(dir: string, files: Record<string, string>): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  }
}

Deno.test("a minimal manifest gets every default", () => {
  const m = parseManifest("name: audit-log\nversion: 1.2.0\n", "plugin.yaml", noEnv);
  assert.deepEqual(m, {
    name: "audit-log",
    version: "1.2.0",
    entry: "mod.ts",
    isolation: "worker",
    permissions: { read: [], write: [], net: [], env: [], run: [], ffi: [], sys: [] },
    requires: {},
    provides: [],
    idempotent: [],
    subscribes: [],
    hooks: [],
    limits: { callTimeoutMs: 5000, callsPerSecond: 100, memoryMb: 128, maxMessageBytes: 1048576 },
    config: {},
    routes: [],
    retry: {},
    timeout: {},
  });
});

Deno.test("loadManifest reads every field and resolves paths against the folder", async () => {
  const dir = join(FIXTURES, "audit-log");
  const loaded = await loadManifest(dir);
  assert.equal(loaded.dir, dir.replace(/\/$/, ""));
  assert.equal(loaded.manifestPath, join(dir, "plugin.yaml"));
  assert.equal(loaded.entryPath, join(dir, "mod.ts"));
  const m = loaded.manifest;
  assert.equal(m.description, "Writes every transition to an append-only log");
  assert.deepEqual(m.permissions.read, ["./logs"], "the manifest keeps paths as written");
  assert.deepEqual(loaded.permissions, {
    read: [join(dir, "logs")],
    write: [join(dir, "logs"), "/var/log/statecraft"],
    net: ["hooks.example.com:443"],
    env: ["SLACK_TOKEN"],
    run: ["git", join(dir, "bin/rotate")],
    ffi: [],
    sys: ["hostname"],
  });
  assert.deepEqual(m.requires, { metrics: "^1.0.0" });
  assert.deepEqual(m.idempotent, ["flush"]);
  assert.deepEqual(m.subscribes, ["machine.transition", "order.*"]);
  assert.deepEqual(m.limits, {
    callTimeoutMs: 2000,
    callsPerSecond: 100,
    memoryMb: 64,
    maxMessageBytes: 1048576,
  });
  assert.deepEqual(m.config, { channel: "#audit", rotate: { maxBytes: 1048576 } });
  assert.deepEqual(m.routes, [{ method: "GET", path: "/status", action: "log" }]);
});

Deno.test("every problem is reported at once, each at its line and column", () => {
  const text = [
    /* 1 */ "name: Audit",
    /* 2 */ "version: 1.2",
    /* 3 */ "entry: /abs/mod.ts",
    /* 4 */ "isolation: sandbox",
    /* 5 */ "versoin: 1",
    /* 6 */ "permissions:",
    /* 7 */ "  read: true",
    /* 8 */ "  net: [a.example:443, 'bad host', x:99999]",
    /* 9 */ "  sys: [hostname, nope]",
    /* 10 */ "requires: { metrics: ^1.0.0, Bad: '1', m2: nope }",
    /* 11 */ "provides: [log, log]",
    /* 12 */ "idempotent: [flush]",
    /* 13 */ "subscribes: [machine.transition, 'a..b']",
    /* 14 */ "hooks: [load, explode]",
    /* 15 */ "limits: { callTimeoutMs: 0, memoryMb: 1.5, cpu: 1 }",
    /* 16 */ "config: [1]",
    /* 17 */ "routes: [{ method: GET, path: status, action: status }]",
    "",
  ].join("\n");
  assert.deepEqual(problemsOf(text), [
    ':1:7 name: "Audit" is not a valid plugin name (lowercase letters, digits and "-", ' +
    "starting with a letter, at most 64 characters)",
    ":2:10 version: must be a semantic version string like 1.2.0, not the number 1.2",
    ':3:8 entry: "/abs/mod.ts" is an absolute path; the entry must be a path inside the ' +
    "plugin folder",
    ':4:12 isolation: must be one of trusted, worker, process, not the string "sandbox"',
    ':5:1 versoin: unknown key; did you mean "version"?',
    ':7:9 permissions.read: "true" (everything) is not allowed: list exactly what the plugin ' +
    "needs (for example read: [./data])",
    ':8:24 permissions.net[1]: "bad host" is not a host or host:port',
    ':8:36 permissions.net[2]: "x:99999" has a port outside 1-65535',
    ":9:19 permissions.sys[1]: must be one of loadavg, hostname, systemMemoryInfo, " +
    "networkInterfaces, osRelease, osUptime, uid, gid, username, cpus, homedir, statfs, " +
    'getPriority, setPriority, ca, umask, not the string "nope"',
    ':10:30 requires.Bad: "Bad" is not a valid plugin name (lowercase letters, digits and "-", ' +
    "starting with a letter, at most 64 characters)",
    ':10:44 requires.m2: "nope" is not a semver range (like ^1.2.0)',
    ':11:17 provides[1]: "log" is listed twice',
    ':12:14 idempotent[0]: "flush" is not in provides',
    ':13:34 subscribes[1]: "a..b" has an empty segment',
    ":14:15 hooks[1]: must be one of load, unload, reload, beforeTransition, afterTransition, " +
    'instanceCreated, instanceDone, not the string "explode"',
    ":15:26 limits.callTimeoutMs: must be at least 1",
    ":15:39 limits.memoryMb: must be an integer, not 1.5",
    ":15:44 limits.cpu: unknown key",
    ":16:9 config: must be a mapping, not a list",
    ':17:31 routes[0].path: "status" is not a route path (it starts with "/", no spaces, ? or #)',
  ]);
});

Deno.test("ManifestError's message lists file:line:col for every problem", async () => {
  const error = await caught(() =>
    parseManifest("name: a\nversion: x\nentry: ../../x.ts\n", "plugins/a/plugin.yaml")
  );
  assert.ok(error instanceof ManifestError);
  assert.equal(
    error.message,
    "invalid plugin manifest (2 problems):\n" +
      '  plugins/a/plugin.yaml:2:10 version: "x" is not a semantic version (like 1.2.0)\n' +
      '  plugins/a/plugin.yaml:3:8 entry: "../../x.ts" leaves the plugin folder ' +
      '(".." is not allowed)',
  );
  assert.deepEqual(error.problems[1], {
    path: ["entry"],
    message: '"../../x.ts" leaves the plugin folder (".." is not allowed)',
    line: 3,
    col: 8,
  });
  assert.equal(error.file, "plugins/a/plugin.yaml");
});

Deno.test("missing fields, YAML syntax errors, empty and non-mapping manifests", () => {
  assert.deepEqual(problemsOf("# nothing but\ndescription: x\n"), [
    ":2:1 name: is required",
    ":2:1 version: is required",
  ]);
  assert.deepEqual(problemsOf("name: a\nversion: 1.0.0\nname: b\n"), [
    ':3:1 name: YAML: the key "name" is written twice in this map',
  ]);
  assert.deepEqual(problemsOf("name: a\nversion:\n"), [
    ":2:9 version: is empty (expected a string)",
  ]);
  assert.deepEqual(problemsOf(""), [
    "the manifest is empty (name and version are required)",
  ]);
  assert.deepEqual(problemsOf("- a\n"), [":1:1 must be a mapping, not a list"]);
});

Deno.test("${VAR} and ${VAR:-default} are substituted before validation", () => {
  const env: Record<string, string> = { VERSION: "2.0.0", TIMEOUT: "250", EMPTY: "" };
  const m = parseManifest(
    [
      "name: a",
      "version: ${VERSION}",
      'description: "${WHO:-nobody} costs $${PRICE}"',
      "limits:",
      "  callTimeoutMs: ${TIMEOUT}",
      "config:",
      '  quoted: "${TIMEOUT}"',
      "  fallback: ${EMPTY:-used}",
      "  blank: ${MISSING:-}",
      "",
    ].join("\n"),
    "p.yaml",
    { env: (name) => env[name] },
  );
  assert.equal(m.version, "2.0.0");
  assert.equal(m.description, "nobody costs ${PRICE}");
  assert.equal(m.limits.callTimeoutMs, 250, "a plain value that becomes a number is a number");
  assert.deepEqual(m.config, { quoted: "250", fallback: "used", blank: "" });
});

Deno.test("an unset variable without a default is an error naming it and its line", () => {
  // The other problems are still reported; the value that could not be substituted is not
  // validated further (its "${V}" is not reported as a bad version).
  assert.deepEqual(
    problemsOf(
      "name: a\nversion: ${V}\nentry: main\nconfig:\n  token: ${SLACK_TOKEN}\n  x: '${a b}'\n",
    ),
    [
      ":2:10 version: environment variable V is not set (and ${V} has no default)",
      ':3:8 entry: "main" is not a module (.ts, .mts, .tsx, .js, .mjs, .jsx)',
      ":5:10 config.token: environment variable SLACK_TOKEN is not set " +
      "(and ${SLACK_TOKEN} has no default)",
      ':6:6 config.x: "${a b}" is not a variable reference (${NAME} or ${NAME:-default})',
    ],
  );
});

Deno.test("the default env lookup is Deno.env", () => {
  const name = "STATECRAFT_MANIFEST_TEST_VERSION";
  Deno.env.set(name, "3.1.4");
  try {
    assert.equal(parseManifest(`name: a\nversion: \${${name}}\n`, "p.yaml").version, "3.1.4");
  } finally {
    Deno.env.delete(name);
  }
});

Deno.test("loadManifest: the name must equal the folder's name", async () => {
  await withTempDir(async (root) => {
    const dir = join(root, "audit");
    await writePlugin(dir, { "plugin.yaml": "name: audit-log\nversion: 1.0.0\n", "mod.ts": "" });
    const error = await caught(() => loadManifest(dir));
    assert.ok(error instanceof ManifestError);
    assert.equal(
      error.message,
      `invalid plugin manifest (1 problem):\n  ${dir}/plugin.yaml:1:7 name: "audit-log" ` +
        `does not match the folder name "audit"`,
    );
  });
});

Deno.test("loadManifest: the entry must exist", async () => {
  await withTempDir(async (root) => {
    const dir = join(root, "a");
    await writePlugin(dir, { "plugin.yaml": "name: a\nversion: 1.0.0\nentry: main.ts\n" });
    const error = await caught(() => loadManifest(dir));
    assert.ok(error instanceof ManifestError);
    assert.deepEqual(error.problems, [{
      path: ["entry"],
      message: `"main.ts" does not exist (looked for ${dir}/main.ts)`,
      line: 3,
      col: 8,
    }]);
  });
});

Deno.test("loadManifest: an entry that leaves the folder through a symlink is rejected", async () => {
  await withTempDir(async (root) => {
    const dir = join(root, "a");
    await writePlugin(dir, { "plugin.yaml": "name: a\nversion: 1.0.0\n" });
    await Deno.writeTextFile(join(root, "outside.ts"), "export const x = 1;\n");
    await symlink(join(root, "outside.ts"), join(dir, "mod.ts"));
    const error = await caught(() => loadManifest(dir));
    assert.ok(error instanceof ManifestError);
    assert.equal(error.problems.length, 1);
    assert.equal(
      error.problems[0].message,
      `"mod.ts" resolves outside the plugin folder (to ${await Deno.realPath(
        join(root, "outside.ts"),
      )}) through a symbolic link`,
    );
    assert.deepEqual([error.problems[0].line, error.problems[0].col], [1, 1]);

    // A symlink that stays inside the folder is fine.
    await Deno.remove(join(dir, "mod.ts"));
    await writePlugin(dir, { "src/real.ts": "export const x = 1;\n" });
    await symlink(join(dir, "src/real.ts"), join(dir, "mod.ts"));
    assert.equal((await loadManifest(dir)).entryPath, join(dir, "mod.ts"));
  });
});

Deno.test("loadManifest: a folder without plugin.yaml", async () => {
  await withTempDir(async (root) => {
    const error = await caught(() => loadManifest(root));
    assert.ok(error instanceof ManifestError);
    assert.equal(error.problems[0].message, `no plugin.yaml in ${root}`);
  });
});

Deno.test("parsing needs no --allow-env when the manifest uses no variables", async () => {
  // The yaml package's Node build reads process.env debug switches while parsing.
  await withTempDir(async (root) => {
    const script = join(root, "parse.ts");
    const manifestUrl = new URL("../../lib/plugins/manifest.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { parseManifest } from ${JSON.stringify(manifestUrl)};\n` +
        `console.log(parseManifest("name: a\\nversion: 1.0.0\\n", "p.yaml").entry);\n`,
    );
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const { success, stdout, stderr } = await new Deno.Command("deno", {
      args: ["run", "--no-prompt", "--config", config, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    assert.equal(new TextDecoder().decode(stdout), "mod.ts\n");
  });
});
