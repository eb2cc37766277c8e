/**
 * Loading machine scripts from their source text, for the `deno compile` binary. A compiled
 * binary cannot `import()` a file that was not embedded when it was built (denoland/deno#18327),
 * so a user's script is read, transpiled from TypeScript to JavaScript (sucrase), its imports
 * rewritten, and imported from a `data:` URL, which the binary's module loader accepts:
 *
 * - the Statecraft library (`statecraft`, `@statecraft/statecraft`, `.../mod.ts` and
 *   `.../lib/...` of a Statecraft checkout) becomes the running program's own modules, so the
 *   script's `defineMachine`, `Machine` and `pluginAction` are the runtime's, not a copy;
 * - the script's own local imports (`./helpers.ts`) are loaded the same way, depth first;
 * - bare and `npm:` specifiers stay as they are (the embedded import map resolves them);
 * - `import.meta` is the script file's (`url`, `filename`, `dirname`, `resolve`), not the
 *   `data:` URL's.
 *
 * Sucrase keeps line numbers, and every module carries a `sourceURL` naming its file, so
 * errors point at `file:line:col` of the script as with a plain `import()`.
 *
 * The path is taken when `sourceImportEnabled()` says so: always inside a compiled binary
 * (`Deno.build.standalone`), and under `deno run` when `STATECRAFT_SOURCE_IMPORT=1` (how the
 * tests exercise the binary's path without building one).
 *
 * @module
 */
import { fileURLToPath, pathToFileURL } from "node:url";

/** The folder holding the running library's `mod.ts` (inside a binary: its virtual folder). */
const LIBRARY_ROOT = new URL("../../", import.meta.url);

/** Bare specifiers that name the Statecraft library, and the module of it each stands for. */
const LIBRARY_SPECIFIERS: Record<string, string> = {
  "statecraft": "mod.ts",
  "@statecraft/statecraft": "mod.ts",
  "jsr:@statecraft/statecraft": "mod.ts",
  "statecraft/plugin": "lib/plugins/sdk.ts",
  "statecraft/core": "core.ts",
  "@statecraft/statecraft/core": "core.ts",
  "@statecraft/statecraft/plugin": "lib/plugins/sdk.ts",
  "jsr:@statecraft/statecraft/plugin": "lib/plugins/sdk.ts",
};

export { SOURCE_IMPORT_ENV, sourceImportEnabled } from "./source_switch.ts";

/**
 * Imports a machine script (`.ts`, `.js`, `.mts`, `.tsx`...) from its source text; see the
 * module documentation. Resolves to the module's namespace, like `import()`.
 *
 * @param file an absolute path
 *
 * @example
 * ```ts ignore
 * import { importScript } from "./script_source.ts";
 * const mod = await importScript("/home/me/project/machines/door.ts");
 * ```
 */
export async function importScript(file: string): Promise<Record<string, unknown>> {
  const cache: Cache = new Map();
  const url = await moduleUrl(file, cache, []);
  try {
    // A data: URL built above (JSR cannot analyse it; it needs no import map).
    return await import(url);
  } catch (e) {
    throw await relabel(e, cache);
  }
}

type Cache = Map<string, Promise<string>>;

/**
 * Puts the files' URLs back into an error from a `data:` module (Deno shows a long `data:` URL
 * shortened, `data:text/javascript;base64,Ly8g......LnRzCg==`: matched by both ends).
 */
async function relabel(error: unknown, cache: Cache): Promise<unknown> {
  if (!(error instanceof Error)) return error;
  const modules: [string, string][] = [];
  for (const [path, url] of cache) {
    const built = await url.catch(() => null);
    if (built !== null) modules.push([built, pathToFileURL(path).href]);
  }
  const fix = (text: string) =>
    text.replace(
      /data:text\/javascript;base64,[A-Za-z0-9+/=]*(?:\.{3,}[A-Za-z0-9+/=]*)?/g,
      (shown) => {
        const [head, tail = ""] = shown.split(/\.{3,}/);
        const found = modules.filter(([u]) =>
          shown.includes("...") ? u.startsWith(head) && u.endsWith(tail) : u === shown
        );
        return found.length === 1 ? found[0][1] : shown;
      },
    );
  error.message = fix(error.message);
  if (error.stack !== undefined) error.stack = fix(error.stack);
  return error;
}

/** The `data:` URL of a local module, built once per load (shared imports stay one module). */
function moduleUrl(path: string, cache: Cache, stack: string[]): Promise<string> {
  if (stack.includes(path)) {
    const cycle = [...stack.slice(stack.indexOf(path)), path];
    return Promise.reject(
      new Error(
        `circular import: ${cycle.map((f) => f.slice(f.lastIndexOf("/") + 1)).join(" -> ")}`,
      ),
    );
  }
  let url = cache.get(path);
  if (url === undefined) {
    url = buildModule(path, cache, [...stack, path]);
    cache.set(path, url);
  }
  return url;
}

