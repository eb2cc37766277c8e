import assert from "node:assert/strict";
import { noStackTrace, runCli } from "./_run_cli.ts";

const PLAYER = "tests/fixtures/cli_player.ts";

Deno.test("diagram: Mermaid by default, with nested blocks and parallel regions", async () => {
  const r = await runCli("diagram", PLAYER);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const text = r.stdout;
  assert.match(text, /^---\ntitle: player\n---\nstateDiagram-v2\n/);
  // The parallel state holds its two regions, separated by "--", each a nested block.
  const active = text.indexOf("  state active {\n");
  const playback = text.indexOf(`    state "playback" as active_playback {\n`);
  const divider = text.indexOf("\n    --\n");
  const volume = text.indexOf(`    state "volume" as active_volume {\n`);
  assert.ok(active > 0 && active < playback && playback < divider && divider < volume, text);
  assert.match(text, /^ {6}\[\*\] --> active_playback_playing$/m);
  assert.match(text, /^ {6}state "H\*" as active_playback_hist$/m);
  assert.match(text, /^ {2}state checking <<choice>>$/m);
  assert.match(text, /^ {2}\[\*\] --> stopped$/m);
  assert.match(text, /^ {2}ejected --> \[\*\]$/m);
  assert.match(text, /^ {2}checking --> stopped : always \[noTracks\]$/m);
  assert.match(text, /^ {6}active_volume_normal --> active_volume_muted : MUTE \[canMute\]$/m);
  assert.match(text, /^ {2}active_playback_paused --> stopped : after 30s$/m);
  assert.match(text, /^ {2}active --> ejected : EJECT$/m);
});

Deno.test("diagram: --format dot gives a digraph with clusters and labelled edges", async () => {
  const r = await runCli("diagram", PLAYER, "--format", "dot");
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout;
  assert.match(text, /^digraph "player" \{\n/);
  assert.match(text, /\}\n$/);
  const active = text.indexOf("  subgraph cluster_active {\n");
  const playback = text.indexOf("    subgraph cluster_active_playback {\n");
  assert.ok(active > 0 && playback > active, text);
  assert.match(
    text,
    /subgraph cluster_active_volume \{\n\s+label="volume";\n\s+style="rounded,dashed";/,
  );
  assert.match(text, /^ {2}stopped -> active__start \[label="PLAY", lhead=cluster_active\];$/m);
  assert.match(text, /^ {2}active__start -> ejected \[label="EJECT", ltail=cluster_active\];$/m);
  assert.match(text, /^ {6}active_playback_hist \[label="H\*", shape=circle, width=0.3\];$/m);
  assert.match(text, /^ {2}ejected \[label="ejected", peripheries=2\];$/m);
});

Deno.test("diagram: --machine picks among several; an unknown format is an error", async () => {
  const file = "tests/fixtures/cli_two_machines.ts";
  const picked = await runCli("diagram", file, "--machine", "ticker");
  assert.equal(picked.code, 0, picked.stderr);
  assert.match(picked.stdout, /^ {2}idle --> done : TICK$/m);
  const ambiguous = await runCli("diagram", file);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /exports 2 machines \("toggle", "ticker"\)/);
  const format = await runCli("diagram", PLAYER, "--format", "svg");
  assert.equal(format.code, 1);
  assert.match(format.stderr, /argument 'svg' is invalid\. Allowed choices are mermaid, dot/);
  assert.ok(noStackTrace(format.stderr));
});

Deno.test("--help lists every command and --version prints deno.json's version", async () => {
  const help = await runCli("--help");
  assert.equal(help.code, 0);
  for (const command of ["check <files...>", "run [options] <machine>", "diagram [options]"]) {
    assert.ok(help.stdout.includes(command), help.stdout);
  }
  const runHelp = await runCli("run", "--help");
  assert.equal(runHelp.code, 0);
  for (const option of ["--events <list>", "--events-file <file>", "--virtual-time", "--for"]) {
    assert.ok(runHelp.stdout.includes(option), runHelp.stdout);
  }
  const version = await runCli("--version");
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(version.stdout, `${denoJson.version}\n`);
  const unknown = await runCli("frobnicate");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});
