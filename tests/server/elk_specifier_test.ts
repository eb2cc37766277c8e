/**
 * The inspector resolves elkjs's bundle by a full `npm:` specifier (so that it resolves without
 * the import map, once published); its version range must stay the import map's.
 *
 * @module
 */
import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { ELK_BUNDLE } from "../../lib/server/inspector.ts";

Deno.test("inspector: the elkjs bundle is the import map's elkjs", () => {
  assert.equal(ELK_BUNDLE, `${denoJson.imports.elkjs}/lib/elk.bundled.js`);
  assert.ok(import.meta.resolve(ELK_BUNDLE).startsWith("file:"), "elkjs is in Deno's cache");
});

Deno.test("inspector: the literal it resolves is ELK_BUNDLE", async () => {
  const source = await Deno.readTextFile(new URL("../../lib/server/inspector.ts", import.meta.url));
  assert.ok(source.includes(`import.meta.resolve(${JSON.stringify(ELK_BUNDLE)})`));
});
