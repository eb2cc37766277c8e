// The inspector's Schedules view in a real Chromium: a schedule added through the form is
// listed with its next tick; pause and resume; a bad cron expression is refused with the
// API's message at the cron field; a tick fired on the server's (virtual) clock and a schedule
// added elsewhere show up live; remove asks first, and only an accepted confirm removes.
import assert from "node:assert/strict";
import type { Dialog } from "npm:playwright-core@^1.65.1";
import { runtimeSchedules } from "../../lib/runtime/schedules.ts";
import { inspectorBrowserTest } from "./_inspector_browser.ts";

const row = (name: string) => `#schedules tr[data-schedule="${name}"]`;

inspectorBrowserTest(
  "inspector in Chromium: the Schedules view adds, lists, pauses, resumes and removes",
  async (s, page) => {
    await s.runtime.spawn("door", "door-1");
    const answers: boolean[] = [];
    const asked: string[] = [];
    page.on("dialog", (d: Dialog) => {
      asked.push(d.message());
      const answer = answers.shift();
      if (answer === undefined) throw new Error(`an unexpected dialog: ${d.message()}`);
      return answer ? d.accept() : d.dismiss();
    });
    await page.goto(s.url);
    await page.click("#view-schedules");
    await page.waitForSelector("#schedules-empty:not([hidden])");
    assert.equal(await page.isHidden("#layout"), true);

    // Add one that sends OPEN to door-1 every hour, in Berlin time.
    await page.selectOption("#schedule-form select[name=kind]", "send");
    await page.fill("#schedule-form input[name=name]", "opener");
    await page.fill("#schedule-form input[name=cron]", "0 * * * *");
    await page.fill("#schedule-form input[name=timezone]", "Europe/Berlin");
    await page.fill("#schedule-form input[name=instance]", "door-1");
    await page.fill("#schedule-form input[name=event]", "OPEN");
    await page.selectOption("#schedule-form select[name=overlap]", "queue");
    await page.click("#schedule-add");
    await page.waitForSelector(row("opener"));
    // The virtual clock starts at 2025-01-01 00:00 UTC: the next tick is 01:00 UTC.
    const cells = async (name: string) =>
      await page.$$eval(`${row(name)} td`, (tds) => tds.map((td) => td.textContent ?? ""));
    let c = await cells("opener");
    assert.match(c[0], /opener\s+api/);
    assert.equal(c[1], "0 * * * *");
    assert.equal(c[2], "Europe/Berlin");
    assert.equal(c[3], "send OPEN → door-1");
    assert.equal(c[4], "2025-01-01 01:00:00 UTC");
    assert.match(c[5], /none yet/);
    assert.equal(c[6], "active");
    assert.equal(c[7], "overlap queue · catch-up last");
    assert.match((await page.textContent("#schedules-message"))!, /added opener: next tick/);
    const stored = await runtimeSchedules(s.runtime).get("opener");
    assert.deepEqual(stored?.spec.send, { instance: "door-1", event: { type: "OPEN" } });

    // A tick on the server's clock: the last tick and its outcome arrive live.
    await s.time.advance("1h");
    await page.waitForSelector(`${row("opener")} td.last .outcome.fired`);
    c = await cells("opener");
    assert.match(c[5], /fired 2025-01-01 01:00:00 UTC\s*door-1/);
    assert.equal(c[4], "2025-01-01 02:00:00 UTC");
    assert.equal(c[8], "1 / 0 / 0");
    assert.deepEqual((await s.runtime.get("door-1"))?.configuration, ["secure", "secure.opened"]);

    // Pause, then resume.
    await page.click(`${row("opener")} button[data-action=pause]`);
    await page.waitForSelector(`${row("opener")}.paused`);
    assert.equal((await cells("opener"))[6], "paused");
    assert.equal((await runtimeSchedules(s.runtime).get("opener"))?.paused, true);
    await page.click(`${row("opener")} button[data-action=resume]`);
    await page.waitForSelector(`${row("opener")}:not(.paused) button[data-action=pause]`);
    assert.equal((await cells("opener"))[4], "2025-01-01 02:00:00 UTC");
    assert.equal((await runtimeSchedules(s.runtime).get("opener"))?.paused, false);

    // A bad cron expression: refused, the API's message in the page and at the cron field.
    await page.selectOption("#schedule-form select[name=kind]", "create");
    await page.fill("#schedule-form input[name=name]", "broken");
    await page.fill("#schedule-form input[name=cron]", "0 25 * * *");
    await page.fill("#schedule-form input[name=timezone]", "");
    await page.click("#schedule-add");
    await page.waitForSelector("#schedules-message.error");
    const message = (await page.textContent("#schedules-message"))!;
    assert.match(message, /400 cron: invalid cron expression "0 25 \* \* \*".*hour/i);
    assert.match(
      (await page.textContent('#schedule-form .field[data-field="cron"] .field-error'))!,
      /invalid cron expression/,
    );
    assert.equal(await page.$(row("broken")), null);
    assert.equal(await runtimeSchedules(s.runtime).get("broken"), null);

    // Fixed, it goes in (creating doors, paused); the field's error goes away.
    await page.selectOption("#schedule-form select[name=machine]", "door");
    await page.fill("#schedule-form input[name=cron]", "0 2 * * *");
    await page.check("#schedule-form input[name=paused]");
    await page.click("#schedule-add");
    await page.waitForSelector(`${row("broken")}.paused`);
    assert.equal(await page.$('#schedule-form .field[data-field="cron"] .field-error'), null);
    assert.equal((await cells("broken"))[3], "create door");

    // Added elsewhere (the REPL, the CLI, another node): it appears live.
    await runtimeSchedules(s.runtime, "repl").add({
      name: "elsewhere",
      cron: "*/5 * * * *",
      create: { machine: "door" },
    });
    await page.waitForSelector(row("elsewhere"));
    assert.match((await cells("elsewhere"))[0], /elsewhere\s+repl/);

    // Remove asks first: dismissed, it stays; accepted, it goes.
    answers.push(false);
    await page.click(`${row("opener")} button[data-action=remove]`);
    assert.notEqual(await runtimeSchedules(s.runtime).get("opener"), null);
    assert.notEqual(await page.$(row("opener")), null);
    answers.push(true);
    await page.click(`${row("opener")} button[data-action=remove]`);
    await page.waitForSelector(row("opener"), { state: "detached" });
    assert.equal(await runtimeSchedules(s.runtime).get("opener"), null);
    assert.match(asked[0], /Remove schedule opener\?/);
    assert.deepEqual(answers, []);
    assert.equal(asked.length, 2);
    assert.match((await page.textContent("#schedules-count"))!, /2 schedules, 1 paused/);

    // Back to the instances.
    await page.click("#view-instances");
    assert.equal(await page.isHidden("#schedules-view"), true);
    await page.waitForSelector('#instances button[data-instance="door-1"]');
  },
  { expectedStatus: [400] },
);
