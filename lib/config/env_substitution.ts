/**
 * `${VAR}` substitution in the string values (not keys) of a YAML document: `${NAME}`,
 * `${NAME:-default}` (the default when unset or empty), `$${` for a literal `${`. A plain
 * (unquoted) value that becomes a number or a boolean after substitution is read as one.
 *
 * @module
 */
import {
  isScalar,
  type Node as YamlNode,
  parse as parseYaml,
  type parseDocument,
  Scalar,
} from "yaml";
import { withoutYamlDebugEnv } from "./yaml_quiet.ts";
import { walkYaml } from "./yaml_walk.ts";

/** Looks up an environment variable: its value, or `undefined` when it is not set. */
export type EnvLookup = (name: string) => string | undefined;

/** The process environment (`Deno.env.get`), read only when a value refers to a variable. */
export function denoEnv(name: string): string | undefined {
  return Deno.env.get(name);
}

const VAR_PATTERN = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Replaces `${VAR}` in every string value of `doc`, in place. A value that cannot be
 * substituted (unset variable without default, bad reference) is reported and left as written.
 */
export function substituteEnv(
  doc: ReturnType<typeof parseDocument>,
  env: EnvLookup,
  report: (node: YamlNode, path: string[], message: string) => void,
): void {
  walkYaml(doc, {
    enter(node, where, _depth, at) {
      if (at === "key" || !isScalar(node)) return;
      if (typeof node.value !== "string" || !node.value.includes("${")) return;
      const source = node.value;
      const path = where.map(String);
      const fail = (message: string) => report(node, path, message);
      let out = "";
      let i = 0;
      let substituted = false;
      while (i < source.length) {
        if (source.startsWith("$${", i)) {
          out += "${";
          i += 3;
          continue;
        }
        if (!source.startsWith("${", i)) {
          out += source[i++];
          continue;
        }
        const close = source.indexOf("}", i + 2);
        if (close < 0) {
          fail(`unterminated "\${" (write "$\${" for a literal "\${")`);
          return;
        }
        const inner = source.slice(i + 2, close);
        const m = VAR_PATTERN.exec(inner);
        if (m === null) {
          fail(`"\${${inner}}" is not a variable reference (\${NAME} or \${NAME:-default})`);
          return;
        }
        let value: string | undefined;
        try {
          value = env(m[1]);
        } catch (error) {
          fail(`cannot read environment variable ${m[1]}: ${(error as Error).message}`);
          return;
        }
        if (value === undefined || value === "" && m[2] !== undefined) {
          if (m[2] === undefined) {
            fail(`environment variable ${m[1]} is not set (and \${${m[1]}} has no default)`);
            return;
          }
          value = m[2];
        }
        out += value;
        substituted = true;
        i = close + 1;
      }
      node.value = substituted && node.type === Scalar.PLAIN ? retype(out) : out;
    },
  });
}

/** A plain scalar that became `42` or `true` after substitution is read as YAML would. */
function retype(value: string): unknown {
  if (value.trim() === "") return value;
  try {
    const v: unknown = withoutYamlDebugEnv(() => parseYaml(value));
    return typeof v === "number" || typeof v === "boolean" ? v : value;
  } catch {
    return value;
  }
}
