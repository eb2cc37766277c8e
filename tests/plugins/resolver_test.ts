import assert from "node:assert/strict";
import { join } from "node:path";
import { type LoadedManifest, ManifestError, parseManifest } from "../../lib/plugins/manifest.ts";
import {
  discoverPlugins,
  DuplicatePluginError,
  mapLimit,
  resolvePlugins,
} from "../../lib/plugins/resolver.ts";
import { waitFor } from "../_wait.ts";

const FIXTURES = new URL("../fixtures/plugins/manifests/", import.meta.url).pathname
  .replace(/\/$/, "");

/** An in-memory loaded plugin: `requires` as name -> range. */
function plugin(name: string, version: string, requires: Record<string, string> = {}) {
  const text = `name: ${name}\nversion: ${version}\nrequires: ${JSON.stringify(requires)}\n`;
  const manifest = parseManifest(text, `${name}/plugin.yaml`, { env: () => undefined });
  const dir = `/plugins/${name}`;
  const loaded: LoadedManifest = {
    manifest,
    dir,
    manifestPath: `${dir}/plugin.yaml`,
    entryPath: `${dir}/mod.ts`,
    permissions: manifest.permissions,
  };
  return loaded;
}

const names = (list: LoadedManifest[]) => list.map((p) => p.manifest.name);

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "statecraft_resolver_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writePlugin(dir: string, manifest: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "plugin.yaml"), manifest);
  await Deno.writeTextFile(join(dir, "mod.ts"), "export {};\n");
}

Deno.test("discovery: a broken manifest is reported and the others still load", async () => {
  await withTempDir(async (root) => {
    await writePlugin(join(root, "zeta"), "name: zeta\nversion: 1.0.0\n");
    await writePlugin(join(root, "broken"), "name: broken\nversion: one\n");
    await Deno.mkdir(join(root, "not-a-plugin"));
    await Deno.writeTextFile(join(root, "README.md"), "plugins live here\n");
    const { plugins, errors } = await discoverPlugins([FIXTURES, root]);
    assert.deepEqual(names(plugins), ["audit-log", "metrics", "zeta"]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].dir, join(root, "broken"));
    assert.equal(errors[0].name, "broken");
    assert.ok(errors[0].error instanceof ManifestError);
    assert.equal(
      errors[0].error.message,
      `invalid plugin manifest (1 problem):\n  ${root}/broken/plugin.yaml:2:10 version: ` +
        `"one" is not a semantic version (like 1.2.0)`,
    );
  });
});

Deno.test("discovery: two plugins with one name are both rejected, naming both folders", async () => {
  await withTempDir(async (root) => {
    await writePlugin(join(root, "a", "metrics"), "name: metrics\nversion: 1.0.0\n");
    await writePlugin(join(root, "b", "metrics"), "name: metrics\nversion: 2.0.0\n");
    await writePlugin(join(root, "b", "other"), "name: other\nversion: 2.0.0\n");
    const { plugins, errors } = await discoverPlugins([join(root, "a"), join(root, "b")]);
    assert.deepEqual(names(plugins), ["other"]);
    assert.deepEqual(errors.map((e) => e.dir), [join(root, "a/metrics"), join(root, "b/metrics")]);
    for (const { error, name } of errors) {
      assert.equal(name, "metrics");
      assert.ok(error instanceof DuplicatePluginError);
      assert.equal(
        error.message,
        `plugin metrics is installed 2 times (${root}/a/metrics and ${root}/b/metrics); ` +
          `remove all but one`,
      );
    }
  });
});

Deno.test("discovery: a plugins directory that does not exist is an error", async () => {
  await withTempDir(async (root) => {
    const { plugins, errors } = await discoverPlugins([join(root, "nope")]);
    assert.deepEqual(plugins, []);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].dir, join(root, "nope"));
    assert.ok(errors[0].error instanceof Deno.errors.NotFound);
  });
});

Deno.test("resolution: dependencies first, ties by name", () => {
  const { order, problems } = resolvePlugins([
    plugin("web", "1.0.0", { auth: "^2.0.0", db: "~1.2.0" }),
    plugin("db", "1.2.5"),
    plugin("auth", "2.3.0", { db: ">=1.0.0" }),
    plugin("cache", "0.1.0"),
    plugin("zz-log", "1.0.0"),
    plugin("metrics", "1.0.0", { "zz-log": "*" }),
  ]);
  assert.deepEqual(problems, []);
  assert.deepEqual(names(order), ["cache", "db", "auth", "web", "zz-log", "metrics"]);
});

