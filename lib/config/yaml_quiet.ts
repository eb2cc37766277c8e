/**
 * Parsing YAML without `--allow-env`: the `yaml` package's Node build reads
 * `process.env.LOG_TOKENS` and `LOG_STREAM` (debug switches) while parsing, which throws
 * `NotCapable` when environment access is not granted.
 *
 * @module
 */
import process from "node:process";

/**
 * Runs `parse` (synchronous) with an empty `process.env` in place when the `yaml` package's
 * debug variables cannot be read, and puts the real one back at once.
 */
export function withoutYamlDebugEnv<T>(parse: () => T): T {
  let granted = false;
  try {
    granted = Deno.permissions.querySync({ name: "env", variable: "LOG_TOKENS" }).state ===
        "granted" &&
      Deno.permissions.querySync({ name: "env", variable: "LOG_STREAM" }).state === "granted";
  } catch {
    granted = false;
  }
  const saved = Object.getOwnPropertyDescriptor(process, "env");
  if (granted || saved === undefined || saved.configurable !== true) return parse();
  Object.defineProperty(process, "env", {
    value: {},
    writable: true,
    enumerable: saved.enumerable,
    configurable: true,
  });
  try {
    return parse();
  } finally {
    Object.defineProperty(process, "env", saved);
  }
}
