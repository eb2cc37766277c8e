/**
 * `statecraft serve [project-dir]`: opens the project's Runtime and serves its HTTP API
 * (lib/server/) until SIGINT or SIGTERM, then closes the server and the runtime.
 *
 * @module
 */
import { Runtime } from "../runtime/runtime.ts";
import { CliError } from "./cli_error.ts";
import { projectRuntimeOptions } from "./runtime_options.ts";

/** Options of `statecraft serve`, as commander parses them. */
export interface ServeCommandOptions {
  /** Interface (default: `server.host` of the configuration, else 127.0.0.1). */
  host?: string;
  /** Port (default: `server.port` of the configuration, else 8787). */
  port?: number;
  /** KV path or URL (default: from the configuration). */
  kv?: string;
  /** The configuration file (default: `<project>/statecraft.yaml` if there). */
  config?: string;
  /** Plugin directories; `false` (`--no-plugins`): none. */
  plugins?: string[] | boolean;
  /** Environment variable holding the bearer token (default: `server.tokenEnv`). */
  tokenEnv?: string;
  /** Largest request body in bytes (default 1 MiB). */
  maxBody?: number; /** `--cluster`: join the store's cluster as a member. */
  cluster?: boolean;
  /** `--node <name>`: this node's name in the cluster (implies `--cluster`). */
  node?: string;
}

/**
 * Serves until a signal; resolves with the exit code. Throws a `CliError` when the project
 * cannot open or the server cannot listen.
 *
 * @example
 * ```ts ignore
 * Deno.exitCode = await serveCommand(".", { port: 8787 });
 * ```
 */
export async function serveCommand(
  projectDir: string | undefined,
  options: ServeCommandOptions,
): Promise<number> {
  const { dir, runtime: open } = projectRuntimeOptions(projectDir, options);
  let runtime: Runtime;
  try {
    runtime = await Runtime.open(open);
  } catch (e) {
    throw new CliError(
      `serve: cannot open the project ${dir}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const { serve, ServeConfigError } = await import("../server/serve.ts");
  const tokenEnv = options.tokenEnv ?? runtime.config.server.tokenEnv;
  let token: string | undefined;
  if (tokenEnv !== undefined) {
    token = Deno.env.get(tokenEnv);
    if (token === undefined || token === "") {
      await runtime.close();
      throw new CliError(`serve: the token variable ${tokenEnv} is not set`);
    }
  }
  let server;
  try {
    server = await serve(runtime, {
      host: options.host ?? runtime.config.server.host,
      port: options.port ?? runtime.config.server.port,
      token,
      maxBodyBytes: options.maxBody,
    });
  } catch (e) {
    await runtime.close();
    if (e instanceof ServeConfigError || e instanceof Deno.errors.AddrInUse) {
      throw new CliError(`serve: ${e.message}`);
    }
    throw e;
  }
  console.error(
    `statecraft: serving ${runtime.machines.size} machine(s) on ${server.url}` +
      (token === undefined ? "" : " (mutating routes need the bearer token)"),
  );
  const { promise: stop, resolve } = Promise.withResolvers<string>();
  const onInt = () => resolve("SIGINT"), onTerm = () => resolve("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  const signal = await stop;
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  console.error(`statecraft: ${signal}: closing`);
  await server.close();
  await runtime.close();
  return 0;
}
