/**
 * The files `statecraft init` writes: a project that imports the library by name
 * (`@statecraft/statecraft`), with one machine, one plugin, one test written with the testing
 * kit, its configuration and a short README. Every file passes `deno fmt --check` and
 * `deno lint` as written (the new project's `deno task check` runs both).
 *
 * @module
 */
import { pluginManifestText, pluginModuleText } from "./plugin_scaffold.ts";

/** What the files depend on. */
export interface ProjectTemplateOptions {
  /** The library's version: the project imports `jsr:@statecraft/statecraft@^<version>`. */
  version: string;
  /**
   * A local copy of the library to use instead of the published package (its folder, with its
   * `deno.json`): written into `"links"`. Absent: the published package.
   */
  link?: string;
}

/** One file of the project: its path (relative, with `/`) and its text. */
export interface ProjectFile {
  /** Relative to the project folder. */
  path: string;
  /** The whole text. */
  text: string;
}

/** The plugin every new project starts with. */
export const STARTER_PLUGIN = "greeter";

/** Flags every command of the project's tasks shares: the store's folder, env, sys. */
const STORE_FLAGS =
  "--allow-read --allow-write=.statecraft --allow-env --allow-sys=systemMemoryInfo,hostname";
/** The CLI, by the name the import map gives it. */
const CLI = "@statecraft/statecraft/cli";

/**
 * Every file of a new project, in the order they are written.
 *
 * @example
 * ```ts
 * import { projectFiles } from "./init_templates.ts";
 * const files = projectFiles({ version: "0.1.0" });
 * files.map((f) => f.path); // ["deno.json", "statecraft.yaml", ..., "README.md"]
 * ```
 */
export function projectFiles(options: ProjectTemplateOptions): ProjectFile[] {
  return [
    { path: "deno.json", text: denoJson(options) },
    { path: "statecraft.yaml", text: CONFIG },
    { path: "machines/order.ts", text: MACHINE },
    { path: `plugins/${STARTER_PLUGIN}/plugin.yaml`, text: pluginManifestText(STARTER_PLUGIN) },
    {
      path: `plugins/${STARTER_PLUGIN}/mod.ts`,
      text: pluginModuleText(STARTER_PLUGIN, "@statecraft/statecraft/plugin"),
    },
    { path: "tests/order_test.ts", text: TEST },
    { path: ".gitignore", text: ".statecraft/\n*.key\n" },
    { path: "README.md", text: readme(options) },
  ];
}

function denoJson(options: ProjectTemplateOptions): string {
  const json: Record<string, unknown> = {
    tasks: {
      start: `deno run --quiet ${STORE_FLAGS} --allow-run=deno ${CLI} repl`,
      serve: `deno run ${STORE_FLAGS} --allow-net=127.0.0.1:8787 --allow-run=deno ${CLI} serve`,
      test: `deno run --allow-read --allow-write --allow-env --allow-run=deno ${CLI} test`,
      check: `deno fmt --check && deno lint && deno check machines/ plugins/ tests/ && ` +
        `deno run --allow-read --allow-env ${CLI} check machines/*.ts`,
      statecraft: `deno run ${STORE_FLAGS} --allow-net --allow-run=deno ${CLI}`,
    },
    imports: { "@statecraft/statecraft": `jsr:@statecraft/statecraft@^${options.version}` },
    // Deno KV (the store) and Workers with permissions (the plugins) are unstable APIs.
    unstable: ["kv", "worker-options"],
    exclude: [".statecraft/"],
    fmt: { proseWrap: "preserve" },
  };
  if (options.link !== undefined) json.links = [options.link];
  return JSON.stringify(json, null, 2) + "\n";
}

const CONFIG = `# The project's configuration. Every key, with its default:
# https://jsr.io/@statecraft/statecraft (schemas/statecraft.schema.json)
machines: ["machines/*.ts"]
plugins: [plugins]
# The durable store: a local Deno KV file, or postgres://user@host/db for many nodes.
kv: .statecraft/state.kv
`;

const MACHINE = `/**
 * An order: items go into the cart, checkout waits an hour for the payment,
 * then it ships.
 *
 * Try it: \`deno task start\`, then \`spawn order o1\`, \`send o1 ADD\`,
 * \`send o1 CHECKOUT\`.
 *
 * @module
 */
import { assign, defineMachine } from "@statecraft/statecraft";

/** The order machine; tests/order_test.ts takes every transition of it. */
export const order = defineMachine({
  id: "order",
  initial: "cart",
  context: { items: 0 },
  states: {
    cart: {
      on: {
        ADD: { actions: assign({ items: ({ context }) => context.items + 1 }) },
        CHECKOUT: {
          target: "awaitingPayment",
          guard: ({ context }) => context.items > 0,
        },
      },
    },
    awaitingPayment: {
      on: { PAY: "paid", CANCEL: "cancelled" },
      after: { "1h": "cancelled" },
    },
    paid: { on: { SHIP: "shipped" } },
    shipped: { type: "final" },
    cancelled: { type: "final" },
  },
});
`;

const TEST = `/**
 * The order machine, tested with Statecraft's testing kit: paths to every state
 * and through every transition, generated from the chart and run as test steps;
 * a guard seen false; a durable timer on virtual time.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  testPaths,
  testStore,
  trackCoverage,
} from "@statecraft/statecraft/testing";
import { order } from "../machines/order.ts";

Deno.test("order: a path to every state", async (t) => {
  await testPaths(t, order, "shortest");
});

Deno.test("order: every transition of the chart", async (t) => {
  await testPaths(t, order, "simple");
});

Deno.test("order: an empty cart cannot check out", () => {
  const o = trackCoverage(order).start(); // counted in the coverage table
  o.send("CHECKOUT");
  assert.ok(o.matches("cart"));
});

Deno.test("order: unpaid for an hour, it is cancelled (durably)", async () => {
  await using t = await testStore({ machines: [order] }); // in memory, virtual time
  await t.store.create("order", "o1");
  await t.store.send("o1", "ADD");
  await t.store.send("o1", "CHECKOUT");
  await t.advance("1h");
  assert.deepEqual((await t.store.get("o1"))?.configuration, ["cancelled"]);
});
`;

function readme(options: ProjectTemplateOptions): string {
  const linked = options.link === undefined ? "" : `
## The library

\`deno.json\` imports \`@statecraft/statecraft\` from JSR, and its \`"links"\` points that name at a
local copy of Statecraft (\`${options.link}\`), so nothing is downloaded. Once the package is
published, delete the \`"links"\` entry: the same imports then come from JSR.
`;
  return `# A Statecraft project

\`\`\`sh
deno task start   # the REPL on machines/ and plugins/, durable in .statecraft/state.kv
deno task test    # the tests in tests/, with the chart coverage of each machine
\`\`\`

- \`machines/\`: machine scripts (\`defineMachine\`), loaded by every command; \`order.ts\` is one.
- \`plugins/\`: plugins (a \`plugin.yaml\` declaring permissions, and a \`mod.ts\`);
  try \`deno task statecraft plugin call ${STARTER_PLUGIN} hello '{"name":"x"}'\`.
- \`tests/\`: tests written with \`@statecraft/statecraft/testing\`.
- \`statecraft.yaml\`: what to load and where the store is.

Other tasks: \`deno task serve\` (the HTTP API and live inspector on http://127.0.0.1:8787),
\`deno task check\` (format, lint, type check, machine check), \`deno task statecraft --help\`.
${linked}`;
}
