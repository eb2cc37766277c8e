// From plugin folders to running plugins: order, signing policy, failures, hot reload.
import assert from "node:assert/strict";
import { loadPlugins, watchPlugins } from "../../lib/plugins/loader.ts";
import { generateKeyPair, signPlugin } from "../../lib/plugins/signing.ts";
import { PluginSupervisor } from "../../lib/plugins/supervisor.ts";
import { waitFor } from "../_wait.ts";

const SDK = new URL("../../lib/plugins/sdk.ts", import.meta.url).href;

async function writePlugin(
  root: string,
  name: string,
  options: {
    version?: string;
    requires?: Record<string, string>;
    isolation?: string;
    body?: string;
  } = {},
): Promise<string> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { recursive: true });
  const requires = Object.entries(options.requires ?? {}).map(([k, v]) => `  ${k}: "${v}"`).join(
    "\n",
  );
  await Deno.writeTextFile(
    `${dir}/plugin.yaml`,
    `name: ${name}\nversion: ${options.version ?? "1.0.0"}\nisolation: ${
      options.isolation ?? "worker"
    }\n` +
      `provides: [who]\n` + (requires === "" ? "" : `requires:\n${requires}\n`),
  );
  await Deno.writeTextFile(
    `${dir}/mod.ts`,
    options.body ??
      `import { definePlugin } from "${SDK}";\nexport default definePlugin({ actions: { who: (_p, ctx) => ctx.name + "@" + ctx.version } });\n`,
  );
  return dir;
}

async function withRoot(fn: (root: string, s: PluginSupervisor) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "statecraft-plugins-" });
  const s = new PluginSupervisor({ heartbeatMs: 0, log: () => {} });
  try {
    await fn(root, s);
  } finally {
    await s.close();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("plugins load dependencies first; failures are reported, the rest still load", async () => {
  await withRoot(async (root, s) => {
    await writePlugin(root, "base");
    await writePlugin(root, "app", { requires: { base: "^1.0.0" } });
    await writePlugin(root, "needs-new", { requires: { base: "^2.0.0" } });
    await writePlugin(root, "crashy", {
      body:
        `import { definePlugin } from "${SDK}";\nexport default definePlugin({ actions: { who: () => 1 }, onLoad() { throw new Error("no config"); } });\n`,
    });
    await writePlugin(root, "on-crashy", { requires: { crashy: "*" } });
    await Deno.mkdir(`${root}/bad`);
    await Deno.writeTextFile(`${root}/bad/plugin.yaml`, "name: bad\nversion: one\n");
    const report = await loadPlugins({ dirs: [root, `${root}/missing-dir`], supervisor: s });
    assert.deepEqual(report.loaded.map((p) => p.name).sort(), ["app", "base"]);
    const failed = Object.fromEntries(report.failed.map((f) => [f.name, f.error]));
    assert.match(failed["needs-new"], /requires base \^2\.0\.0 but base is 1\.0\.0/);
    assert.match(failed["crashy"], /no config/);
    assert.match(failed["on-crashy"], /requires crashy, which did not load/);
    assert.match(failed["bad"], /version/);
    assert.equal(await s.call("app", "who"), "app@1.0.0");
  });
});

Deno.test("signing policy: unsigned allowed or denied; trusted needs a signature; tampering refused", async () => {
  await withRoot(async (root, s) => {
    const keys = await generateKeyPair();
    const signed = await writePlugin(root, "signed");
    await signPlugin(signed, keys.privateKey);
    await writePlugin(root, "unsigned");
    await writePlugin(root, "inproc", { isolation: "trusted" });
    const tampered = await writePlugin(root, "tampered");
    await signPlugin(tampered, keys.privateKey);
    await Deno.writeTextFile(`${tampered}/mod.ts`, "\n// changed after signing\n", {
      append: true,
    });

    const denied = await loadPlugins({
      dirs: [root],
      supervisor: s,
      unsigned: "deny",
      trustedKeys: [keys.publicKey],
    });
    assert.deepEqual(denied.loaded.map((p) => p.name), ["signed"]);
    const why = Object.fromEntries(denied.failed.map((f) => [f.name, f.error]));
    assert.match(
      why.unsigned,
      /unsigned, and this runtime loads only plugins signed by a trusted key/,
    );
    assert.match(why.inproc, /asks for trusted \(in-process\) isolation but is unsigned/);
    assert.match(why.tampered, /does not match its signature \(mod\.ts changed\): refused/);
  });
  await withRoot(async (root, s) => {
    await writePlugin(root, "unsigned");
    await writePlugin(root, "inproc", { isolation: "trusted" });
    const allowed = await loadPlugins({ dirs: [root], supervisor: s, trustedPlugins: ["inproc"] });
    assert.deepEqual(allowed.loaded.map((p) => [p.name, p.mode]).sort(), [["inproc", "trusted"], [
      "unsigned",
      "worker",
    ]]);
  });
});

Deno.test("hot reload: a changed plugin is reloaded; a broken change leaves the old one serving", async () => {
  await withRoot(async (root, s) => {
    const dir = await writePlugin(root, "live", { isolation: "trusted" });
    await loadPlugins({ dirs: [root], supervisor: s, trustedPlugins: ["live"] });
    assert.equal(await s.call("live", "who"), "live@1.0.0");
    const outcomes: { plugin: string; error?: string }[] = [];
    const stop = watchPlugins({
      dirs: [root],
      supervisor: s,
      trustedPlugins: ["live"],
      debounceMs: 50,
      onReload: (o) => outcomes.push(o),
    });
    try {
      const wait = (n: number) => waitFor(`reload ${n}`, () => outcomes.length >= n);
      await Deno.writeTextFile(
        `${dir}/plugin.yaml`,
        "name: live\nversion: 1.1.0\nisolation: trusted\nprovides: [who]\n",
      );
      await wait(1);
      assert.deepEqual(outcomes[0], { plugin: "live" });
      assert.equal(
        await s.call("live", "who"),
        "live@1.1.0",
        "trusted mode: the changed module is imported anew",
      );
      await Deno.writeTextFile(`${dir}/mod.ts`, "this is not TypeScript {{{\n");
      await wait(2);
      assert.equal(outcomes[1].plugin, "live");
      assert.ok(outcomes[1].error !== undefined, "the failed reload is reported");
      assert.equal(await s.call("live", "who"), "live@1.1.0", "the old version keeps serving");
      assert.equal(s.get("live")?.state, "active");
    } finally {
      stop();
    }
  });
});