async function buildModule(path: string, cache: Cache, stack: string[]): Promise<string> {
  const source = await Deno.readTextFile(path);
  const fileUrl = pathToFileURL(path).href;
  if (path.endsWith(".json")) return dataUrl("application/json", source);
  const js = await transpile(source, path);
  const { init, parse } = await import("es-module-lexer");
  await init;
  const [imports] = parse(js, fileUrl);
  let out = "";
  let last = 0;
  let usesMeta = false;
  for (const imp of imports) {
    if (imp.d === -2) {
      // `import.meta`: the script's own, through a hoisted function appended below.
      out += js.slice(last, imp.ss) + "__statecraftImportMeta()";
      last = imp.se;
      usesMeta = true;
      continue;
    }
    if (imp.n === undefined) continue; // import(expression): left to the runtime
    const target = await resolveSpecifier(imp.n, path, cache, stack).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      // A dynamic import fails when it runs, not before: point it at the file as it is.
      if (imp.d >= 0) return new URL(imp.n!, fileUrl).href;
      // As a plain import() says it, pointing at the specifier in the importing file.
      const line = js.slice(0, imp.s).split("\n").length;
      const col = source.split("\n")[line - 1]?.indexOf(imp.n!) ?? -1;
      const url = new URL(imp.n!, fileUrl).href;
      throw new TypeError(
        `Module not found "${url}".\n    at ${fileUrl}:${line}:${col < 0 ? 1 : col}`,
      );
    });
    if (target === imp.n) continue;
    // Static imports: s..e is the specifier's text; dynamic ones: the literal with its quotes.
    const text = imp.d === -1 ? JSON.stringify(target).slice(1, -1) : JSON.stringify(target);
    out += js.slice(last, imp.s) + text;
    last = imp.e;
  }
  out += js.slice(last);
  if (usesMeta) {
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    // One line, appended: line numbers of the script stay as they are.
    out += `\nfunction __statecraftImportMeta() { return { url: ${JSON.stringify(fileUrl)}, ` +
      `filename: ${JSON.stringify(path)}, dirname: ${JSON.stringify(dir)}, main: false, ` +
      `resolve: (s) => new URL(s, ${JSON.stringify(fileUrl)}).href }; }`;
  }
  out += `\n//# sourceURL=${fileUrl}\n`;
  return dataUrl("text/javascript", out);
}

/** TypeScript (and JSX) to JavaScript, types erased, imports and line numbers kept. */
async function transpile(source: string, path: string): Promise<string> {
  const { transform } = await import("sucrase");
  const jsx = /\.[jt]sx$/.test(path);
  try {
    return transform(source, {
      transforms: jsx ? ["typescript", "jsx"] : ["typescript"],
      disableESTransforms: true,
      filePath: path,
    }).code;
  } catch (e) {
    // Sucrase says "Error transforming <file>: Unexpected token (12:3)": made the error a plain
    // import() gives for a parse error, TypeError("SyntaxError: ...\n    at <url>:12:3").
    const message = e instanceof Error ? e.message : String(e);
    const at = /\((\d+):(\d+)\)$/.exec(message);
    const what = message.replace(/^Error transforming [^:]*: /, "").replace(/\s*\(\d+:\d+\)$/, "");
    const where = at === null ? "" : `\n    at ${pathToFileURL(path).href}:${at[1]}:${at[2]}`;
    throw new TypeError(`SyntaxError: ${what}${where}`);
  }
}

/** Where an import of a script should point, from inside a `data:` module. */
async function resolveSpecifier(
  spec: string,
  from: string,
  cache: Cache,
  stack: string[],
): Promise<string> {
  const mapped = LIBRARY_SPECIFIERS[spec];
  if (mapped !== undefined) return new URL(mapped, LIBRARY_ROOT).href;
  const local = spec.startsWith("./") || spec.startsWith("../") || spec.startsWith("/") ||
    spec.startsWith("file:");
  if (!local) return spec; // bare, npm:, jsr:, node:, https:, data:
  const target = fileURLToPath(new URL(spec, pathToFileURL(from)));
  const library = await libraryModule(target);
  if (library !== null) return library;
  return await moduleUrl(target, cache, stack);
}

const rootChecks = new Map<string, Promise<boolean>>();

/** Whether `dir` is a Statecraft checkout (its `mod.ts` beside `lib/runtime/runtime.ts`). */
function isLibraryRoot(dir: string): Promise<boolean> {
  let check = rootChecks.get(dir);
  if (check === undefined) {
    check = Promise.all([Deno.stat(`${dir}/mod.ts`), Deno.stat(`${dir}/lib/runtime/runtime.ts`)])
      .then(([a, b]) => a.isFile && b.isFile, () => false);
    rootChecks.set(dir, check);
  }
  return check;
}

/**
 * The running library's module for a path into a Statecraft checkout (`<root>/mod.ts`,
 * `<root>/lib/...`), for any `.../lib/plugins/sdk.ts` (what plugins import), or for a `mod.ts`
 * that is not there at all (a script written beside a checkout, run by the binary elsewhere);
 * null for any other file.
 */
async function libraryModule(path: string): Promise<string | null> {
  // A plugin's `definePlugin` import: the running SDK, even where the checkout is unreadable.
  if (path.endsWith("/lib/plugins/sdk.ts")) return new URL("lib/plugins/sdk.ts", LIBRARY_ROOT).href;
  if (path.endsWith("/core.ts")) {
    const root = path.slice(0, -"/core.ts".length);
    if (await isLibraryRoot(root)) return new URL("core.ts", LIBRARY_ROOT).href;
  }
  if (path.endsWith("/mod.ts")) {
    const root = path.slice(0, -"/mod.ts".length);
    if (await isLibraryRoot(root)) return new URL("mod.ts", LIBRARY_ROOT).href;
    try {
      await Deno.stat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return new URL("mod.ts", LIBRARY_ROOT).href;
    }
    return null;
  }
  for (let i = path.indexOf("/lib/"); i >= 0; i = path.indexOf("/lib/", i + 1)) {
    const root = path.slice(0, i);
    if (await isLibraryRoot(root)) return new URL(path.slice(i + 1), LIBRARY_ROOT).href;
  }
  return null;
}

function dataUrl(type: string, text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:${type};base64,${btoa(binary)}`;
}
