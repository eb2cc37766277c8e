// A plugin that Deno refuses a permission is told which key of which plugin.yaml grants it,
// never Deno's "run again with the --allow-... flag" (a plugin gets no flags): in worker and
// process isolation, for an action's error, a crash, and a module that fails to load.
import assert from "node:assert/strict";
import { relative } from "node:path";
import { PluginError, PluginHostError } from "../../lib/plugins/types.ts";
import { ISOLATED, rejection, type Started, startPlugin, stopAll } from "./_hosts.ts";

const NEEDY_DIR = decodeURIComponent(
  new URL("../fixtures/plugins/needy", import.meta.url).pathname,
);

/** The manifest path as messages show it: relative to the working directory. */
function manifestOf(folder: string): string {
  return relative(Deno.cwd(), `${NEEDY_DIR}/${folder}/plugin.yaml`);
}

/** Calls `action`, expecting a PluginError whose message is exactly `expected`. */
async function assertTold(
  plugin: Started,
  action: string,
  payload: unknown,
  expected: string,
): Promise<void> {
  const { error } = await rejection(plugin.host.call(action, payload));
  assert.ok(error instanceof PluginError, `${error.name}: ${error.message}`);
  assert.equal(error.message, expected);
  assert.doesNotMatch(error.message, /--allow-/);
  // What Deno threw stays available to programs.
  assert.equal(error.remoteName, "NotCapable");
  assert.match(error.remoteMessage, /^Requires \w+ access/);
  assert.equal(plugin.host.alive, true);
}

for (const mode of ISOLATED) {
  Deno.test(`${mode}: a refused permission names the plugin.yaml key to add it under`, async () => {
    const needy = await startPlugin(mode, "needy", { dir: `${NEEDY_DIR}/needy` });
    const yaml = manifestOf("needy");
    const told = (kind: string, target: string, entry = "it") =>
      `plugin "needy" needs ${kind} access to "${target}": add ${entry} under ` +
      `permissions.${kind} in ${yaml}`;
    try {
      await assertTold(needy, "read", "/etc/passwd", told("read", "/etc/passwd"));
      await assertTold(
        needy,
        "write",
        "/tmp/statecraft_needy.txt",
        told("write", "/tmp/statecraft_needy.txt"),
      );
      await assertTold(needy, "env", "HOME", told("env", "HOME"));
      await assertTold(needy, "hostname", null, told("sys", "hostname"));
      await assertTold(needy, "run", "/bin/sh", told("run", "/bin/sh"));
      await assertTold(needy, "connect", 1, told("net", "127.0.0.1:1"));
      // A listener on any port: the manifest entry is the host (a port of 0 is not valid there).
      await assertTold(needy, "listen", null, told("net", "127.0.0.1:0", '"127.0.0.1"'));
      await assertTold(
        needy,
        "envAll",
        null,
        `plugin "needy" needs env access to every environment variable (it read the whole environment): ` +
          `list the variables it uses under permissions.env in ${yaml}`,
      );
    } finally {
      await stopAll(needy);
    }
  });

  Deno.test(`${mode}: a plugin that dies of a refused permission is told what to add`, async () => {
    const needy = await startPlugin(mode, "needy", { dir: `${NEEDY_DIR}/needy` });
    try {
      const { error } = await rejection(needy.host.call("crash", "/etc/passwd"));
      assert.ok(error instanceof PluginHostError, `${error.name}: ${error.message}`);
      assert.equal(error.code, "crashed");
      const hint = `it needs read access to "/etc/passwd": add it under permissions.read in ` +
        manifestOf("needy");
      const how = mode === "worker" ? "crashed" : "exited (code 1)";
      assert.equal(error.message, `plugin "needy" ${how}: ${hint}`);
      assert.deepEqual(needy.exits, [`${how}: ${hint}`]);
    } finally {
      await stopAll(needy);
    }
  });

  Deno.test(`${mode}: a module refused a permission while loading is told what to add`, async () => {
    const error = await startPlugin(mode, "needy-at-load", { dir: `${NEEDY_DIR}/needy-at-load` })
      .then(
        () => assert.fail("the plugin started"),
        (e: Error) => e,
      );
    assert.ok(error instanceof PluginError, `${error.name}: ${error.message}`);
    assert.equal(
      error.message,
      `plugin "needy-at-load" needs env access to "STATECRAFT_NEEDY_TOKEN": add it under ` +
        `permissions.env in ${manifestOf("needy-at-load")}`,
    );
  });
}

Deno.test("trusted: a refusal is this process's own and keeps Deno's words", async () => {
  // A trusted plugin runs with the host's permissions: its manifest cannot grant more.
  const needy = await startPlugin("trusted", "needy", { dir: `${NEEDY_DIR}/needy` });
  try {
    const { error } = await rejection(needy.host.call("write", "/etc/statecraft_needy"));
    assert.ok(error instanceof PluginError);
    assert.doesNotMatch(error.message, /permissions\.write/);
  } finally {
    await stopAll(needy);
  }
});
