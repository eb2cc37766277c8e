/**
 * Plugin signing from the command line:
 *
 * - `plugin keygen [--out <prefix>]`: a new Ed25519 key pair in `<prefix>.key` (private,
 *   mode 0600) and `<prefix>.pub` (public), each one line of base64; prints the fingerprint.
 *   The default prefix is `.statecraft/keys/statecraft-plugin` (a git-ignored folder); a
 *   private key that a git work tree would not ignore is refused.
 * - `plugin sign <dir> --key <file>`: writes `<dir>/plugin.sig`; prints the file count and the
 *   key's fingerprint.
 * - `plugin verify <dir> [--trusted-key <file>...]`: `ok (signed by <fingerprint>)`, or why not
 *   (`mod.ts changed`, `unsigned`, `signed by an untrusted key ...`) with exit code 1.
 *
 * `<dir>` is a plugin folder, or the name of a plugin in the `--plugins` directories.
 *
 * @module
 */
import { dirname } from "node:path";
import { loadManifest, ManifestError } from "../plugins/manifest.ts";
import {
  generateKeyPair,
  keyFingerprint,
  SigningError,
  signPlugin,
  verifyPlugin,
} from "../plugins/signing.ts";
import { CliError } from "./cli_error.ts";
import { pathExists } from "./path_exists.ts";
import { committablePrivateKey, KEYS_DIR, prepareKeysDir } from "./plugin_key_location.ts";
import {
  CONSOLE,
  decodedLength,
  displayPath,
  type PluginDirsOptions,
  type PluginOutput,
  plural,
  readKeyFile,
  readPublicKeys,
  relativeMessage,
  resolvePluginDir,
} from "./plugin_common.ts";

/** The key file prefix when `--out` is not given: in a folder git never sees. */
export const DEFAULT_KEY_PREFIX = `${KEYS_DIR}/statecraft-plugin`;

/**
 * `plugin keygen`: writes `<prefix>.key` (the base64 PKCS#8 private key, mode 0600) and
 * `<prefix>.pub` (the base64 raw public key), refusing to replace either; prints both paths
 * and the fingerprint. Returns the exit code.
 *
 * The private key must not be committable: inside a git work tree, a `.gitignore` must cover
 * it. The default prefix, {@linkcode DEFAULT_KEY_PREFIX}, is in `.statecraft/keys/`, created
 * with a `.gitignore` of its own.
 *
 * @throws {CliError} when either file exists, or the private key could be committed
 *
 * @example
 * ```ts ignore
 * import { pluginKeygenCommand } from "./plugin_keys.ts";
 * await pluginKeygenCommand({ out: "keys/release" });
 * ```
 */
export async function pluginKeygenCommand(
  options: { out?: string },
  out: PluginOutput = CONSOLE,
): Promise<number> {
  const prefix = options.out ?? DEFAULT_KEY_PREFIX;
  const keyFile = `${prefix}.key`;
  const pubFile = `${prefix}.pub`;
  await prepareKeysDir(dirname(keyFile));
  const committable = await committablePrivateKey(keyFile);
  if (committable !== undefined) throw new CliError(committable);
  for (const file of [keyFile, pubFile]) {
    if (await pathExists(file)) {
      throw new CliError(
        `${file} exists: keygen does not replace keys (choose another --out prefix)`,
      );
    }
  }
  const { publicKey, privateKey } = await generateKeyPair();
  await writeNew(keyFile, privateKey, 0o600);
  try {
    await writeNew(pubFile, publicKey, 0o644);
  } catch (e) {
    await Deno.remove(keyFile).catch(() => {});
    throw e;
  }
  out.line(`private key: ${keyFile} (keep it secret; sign with --key ${keyFile})`);
  out.line(`public key: ${pubFile} (trust it with --trusted-key ${pubFile})`);
  out.line(`fingerprint: ${await keyFingerprint(publicKey)}`);
  return 0;
}

/**
 * `plugin sign <dir> --key <file>`: checks the manifest, then signs every file of the folder
 * into `plugin.sig`; prints `signed <dir> (<n> files) with key <fingerprint>`. Returns the
 * exit code.
 *
 * @throws {CliError} for a folder that is not a valid plugin, a bad key file, a symbolic link
 *
 * @example
 * ```ts ignore
 * import { pluginSignCommand } from "./plugin_keys.ts";
 * await pluginSignCommand("plugins/audit-log", { key: ".statecraft/keys/statecraft-plugin.key" });
 * ```
 */
export async function pluginSignCommand(
  target: string,
  options: PluginDirsOptions & { key: string },
  out: PluginOutput = CONSOLE,
): Promise<number> {
  const dir = await resolvePluginDir(target, options);
  try {
    await loadManifest(dir);
  } catch (e) {
    if (e instanceof ManifestError) {
      throw new CliError(`cannot sign ${displayPath(dir)}: ${relativeMessage(e.message)}`);
    }
    throw e;
  }
  const privateKey = await readKeyFile(options.key, "private key");
  const size = decodedLength(privateKey);
  if (size !== 48) {
    throw new CliError(
      size === 32
        ? `${options.key} is a public key: sign with the private key (.key) file`
        : `${options.key} is not a plugin private key (the base64 PKCS#8 Ed25519 key that ` +
          "plugin keygen writes to <prefix>.key)",
    );
  }
  let signature;
  try {
    signature = await signPlugin(dir, privateKey);
  } catch (e) {
    if (e instanceof SigningError) {
      throw new CliError(`cannot sign ${displayPath(dir)}: ${e.message}`);
    }
    throw e;
  }
  const count = Object.keys(signature.files).length;
  out.line(
    `signed ${displayPath(dir)} (${plural(count, "file")}) with key ` +
      await keyFingerprint(signature.publicKey),
  );
  return 0;
}

/**
 * `plugin verify <dir>`: checks `plugin.sig` against the folder (and, with `--trusted-key`,
 * the signer against those keys). Prints `ok (signed by <fingerprint>)` and returns 0, or
 * prints the reason and returns 1.
 *
 * @example
 * ```ts ignore
 * import { pluginVerifyCommand } from "./plugin_keys.ts";
 * const code = await pluginVerifyCommand("audit-log", { trustedKey: ["release.pub"] });
 * ```
 */
export async function pluginVerifyCommand(
  target: string,
  options: PluginDirsOptions & { trustedKey?: string[] },
  out: PluginOutput = CONSOLE,
): Promise<number> {
  const dir = await resolvePluginDir(target, options);
  const files = options.trustedKey ?? [];
  const trusted = files.length === 0 ? undefined : await readPublicKeys(files);
  const result = await verifyPlugin(dir, trusted);
  if (result.ok) {
    out.line(`ok (signed by ${await keyFingerprint(result.publicKey)})`);
    return 0;
  }
  out.line(result.reason);
  return 1;
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  try {
    await Deno.writeTextFile(path, `${text}\n`, { createNew: true, mode });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new CliError(`${path} exists: keygen does not replace keys`);
    }
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`cannot write ${path}: its directory does not exist`);
    }
    throw e;
  }
  if (Deno.build.os !== "windows") await Deno.chmod(path, mode);
}
