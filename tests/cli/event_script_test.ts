import assert from "node:assert/strict";
import { parseEventLines, parseEventList } from "../../lib/cli/event_script.ts";
import { CliError } from "../../lib/cli/cli_error.ts";

Deno.test("parseEventList: names and wait:<duration> tokens", () => {
  assert.deepEqual(parseEventList("OPEN, wait:2s,CLOSE,wait:150"), [
    { kind: "event", event: { type: "OPEN" }, origin: "--events item 1" },
    { kind: "wait", ms: 2000, origin: "--events item 2" },
    { kind: "event", event: { type: "CLOSE" }, origin: "--events item 3" },
    { kind: "wait", ms: 150, origin: "--events item 4" },
  ]);
  assert.deepEqual(parseEventList(""), []);
});

Deno.test("parseEventList: empty items and bad waits are CliErrors naming the item", () => {
  assert.throws(
    () => parseEventList("A,,B"),
    (e) => e instanceof CliError && /item 2/.test(e.message),
  );
  assert.throws(
    () => parseEventList("A,wait:soon"),
    (e) => e instanceof CliError && /item 2: "wait:soon" is not a wait/.test(e.message),
  );
});

Deno.test("parseEventLines: event objects, names and waits; blank lines skipped", () => {
  const text = `{"type":"GO","speed":3}\n\n"STOP"\n{"wait":"1.5s"}\r\n{"wait":20}\n`;
  assert.deepEqual(parseEventLines(text, "e.jsonl"), [
    { kind: "event", event: { type: "GO", speed: 3 }, origin: "e.jsonl:1" },
    { kind: "event", event: { type: "STOP" }, origin: "e.jsonl:3" },
    { kind: "wait", ms: 1500, origin: "e.jsonl:4" },
    { kind: "wait", ms: 20, origin: "e.jsonl:5" },
  ]);
});

Deno.test("parseEventLines: a malformed line names the file and line", () => {
  const cases: [string, RegExp][] = [
    [`"A"\n{"type": B}\n`, /^e\.jsonl:2: not valid JSON/],
    [`"A"\n"B"\n[1]\n`, /^e\.jsonl:3: expected an event object/],
    [`{"name":"A"}\n`, /^e\.jsonl:1: .*no string "type"/],
    [`{"wait":"later"}\n`, /^e\.jsonl:1: a wait is/],
    [`{"wait":10,"type":"A"}\n`, /^e\.jsonl:1: a wait is/],
    [`""\n`, /^e\.jsonl:1: an event name must not be empty/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseEventLines(text, "e.jsonl"),
      (e) => e instanceof CliError && message.test(e.message),
      text,
    );
  }
});