Deno.test("resolution: missing and incompatible dependencies name both sides", () => {
  const { order, problems } = resolvePlugins([
    plugin("a", "1.0.0", { b: "^1.0.0" }),
    plugin("c", "1.0.0", { d: "^2.0.0" }),
    plugin("d", "1.4.0"),
  ]);
  assert.deepEqual(names(order), ["d"]);
  assert.deepEqual(problems, [
    {
      kind: "missing",
      plugins: ["a"],
      message: "plugin a requires b ^1.0.0, which is not installed",
    },
    { kind: "incompatible", plugins: ["c"], message: "plugin c requires d ^2.0.0 but d is 1.4.0" },
  ]);
});

Deno.test("resolution: a cycle is rejected with the cycle printed, and so are its dependents", () => {
  const { order, problems } = resolvePlugins([
    plugin("c", "1.0.0", { a: "^1.0.0" }),
    plugin("b", "1.0.0", { c: "^1.0.0" }),
    plugin("a", "1.0.0", { b: "^1.0.0" }),
    plugin("d", "1.0.0", { b: "^1.0.0" }),
    plugin("e", "1.0.0"),
    plugin("f", "1.0.0"),
  ]);
  assert.deepEqual(names(order), ["e", "f"]);
  assert.deepEqual(problems, [
    { kind: "cycle", plugins: ["a", "b", "c"], message: "dependency cycle: a -> b -> c -> a" },
    {
      kind: "dependency",
      plugins: ["d"],
      message: "plugin d requires b ^1.0.0, which cannot be loaded",
    },
  ]);
});

Deno.test("resolution: failure travels to every transitive dependent", () => {
  const { order, problems } = resolvePlugins([
    plugin("top", "1.0.0", { mid: "^1.0.0", ok: "^1.0.0" }),
    plugin("mid", "1.0.0", { low: "^1.0.0" }),
    plugin("low", "1.0.0", { gone: "^3.0.0" }),
    plugin("ok", "1.0.0"),
    plugin("uses-broken", "1.0.0", { broken: "^1.0.0" }),
  ], { broken: ["broken"] });
  assert.deepEqual(names(order), ["ok"]);
  assert.deepEqual(problems.map((p) => p.message), [
    "plugin low requires gone ^3.0.0, which is not installed",
    "plugin uses-broken requires broken ^1.0.0, which cannot be loaded",
    "plugin mid requires low ^1.0.0, which cannot be loaded",
    "plugin top requires mid ^1.0.0, which cannot be loaded",
  ]);
});

Deno.test("resolution: duplicates passed in directly are rejected", () => {
  const one = plugin("x", "1.0.0");
  const two = { ...plugin("x", "2.0.0"), dir: "/other/x" };
  const { order, problems } = resolvePlugins([one, two, plugin("y", "1.0.0", { x: "*" })]);
  assert.deepEqual(order, []);
  assert.deepEqual(problems.map((p) => p.message), [
    "plugin x is installed 2 times (/plugins/x and /other/x); remove all but one",
    "plugin y requires x *, which cannot be loaded",
  ]);
});

Deno.test("mapLimit keeps order and never runs more than the limit at once", async () => {
  let running = 0;
  let most = 0;
  const gates: (() => void)[] = [];
  const pending = mapLimit([1, 2, 3, 4, 5], 2, async (n, i) => {
    running++;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
    return n * 10 + i;
  });
  // Release the calls one at a time, the latest waiting first, as they come.
  for (let released = 0; released < 5; released++) {
    const gate = await waitFor("a call waiting at its gate", () => gates.pop());
    gate();
  }
  assert.deepEqual(await pending, [10, 21, 32, 43, 54]);
  assert.equal(most, 2);
});

Deno.test("mapLimit rejects with the first error and starts nothing after it", async () => {
  const started: number[] = [];
  await assert.rejects(
    mapLimit([1, 2, 3, 4], 1, async (n) => {
      started.push(n);
      await Promise.resolve();
      if (n === 2) throw new Error("two failed");
      return n;
    }),
    /two failed/,
  );
  assert.deepEqual(started, [1, 2]);
  await assert.rejects(mapLimit([], 0, () => Promise.resolve(1)), RangeError);
});
