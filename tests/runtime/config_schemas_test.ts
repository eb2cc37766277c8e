// schemas/*.json are what `deno task schemas` writes from the zod schemas files are checked with.
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { generateSchemas, staleSchemas } from "../../tasks/schemas.ts";

Deno.test("schemas/ holds exactly what deno task schemas writes", async () => {
  assert.deepEqual(await staleSchemas(), [], "regenerate: deno task schemas");
  const names = (await Array.fromAsync(Deno.readDir(new URL("../../schemas/", import.meta.url))))
    .map((e) => e.name).sort();
  assert.deepEqual(names, Object.keys(generateSchemas()).sort());
});

Deno.test("a schema that is out of date or missing is reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "statecraft_schemas_" });
  try {
    const url = new URL(`${pathToFileURL(dir).href}/`);
    assert.deepEqual(await staleSchemas(url), ["plugin.schema.json", "statecraft.schema.json"]);
    for (const [name, text] of Object.entries(generateSchemas())) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    assert.deepEqual(await staleSchemas(url), []);
    await Deno.writeTextFile(`${dir}/plugin.schema.json`, "{}\n");
    assert.deepEqual(await staleSchemas(url), ["plugin.schema.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
