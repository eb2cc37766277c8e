/** `statecraft run/check/diagram/export` with SCXML documents. */
import assert from "node:assert/strict";
import { runCli, withTempScript } from "../cli/_run_cli.ts";

Deno.test("statecraft check doc.scxml: ok, and errors with line and column", async () => {
  const ok = await runCli("check", "examples/microwave.scxml");
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ok \(1 machine "microwave"\)/);
  await withTempScript(
    "bad.scxml",
    `<scxml xmlns="http://www.w3.org/2005/07/scxml">\n<state id="a">\n  <frobnicate/>\n</state>\n</scxml>`,
    async (path) => {
      const bad = await runCli("check", path);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout + bad.stderr, /bad\.scxml:3:\d+ error: unknown element <frobnicate>/);
    },
  );
});

Deno.test("statecraft run doc.scxml: runs in a Worker without permissions", async () => {
  const r = await runCli(
    "run",
    "examples/microwave.scxml",
    "--events",
    "door.close,turn.on,wait:6s",
    "--virtual-time",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /turn\.on: off, door\.closed -> cooking, door\.closed/);
  assert.match(r.stdout, /log: microwave: ding! cooked for 5 s/);
  await withTempScript(
    "thief.scxml",
    `<scxml xmlns="http://www.w3.org/2005/07/scxml" initial="s">
      <datamodel><data id="stolen" expr="'nothing'"/></datamodel>
      <state id="s"><onentry><script>
        stolen = [].constructor.constructor("return Deno")().readTextFileSync("deno.json");
      </script></onentry></state>
    </scxml>`,
    async (path) => {
      const isolated = await runCli("run", path);
      assert.equal(isolated.code, 0, isolated.stderr);
      assert.match(isolated.stdout, /context: \{"stolen":"nothing"\}/);
      const trusted = await runCli("run", path, "--trusted");
      assert.doesNotMatch(trusted.stdout, /"stolen":"nothing"/);
    },
  );
});

Deno.test("statecraft diagram doc.scxml and export machine.ts --format scxml", async () => {
  const d = await runCli("diagram", "examples/microwave.scxml");
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /stateDiagram-v2/);
  const e = await runCli("export", "examples/traffic_light.ts", "--format", "scxml");
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /^<\?xml version="1\.0"/);
  assert.match(e.stdout, /<scxml xmlns="http:\/\/www\.w3\.org\/2005\/07\/scxml"/);
});

// Issue #13: an error in executable content raised error.execution silently, and a <log> in
// the initial state's onentry was never printed; a throwing TypeScript action did print.
const LOUD = `<scxml xmlns="http://www.w3.org/2005/07/scxml" initial="a">
  <state id="a">
    <onentry><log label="entered" expr="'a'"/><log expr="startUp.x"/></onentry>
    <transition event="go" target="b"/>
  </state>
  <state id="b">
    <onentry><log expr="undefinedThing.x"/></onentry>
    <transition event="error.execution" target="c"/>
  </state>
  <final id="c"/>
</scxml>`;

for (const mode of [[], ["--trusted"]]) {
  Deno.test(`statecraft run doc.scxml ${mode.join(" ") || "(Worker)"}: logs and errors are printed`, async () => {
    await withTempScript("loud.scxml", LOUD, async (path) => {
      const r = await runCli("run", path, "--events", "go", ...mode);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^log: entered: a\nstart: a$/m);
      assert.match(r.stdout, /^go: a -> c \(done\)$/m);
      assert.match(
        r.stderr,
        new RegExp(
          `^warning: error while starting: <log> at ${path}:3:47: ` +
            `ReferenceError: startUp is not defined$`,
          "m",
        ),
      );
      assert.match(
        r.stderr,
        new RegExp(
          `^warning: error while processing "go": <log> at ${path}:7:14: ` +
            `ReferenceError: undefinedThing is not defined$`,
          "m",
        ),
      );
    });
  });
}
