/**
 * Hostile plugin manifests (issue #14): the bundled plugins' `plugin.yaml`, mutated (values of
 * the wrong type, unknown and `PROTO_NAMES` keys, `${VAR}` oddities, huge strings, deep
 * nesting, anchors and aliases, junk, truncation). `parseManifest` returns a manifest or
 * throws a `ManifestError` whose every problem has a line and column; in bounded time, with
 * `Object.prototype` untouched.
 */
import fc from "fast-check";
import { ManifestError, parseManifest } from "../../lib/plugins/manifest.ts";
import { params } from "./_property.ts";
import { checkYamlOutcome, mutatedYamlArb } from "./_yaml_mutations.ts";

const SEEDS = ["audit-log", "metrics", "notifier"].map((name) =>
  Deno.readTextFileSync(new URL(`../../plugins/${name}/plugin.yaml`, import.meta.url))
);

const env = (name: string) => (name === "HOME" ? "/home/u" : name === "A" ? "1" : undefined);

/** A manifest, or a ManifestError with every problem placed (an empty document has no place). */
function checkManifest(text: string): Promise<void> {
  return checkYamlOutcome(
    "parseManifest",
    () => parseManifest(text, "plugin.yaml", { env }),
    ManifestError,
    (m) => {
      if (typeof m.name !== "string" || !Array.isArray(m.provides)) throw new Error("bad value");
    },
    (p) => /^the manifest is empty/.test(p.message),
  );
}

Deno.test("property: mutated manifests parse or fail with every problem at its line:col", async () => {
  await fc.assert(fc.asyncProperty(mutatedYamlArb(SEEDS), checkManifest), params(150, 3_000));
});

Deno.test("property: arbitrary text as a manifest", async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 200 }), checkManifest),
    params(150, 2_000),
  );
});
