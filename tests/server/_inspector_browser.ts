/**
 * One browser test of the inspector: the inspector served (`serveInspector`), a page in a
 * fresh headless Chromium, and at the end no page error. Skipped, with the reason printed,
 * where Chromium cannot run.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "npm:playwright-core@^1.65.1";
import type { Machine } from "../../core.ts";
import { chromiumUnavailable, launchChromium, pageErrors } from "./_browser.ts";
import { type Served, serveInspector } from "./_inspector_server.ts";

/** Options of {@linkcode inspectorBrowserTest}. */
export interface InspectorBrowserTestOptions {
  /** Machines served beside the examples. */
  // deno-lint-ignore no-explicit-any
  machines?: Machine<any, any>[];
  /** HTTP statuses the test provokes on purpose (Chromium logs them as console errors). */
  expectedStatus?: number[];
}

/** Registers a Deno test that drives the inspector in Chromium. */
export function inspectorBrowserTest(
  name: string,
  fn: (served: Served, page: Page) => Promise<void>,
  options: InspectorBrowserTestOptions = {},
): void {
  const unavailable = chromiumUnavailable();
  if (unavailable !== null) console.warn(`SKIPPED "${name}": ${unavailable}`);
  Deno.test({
    name,
    ignore: unavailable !== null,
    // playwright keeps pipes and timers of its own between calls.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const served = await serveInspector(options.machines);
      const browser = await launchChromium();
      try {
        const page = await browser.context.newPage();
        const errors = pageErrors(page, options.expectedStatus);
        await fn(served, page);
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
        await served.close();
      }
    },
  });
}
