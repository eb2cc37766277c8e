// The inspector's operator buttons in a real Chromium: cancel asks for a reason and the
// instance shows `cancelled` with the journal's entry; fork asks for an id and a seq and
// selects the fork; redrive is enabled only with a failed invocation to retry; the API's
// refusals go to the message line.
import assert from "node:assert/strict";
import type { Dialog } from "npm:playwright-core@^1.65.1";
import { flakyJob } from "../persist/_flaky_job.ts";
import { waitFor } from "../_wait.ts";
import { inspectorBrowserTest } from "./_inspector_browser.ts";

inspectorBrowserTest(
  "inspector in Chromium: cancel with a reason, fork at a seq, redrive only when it can",
  async (s, page) => {
    await s.runtime.spawn("door", "door-1");
    await s.runtime.send("door-1", { type: "OPEN" });
    // The answers the page's prompts get, in order (a dialog not expected fails the test).
    const answers: (string | null)[] = [];
    const asked: string[] = [];
    page.on("dialog", (d: Dialog) => {
      asked.push(d.message());
      const answer = answers.shift();
      if (answer === undefined) throw new Error(`an unexpected dialog: ${d.message()}`);
      return answer === null ? d.dismiss() : d.accept(answer);
    });
    await page.goto(`${s.url}#door-1`);
    await page.waitForSelector('#journal tr.entry[data-seq="1"]');
    // The door invokes nothing: nothing to redrive.
    assert.equal(await page.isDisabled("#op-redrive"), true);
    assert.match((await page.getAttribute("#op-redrive", "title"))!, /no failed invocation/);

    // Fork at seq 0 as door-2: the page selects the fork.
    answers.push("door-2", "0");
    await page.click("#op-fork");
    await page.waitForSelector('#instance-title:text-is("door-2")');
    await page.waitForSelector('#journal tr.entry[data-seq="0"]');
    assert.match((await page.textContent("#message"))!, /forked door-1 as door-2/);
    const forked = await s.runtime.get("door-2");
    assert.deepEqual(forked?.configuration, ["secure", "secure.closed"]);
    const first = await page.$$eval(
      '#journal tr.entry[data-seq="0"] td',
      (tds) => tds.map((td) => td.textContent),
    );
    assert.deepEqual([first[2], first[4]], ["fork", "http"]);

    // Forking door-2 to an id that exists: the API's 409 on the message line.
    answers.push("door-1", "");
    await page.click("#op-fork");
    await page.waitForSelector("#message.error");
    assert.match((await page.textContent("#message"))!, /409 .*door-1/);

    // Cancel door-2, with a reason; dismissing the prompt first sends nothing.
    answers.push(null);
    await page.click("#op-cancel");
    assert.equal((await s.runtime.get("door-2"))?.status, "active");
    answers.push("customer asked");
    await page.click("#op-cancel");
    await page.waitForSelector('#instance-meta:has-text("· cancelled ·")');
    await page.waitForSelector('#journal tr.entry[data-seq="1"]');
    const row = await page.$$eval(
      '#journal tr.entry[data-seq="1"] td',
      (tds) => tds.map((td) => td.textContent),
    );
    assert.deepEqual([row[2], row[4]], ["cancel", "http"]);
    assert.equal((await s.runtime.get("door-2"))?.status, "cancelled");
    assert.equal(await page.isDisabled("#op-cancel"), true);
    assert.equal(await page.isDisabled("#op-redrive"), true);
    assert.match((await page.getAttribute("#op-cancel", "title"))!, /customer asked/);
    assert.deepEqual(answers, [], "every prompt was answered");
    assert.equal(asked.length, 6);
  },
  { expectedStatus: [409] },
);

const job = { ok: false, calls: 0 };
const flaky = flakyJob(job);

inspectorBrowserTest(
  "inspector in Chromium: redrive retries a failed invocation",
  async (s, page) => {
    await s.runtime.spawn("job", "j1");
    await waitFor(
      "the failure",
      async () => (await s.runtime.get("j1"))?.configuration[0] === "failed",
    );
    await page.goto(`${s.url}#j1`);
    await page.waitForSelector("#op-redrive:not([disabled])");
    assert.match((await page.getAttribute("#op-redrive", "title"))!, /failed at entry 1 \(error\./);
    job.ok = true;
    await page.click("#op-redrive");
    await page.waitForSelector('#instance-meta:has-text("· done ·")');
    await page.waitForSelector('#journal tr.entry[data-seq="2"]');
    const row = await page.$$eval(
      '#journal tr.entry[data-seq="2"] td',
      (tds) => tds.map((td) => td.textContent),
    );
    assert.deepEqual([row[2], row[4]], ["redrive", "http"]);
    assert.equal(job.calls, 2);
    // The redrive replaced the state: the failure before it is not retried again.
    assert.equal(await page.isDisabled("#op-redrive"), true);
  },
  { machines: [flaky] },
);
