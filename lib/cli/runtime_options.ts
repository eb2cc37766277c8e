/**
 * What `repl` and `serve` share: their project folder and `--kv/--config/--plugins` options,
 * turned into `Runtime.open` options (relative paths against the working directory).
 *
 * @module
 */
import type { RuntimeOptions } from "../runtime/runtime.ts";

/** The options both commands take. */
export interface ProjectOptions {
  kv?: string;
  config?: string;
  /** Directories, or `false` for `--no-plugins`. */
  plugins?: string[] | boolean;
  /** `--cluster`: join the store's cluster as a member (owning partitions). */
  cluster?: boolean;
  /** `--node <name>`: this node's name in the cluster (implies `--cluster`). */
  node?: string;
}

/** The project folder (absolute) and the `Runtime.open` options for it. */
export function projectRuntimeOptions(
  projectDir: string | undefined,
  options: ProjectOptions,
): { dir: string; runtime: RuntimeOptions } {
  const cwd = Deno.cwd();
  const abs = (p: string) => p.startsWith("/") ? p : `${cwd}/${p}`;
  const dir = abs(projectDir ?? ".").replace(/\/\.?$/, "") || "/";
  return {
    dir,
    runtime: {
      projectDir: dir,
      configFile: options.config === undefined ? undefined : abs(options.config),
      kv: options.kv === undefined || options.kv === ":memory:" || /^[a-z]+:/.test(options.kv)
        ? options.kv
        : abs(options.kv),
      plugins: Array.isArray(options.plugins) ? options.plugins.map(abs) : undefined,
      noPlugins: options.plugins === false,
      cluster: options.cluster === true || options.node !== undefined
        ? { ...(options.node === undefined ? {} : { node: options.node }) }
        : undefined,
    },
  };
}
