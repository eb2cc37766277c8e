/**
 * Headless Chromium for the browser tests, driven by playwright-core. Chromium comes from
 * Debian (`apt-get install -y chromium`), never from a download by playwright: the tests run
 * on a closed network.
 *
 * `chromiumUnavailable()` says why the browser tests cannot run here (no Chromium, or a
 * permission the test run lacks); the tests skip with that message, printed, instead of
 * passing silently.
 *
 * @module
 */
import type { BrowserContext, Page } from "npm:playwright-core@^1.65.1";

/** Where Debian (and most distributions) put Chromium. */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/**
 * Flags Chromium needs on a closed network in a container: without the networking ones it
 * waits for services it cannot reach.
 */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where the browser tests leave their screenshots (printed by the tests). */
export const ARTIFACT_DIR = "/tmp/statecraft-inspector";

/** The Chromium executable, or null. */
export function chromiumPath(): string | null {
  for (const path of CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  return null;
}

/** Why the browser tests cannot run here, or null when they can. */
export function chromiumUnavailable(): string | null {
  const path = chromiumPath();
  if (path === null) {
    return `Chromium is not installed (looked for ${CANDIDATES.join(", ")}); ` +
      "install it with `apt-get install -y chromium`";
  }
  const missing: string[] = [];
  if (Deno.permissions.querySync({ name: "run", command: path }).state !== "granted") {
    missing.push(`--allow-run=${path}`);
  }
  // playwright-core computes browser profile folders from the home folder when it loads.
  if (Deno.permissions.querySync({ name: "sys", kind: "homedir" }).state !== "granted") {
    missing.push("--allow-sys=homedir");
  }
  if (Deno.permissions.querySync({ name: "write", path: "/tmp" }).state !== "granted") {
    missing.push("--allow-write=/tmp");
  }
  if (missing.length > 0) return `the test run lacks ${missing.join(" ")}`;
  return null;
}

/** A running browser (one persistent context in a fresh, empty profile folder). */
export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches headless Chromium in a new empty profile folder under /tmp. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (executablePath === null) throw new Error("Chromium is not installed");
  // is-wsl (inside playwright-core) probes /proc/sys/fs/binfmt_misc when the module loads,
  // which Deno allows only with --allow-all; with this variable set it probes only when asked
  // (never, on Linux with a given executable).
  Deno.env.set("__IS_WSL_TEST__", "1");
  const { chromium } = await import("npm:playwright-core@^1.65.1");
  const profile = await Deno.makeTempDir({ dir: "/tmp", prefix: "statecraft_chromium_" });
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath,
      args: [...CHROMIUM_FLAGS],
      headless: true,
      viewport: { width: 1400, height: 860 },
    });
    return {
      context,
      close: async () => {
        await context.close();
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      },
    };
  } catch (e) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * Collects the page's uncaught errors and console errors, but Chromium's own line for an
 * answer the page expected to be an error (`status of 400`, when a test sends bad input).
 */
export function pageErrors(page: Page, expectedStatus: number[] = []): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (expectedStatus.some((s) => m.text().includes(`status of ${s}`))) return;
    errors.push(m.text());
  });
  return errors;
}
