/**
 * Imports that Deno does not load at start-up. Deno builds the module graph of every literal
 * `import("./x.ts")` before the program runs, whether or not that branch is ever taken (the
 * runtime's graph behind `statecraft run`'s durable branch costs an in-memory run ~40 ms). A
 * specifier built at run time is loaded only when the import runs.
 *
 * `deno task compile` cannot see these imports: each module loaded this way is named there
 * with `--include`.
 *
 * @module
 */

/**
 * Imports `path`, relative to `base` (the caller's `import.meta.url`), when called.
 *
 * @example
 * ```ts ignore
 * const { Runtime } = await importLazily<typeof import("../runtime/runtime.ts")>(
 *   import.meta.url,
 *   "../runtime/runtime.ts",
 * );
 * ```
 */
export function importLazily<M>(base: string, path: string): Promise<M> {
  return import(new URL(path, base).href);
}
