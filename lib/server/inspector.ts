/**
 * The live inspector: `GET /` serves a page that lists the instances, draws the selected
 * instance's statechart (laid out by elkjs in the browser) with its active configuration
 * highlighted, and follows `GET /events` (Server-Sent Events) to update as transitions commit.
 * Its panel shows the context and the journal, sends the events the instance accepts now and
 * rolls back to a journal entry, all through the HTTP API.
 *
 * Everything the page loads comes from the runtime itself (no CDN): the page, its script and
 * style from `lib/server/assets/`, and elkjs's browser bundle from the npm package in Deno's
 * cache. The routes registered here:
 *
 * - `GET /`: the page.
 * - `GET /assets/<name>`: `inspector.js`, `schedules.js` (the Schedules view), `inspector.css`,
 *   `elk.bundled.js`.
 * - `GET /machines/:id/chart`: the machine's chart (`chartOf`), 404 for an unknown machine.
 *
 * @module
 */
import type { Hono } from "hono";
import type { Runtime } from "../runtime/runtime.ts";
import { chartOf } from "./chart.ts";

export { type Chart, chartOf, type ChartState, type ChartTransition } from "./chart.ts";

/** The page's own files, served from `lib/server/assets/`. */
const PAGE_ASSETS: Record<string, string> = {
  "inspector.js": "text/javascript; charset=utf-8",
  "schedules.js": "text/javascript; charset=utf-8",
  "inspector.css": "text/css; charset=utf-8",
};

/** What the routes need from a runtime: its machines. `Runtime` fits. */
export type InspectorRuntime = Pick<Runtime, "machines">;

/**
 * Registers the inspector's routes (`GET /`, `GET /assets/*`, `GET /machines/:id/chart`) on
 * a Hono app. The page talks to the API routes (`/instances...`, `/events`) of the same app.
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { Runtime } from "../runtime/runtime.ts";
 * import { inspectorRoutes } from "./inspector.ts";
 * const runtime = await Runtime.open();
 * const app = new Hono();
 * inspectorRoutes(app, runtime);
 * Deno.serve({ port: 8080 }, app.fetch);
 * ```
 */
// deno-lint-ignore no-explicit-any
export function inspectorRoutes(app: Hono<any, any, any>, runtime: InspectorRuntime): void {
  app.get("/", async () => {
    const html = await readAsset("index.html");
    return new Response(html, {
      headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" },
    });
  });
  app.get("/assets/:name", async (c) => {
    const name = c.req.param("name");
    if (name === "elk.bundled.js") {
      return new Response(await elkBundle(), {
        headers: {
          "content-type": "text/javascript; charset=utf-8",
          "cache-control": "public, max-age=86400",
        },
      });
    }
    const type = PAGE_ASSETS[name];
    if (type === undefined) return c.json({ error: `no asset "${name}"` }, 404);
    return new Response(await readAsset(name), {
      headers: { "content-type": type, "cache-control": "no-cache" },
    });
  });
  app.get("/machines/:id/chart", (c) => {
    const id = c.req.param("id");
    const loaded = runtime.machines.get(id);
    if (loaded === undefined) {
      const known = [...runtime.machines.keys()].sort().join(", ") || "none";
      return c.json({ error: `unknown machine "${id}" (known: ${known})` }, 404);
    }
    return c.json(chartOf(loaded.machine));
  });
}

type Bytes = Uint8Array<ArrayBuffer>;

function readAsset(name: string): Promise<Bytes> {
  return Deno.readFile(new URL(`./assets/${name}`, import.meta.url)) as Promise<Bytes>;
}

let elkBytes: Promise<Bytes> | null = null;

/**
 * elkjs's browser bundle, as a full `npm:` specifier with the same range as deno.json's
 * `"elkjs"` import (a test keeps the two equal): `import.meta.resolve` of a bare name works only
 * through this repository's import map, and JSR does not rewrite its argument when publishing.
 */
export const ELK_BUNDLE = "npm:elkjs@^0.9.3/lib/elk.bundled.js";

/**
 * Never called: this import only puts elkjs in the module graph, so that Deno fetches the
 * package (and `deno compile` embeds it) and `import.meta.resolve` gives its file. (A literal:
 * the graph is built from literal specifiers only.)
 */
// deno-lint-ignore no-unused-vars
function elkInGraph(): Promise<unknown> {
  return import("elkjs/lib/elk.bundled.js");
}

/** elkjs's browser bundle (it defines the global `ELK`), read from the npm package. */
function elkBundle(): Promise<Bytes> {
  if (elkBytes === null) {
    // ELK_BUNDLE, written out: JSR analyses only a literal argument.
    const url = import.meta.resolve("npm:elkjs@^0.9.3/lib/elk.bundled.js");
    if (!url.startsWith("file:")) {
      return Promise.reject(new Error(`elkjs is not in Deno's npm cache (resolved to ${url})`));
    }
    elkBytes = Deno.readFile(new URL(url)) as Promise<Bytes>;
    elkBytes.catch(() => elkBytes = null);
  }
  return elkBytes;
}
