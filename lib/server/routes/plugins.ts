/**
 * The `/plugins` routes: the plugins and their state, the routes plugins declare in their
 * manifests (`/plugins/<plugin><route.path>`), and any action through the supervisor
 * (`POST /plugins/:name/:action`).
 *
 * @module
 */
import { Hono } from "hono";
import type { PluginRoute } from "../../plugins/manifest.ts";
import type { Runtime } from "../../runtime/runtime.ts";
import { bodyText, parseJson } from "../request.ts";
import { MUTATING, type RouteDeps } from "./deps.ts";

/** A route a plugin declares in its manifest, mounted at `/plugins/<plugin><route.path>`. */
export interface MountedPluginRoute {
  /** The plugin's name. */
  plugin: string;
  /** The route as the manifest declares it. */
  route: PluginRoute;
}

/** The `/plugins` routes, with the declared ones mounted. */
export function pluginRoutes(deps: RouteDeps, declared: readonly MountedPluginRoute[]): Hono {
  const { runtime, metrics, limit, authorized } = deps;
  const app = new Hono();

  app.get("/", (c) => c.json({ items: runtime.plugins.list() }));

  // Routes plugins declare come before the generic action route, so they win.
  for (const { plugin, route } of declared) {
    const path = `/${plugin}${route.path === "/" ? "" : route.path}`;
    app.on(route.method, path, limit, async (c) => {
      // A plugin's GET runs plugin code all the same: every declared route needs the token.
      if (!MUTATING.has(c.req.method) && !authorized(c.req.header("authorization"))) {
        metrics.recordError("unauthorized");
        return c.json({ error: "unauthorized" }, 401, { "www-authenticate": "Bearer" });
      }
      const text = route.method === "GET" || route.method === "DELETE" ? "" : await bodyText(c);
      let body: unknown = text;
      if (text !== "" && (c.req.header("content-type") ?? "").includes("json")) {
        body = parseJson(text);
      }
      const payload = {
        method: c.req.method,
        path: c.req.path,
        params: c.req.param(),
        query: c.req.query(),
        body: text === "" ? null : body,
      };
      const result = await runtime.call(plugin, route.action, payload);
      return c.json({ result: result ?? null });
    });
  }

  app.post("/:name/:action", limit, async (c) => {
    const name = c.req.param("name"), action = c.req.param("action");
    const text = await bodyText(c);
    const payload = text === "" ? undefined : parseJson(text);
    const result = await runtime.call(name, action, payload);
    return c.json({ result: result ?? null });
  });

  return app;
}

/**
 * The routes the loaded plugins declare in their manifests (read again from the configured
 * plugin directories: the supervisor keeps no manifests). Plugins that are not loaded get none.
 */
export async function discoverPluginRoutes(
  runtime: Pick<Runtime, "plugins" | "config" | "projectDir">,
): Promise<MountedPluginRoute[]> {
  const loaded = new Set(runtime.plugins.list().map((p) => p.name));
  if (loaded.size === 0) return [];
  const { discoverPlugins } = await import("../../plugins/resolver.ts");
  const dirs = runtime.config.plugins.map((d) =>
    d.startsWith("/") ? d : `${runtime.projectDir}/${d}`
  );
  const { plugins } = await discoverPlugins(dirs);
  const out: MountedPluginRoute[] = [];
  for (const p of plugins) {
    if (!loaded.has(p.manifest.name)) continue;
    for (const route of p.manifest.routes) out.push({ plugin: p.manifest.name, route });
  }
  return out;
}
