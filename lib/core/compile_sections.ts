/**
 * The machine's own sections (`id`, `guards`, `actions`, `context`, `migrations`, `schemas`,
 * `search`),
 * and the guard and action names that states use to point into them.
 *
 * @module
 */
import type { MachineConfig } from "./types.ts";
import type { ActionFn, GuardFn } from "./compiled_types.ts";
import { type CompileContext, describeValue, isObject } from "./compile_context.ts";

/** Checks the machine-level sections and keeps the named guards and actions on `ctx`. */
export function checkSections(ctx: CompileContext, config: MachineConfig): void {
  ctx.machineId = typeof config.id === "string" ? config.id : "";
  if (typeof config.id !== "string" || config.id.trim() === "") {
    ctx.error(["id"], "the machine needs an id (a non-empty string)");
  }
  // Own properties only, into Maps: a name never resolves through Object.prototype.
  ctx.guards = new Map(isObject(config.guards) ? Object.entries(config.guards) : []);
  ctx.actions = new Map(isObject(config.actions) ? Object.entries(config.actions) : []);
  if (config.guards !== undefined && !isObject(config.guards)) {
    ctx.error(["guards"], "guards must be an object of named guard functions");
    ctx.guardsBroken = true;
  }
  if (config.actions !== undefined && !isObject(config.actions)) {
    ctx.error(["actions"], "actions must be an object of named action functions");
    ctx.actionsBroken = true;
  }
  for (const [name, fn] of ctx.guards) {
    if (typeof fn !== "function") ctx.error(["guards", name], "a named guard must be a function");
  }
  for (const [name, fn] of ctx.actions) {
    if (typeof fn !== "function") ctx.error(["actions", name], "a named action must be a function");
  }
  const { version } = config as { version?: unknown };
  if (
    version !== undefined && typeof version !== "string" &&
    !(typeof version === "number" && Number.isFinite(version))
  ) {
    ctx.error(["version"], `version must be a string or a number, not ${describeValue(version)}`);
  }
  if (config.context !== undefined && typeof config.context !== "function") {
    if (!isObject(config.context)) {
      ctx.error(["context"], "context must be an object or a function");
    } else checkCloneable(ctx, config.context);
  }
  if (config.migrations !== undefined) {
    if (!isObject(config.migrations)) {
      ctx.error(["migrations"], "migrations must be an object of from-version -> function");
    } else {
      for (const [from, fn] of Object.entries(config.migrations)) {
        if (typeof fn !== "function") {
          ctx.error(["migrations", from], "a migration must be a function (snapshot) => snapshot");
        }
      }
    }
  }
  if (config.search !== undefined) checkSearch(ctx, config.search);
  if (config.schemas !== undefined) {
    const events = (config.schemas as { events?: unknown }).events;
    if (!isObject(config.schemas) || (events !== undefined && !isObject(events))) {
      ctx.error(["schemas"], "schemas must be { events: { EVENT_TYPE: schema } }");
    } else if (events !== undefined) {
      for (const [type, schema] of Object.entries(events)) {
        if (!isStandardSchema(schema)) {
          ctx.error(
            ["schemas", "events", type],
            "a payload schema must be a Standard Schema (for example a zod schema)",
          );
        }
      }
    }
  }
}

/** `search: { context: [field...], tags: boolean }`. */
function checkSearch(ctx: CompileContext, search: unknown): void {
  if (!isObject(search)) {
    ctx.error(["search"], "search must be { context: [field names], tags: true|false }");
    return;
  }
  for (const k of Object.keys(search)) {
    if (k !== "context" && k !== "tags") {
      ctx.error(["search", k], `unknown search property "${k}" (context, tags)`);
    }
  }
  const { context, tags } = search as { context?: unknown; tags?: unknown };
  if (
    context !== undefined &&
    (!Array.isArray(context) || context.some((f) => typeof f !== "string" || f === ""))
  ) ctx.error(["search", "context"], "search.context must be an array of context field names");
  if (tags !== undefined && typeof tags !== "boolean") {
    ctx.error(["search", "tags"], `search.tags must be true or false, not ${describeValue(tags)}`);
  }
}

/** A Standard Schema: an object or function whose `~standard` has a `validate` function. */
function isStandardSchema(schema: unknown): boolean {
  if (!isObject(schema) && typeof schema !== "function") return false;
  const standard = (schema as { "~standard"?: unknown })["~standard"];
  return (isObject(standard) || typeof standard === "function") &&
    typeof (standard as { validate?: unknown }).validate === "function";
}

/** Every instance starts with a copy of the context object: it must be one `structuredClone` makes. */
function checkCloneable(ctx: CompileContext, context: Record<string, unknown>): void {
  try {
    structuredClone(context);
  } catch (e) {
    const why = e instanceof RangeError
      ? "it nests too deeply"
      : e instanceof Error
      ? e.message.slice(0, 120)
      : "structuredClone refused it";
    ctx.error(
      ["context"],
      `context cannot be copied for each instance (${why}); use plain data, or a function ` +
        "that returns a fresh context",
    );
  }
}

/**
 * A function, or the name of one in the section `${what}s`. A name the section does not define
 * is reported where it is used; a name it defines badly, or any name when the section itself is
 * malformed, was reported at the section already.
 */
function resolveNamed(
  ctx: CompileContext,
  what: "action" | "guard",
  section: Map<string, unknown>,
  broken: boolean,
  v: unknown,
  path: string[],
): unknown {
  if (typeof v === "function") return v;
  if (typeof v === "string") {
    const fn = section.get(v);
    if (typeof fn === "function") return fn;
    if (!broken && !section.has(v)) {
      ctx.error(path, `unknown ${what} "${v}" (named ${what}s go in the machine's "${what}s")`);
    }
    return null;
  }
  const article = what === "action" ? "an" : "a";
  ctx.error(
    path,
    `${article} ${what} must be a function or the name of one in the machine's ${what}s`,
  );
  return null;
}

/** An action (a function, or the name of one in the machine's `actions`) or a list of them. */
export function resolveActions(ctx: CompileContext, v: unknown, path: string[]): ActionFn[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  const out: ActionFn[] = [];
  list.forEach((a, i) => {
    const at = Array.isArray(v) ? [...path, String(i)] : path;
    const fn = resolveNamed(ctx, "action", ctx.actions, ctx.actionsBroken, a, at) as
      | ActionFn
      | null;
    if (fn !== null) out.push(fn);
  });
  return out;
}

/** A guard: a function, or the name of one in the machine's `guards` (`undefined`: none). */
export function resolveGuard(ctx: CompileContext, g: unknown, path: string[]): GuardFn | null {
  if (g === undefined) return null;
  return resolveNamed(ctx, "guard", ctx.guards, ctx.guardsBroken, g, path) as GuardFn | null;
}
