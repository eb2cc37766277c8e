// The inspector's way in for every event the machine knows, in a real Chromium: events a guard
// refuses without a payload, forms built from payload schemas, JSON otherwise, and the API's
// 400 shown beside the field it names.
import assert from "node:assert/strict";
import { inspectorBrowserTest } from "./_inspector_browser.ts";
import { DOOR_EVENTS } from "./_inspector_server.ts";

inspectorBrowserTest(
  "inspector in Chromium: LOCK {code} from the schema's form; a bad code's 400 on its field",
  async (s, page) => {
    await s.runtime.spawn("door", "door-1");
    await page.goto(`${s.url}#door-1`);
    await page.waitForSelector('#chart g.state.active[data-state="secure.closed"]');

    // The closed door accepts OPEN alone without a payload; LOCK is listed all the same.
    const buttons = new Map(
      await page.$$eval(
        "#events button",
        (bs) => bs.map((b) => [b.getAttribute("data-event")!, b.className] as [string, string]),
      ),
    );
    assert.deepEqual([...buttons.keys()].sort(), DOOR_EVENTS);
    assert.match(buttons.get("OPEN")!, /\baccepted\b/);
    assert.doesNotMatch(buttons.get("LOCK")!, /\baccepted\b/);
    assert.match(buttons.get("LOCK")!, /\bpayload\b/);

    // LOCK opens a form with the schema's field; a bad code comes back as a 400 on it.
    await page.click('#events button[data-event="LOCK"]');
    const code = '.field[data-field="code"] input';
    await page.waitForSelector(`#compose:not([hidden]) ${code}`);
    await page.fill(code, "12");
    await page.click("#compose-send");
    await page.waitForSelector('#compose .field.invalid[data-field="code"]');
    assert.match(
      (await page.textContent('#compose .field[data-field="code"] .field-error'))!,
      /four digits/,
    );
    assert.match((await page.textContent("#message.error"))!, /400 .*code: .*four digits/);
    assert.deepEqual((await s.runtime.get("door-1"))?.configuration, [
      "secure",
      "secure.closed",
    ]);

    // The right code locks the door; the form closes; the journal says who sent it.
    await page.fill(code, "0000");
    await page.click("#compose-send");
    await page.waitForSelector('#chart g.state.active[data-state="secure.locked.latched"]');
    await page.waitForSelector("#compose", { state: "hidden" });
    await page.waitForSelector('#journal tr.entry[data-seq="1"]');
    const row = await page.$$eval(
      '#journal tr.entry[data-seq="1"] td',
      (tds) => tds.map((td) => td.textContent),
    );
    assert.equal(row[3], "LOCK");
    assert.equal(row[4], "http");

    // OPEN on a locked door: not accepted now, and it has no schema: its form takes JSON,
    // checked in the page before anything is sent.
    await page.click('#events button[data-event="OPEN"]');
    await page.waitForSelector("#compose:not([hidden]) #payload");
    await page.fill("#payload", "[1]");
    await page.click("#compose-send");
    await page.waitForSelector('#compose .field.invalid[data-field="(body)"]');
    assert.match((await page.textContent("#message.error"))!, /a JSON object/);
    await page.click("#compose-cancel");
    await page.waitForSelector("#compose", { state: "hidden" });
    assert.equal((await s.runtime.get("door-1"))?.seq, 1, "nothing was sent");
  },
  { expectedStatus: [400] },
);
