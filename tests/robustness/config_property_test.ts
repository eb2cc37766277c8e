/**
 * Hostile `statecraft.yaml` (issue #14): the test fixtures' configurations and the defaults,
 * mutated as manifests are (`_yaml_mutations.ts`). `parseConfig` returns a configuration or
 * throws a `DocumentError` whose every problem has a line and column; in bounded time, with
 * `Object.prototype` untouched.
 */
import fc from "fast-check";
import { defaultConfig, parseConfig } from "../../lib/runtime/config.ts";
import { DocumentError } from "../../lib/config/problems.ts";
import { params } from "./_property.ts";
import { checkYamlOutcome, mutatedYamlArb, toYaml } from "./_yaml_mutations.ts";

const SEEDS = [
  ...["server", "cluster"].map((name) =>
    Deno.readTextFileSync(new URL(`../fixtures/${name}/statecraft.yaml`, import.meta.url))
  ),
  toYaml(defaultConfig())!,
];

const env = (name: string) => (name === "HOME" ? "/home/u" : name === "A" ? "1" : undefined);

/** A configuration, or a DocumentError with every problem placed. */
function checkConfig(text: string): Promise<void> {
  return checkYamlOutcome(
    "parseConfig",
    () => parseConfig(text, "statecraft.yaml", env),
    DocumentError,
    (c) => {
      if (!Array.isArray(c.machines)) throw new Error("bad value");
    },
    (p) => /empty/.test(p.message) && p.line === undefined,
  );
}

Deno.test("property: mutated statecraft.yaml parse or fail with every problem at its line:col", async () => {
  await fc.assert(fc.asyncProperty(mutatedYamlArb(SEEDS), checkConfig), params(150, 3_000));
});

Deno.test("property: arbitrary text as statecraft.yaml", async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 200 }), checkConfig),
    params(150, 2_000),
  );
});
