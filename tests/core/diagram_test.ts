import assert from "node:assert/strict";
import { defineMachine } from "../../mod.ts";
import { toDot, toMermaid } from "../../lib/core/diagram.ts";

const door = defineMachine({
  id: "door",
  initial: "closed",
  states: {
    closed: { on: { OPEN: "open" } },
    open: {
      initial: "ajar",
      states: { ajar: { on: { PUSH: "wide" } }, wide: {} },
      on: { CLOSE: "closed" },
      after: { 1500: "closed" },
    },
    gone: { type: "final" },
  },
  on: { BREAK: ".gone" },
});

Deno.test("toMermaid: the whole door, line by line", () => {
  assert.equal(
    toMermaid(door),
    [
      "---",
      "title: door",
      "---",
      "stateDiagram-v2",
      // The root has a transition of its own (BREAK): it is drawn as the outer block.
      "  state door {",
      "    closed",
      "    state open {",
      '      state "ajar" as open_ajar',
      '      state "wide" as open_wide',
      "      [*] --> open_ajar",
      "      open_ajar --> open_wide : PUSH",
      "    }",
      "    gone",
      "    [*] --> closed",
      "    gone --> [*]",
      "    closed --> open : OPEN",
      "    open --> closed : CLOSE",
      "    open --> closed : after 1.5s",
      "  }",
      "  [*] --> door",
      "  door --> gone : BREAK",
      "",
    ].join("\n"),
  );
});

Deno.test("toDot: the whole door, line by line", () => {
  assert.equal(
    toDot(door),
    [
      `digraph "door" {`,
      "  compound=true;",
      "  rankdir=LR;",
      `  graph [fontname="Helvetica"];`,
      `  node [shape=box, style=rounded, fontname="Helvetica"];`,
      `  edge [fontname="Helvetica", fontsize=10];`,
      "  subgraph cluster_door {",
      `    label="door";`,
      "    style=rounded;",
      `    door__start [shape=point, width=0.12, label=""];`,
      `    closed [label="closed"];`,
      "    subgraph cluster_open {",
      `      label="open";`,
      "      style=rounded;",
      `      open__start [shape=point, width=0.12, label=""];`,
      `      open_ajar [label="ajar"];`,
      `      open_wide [label="wide"];`,
      "    }",
      `    gone [label="gone", peripheries=2];`,
      "  }",
      `  __start [shape=point, width=0.12, label=""];`,
      "  __start -> door__start [lhead=cluster_door];",
      "  door__start -> closed;",
      "  open__start -> open_ajar;",
      `  closed -> open__start [label="OPEN", lhead=cluster_open];`,
      `  open_ajar -> open_wide [label="PUSH"];`,
      `  open__start -> closed [label="CLOSE", ltail=cluster_open];`,
      `  open__start -> closed [label="after 1.5s", ltail=cluster_open];`,
      // From the root to its own descendant: no ltail (the target is inside the cluster).
      `  door__start -> gone [label="BREAK"];`,
      "}",
      "",
    ].join("\n"),
  );
});

const media = defineMachine({
  id: "media",
  type: "parallel",
  states: {
    "play-back": {
      initial: "paused",
      states: {
        paused: { on: { PLAY: { target: "playing", guard: ({ context }) => context !== null } } },
        playing: { on: { PAUSE: "paused" }, always: { target: "paused", guard: "ended" } },
        h: { type: "history" },
        deepH: { type: "history", history: "deep" },
      },
    },
    volume: {
      initial: "on",
      states: {
        on: { on: { "MUTE SILENCE": "off" } },
        off: { on: { "*": "on" }, when: { condition: "loud", target: "on" } },
      },
    },
  },
  guards: { ended: () => false, loud: () => false },
});

Deno.test("toMermaid: a parallel root, regions separated by --, history and labels", () => {
  const text = toMermaid(media);
  const lines = text.split("\n");
  const open = lines.indexOf("  state media {");
  const divider = lines.indexOf("    --");
  const close = lines.indexOf("  }");
  assert.ok(open > 0 && divider > open && close > divider, text);
  assert.ok(lines.indexOf(`    state "play-back" as play_back {`) > open, text);
  assert.ok(lines.indexOf(`    state volume {`) > divider, text);
  assert.ok(lines.includes(`      state "H" as play_back_h`), text);
  assert.ok(lines.includes(`      state "H*" as play_back_deepH`), text);
  // History defaults point at the region's initial state.
  assert.ok(lines.includes("      play_back_h --> play_back_paused"), text);
  // Anonymous guards, named guards, eventless, change events, several descriptors, "*".
  assert.ok(lines.includes("      play_back_paused --> play_back_playing : PLAY [guarded]"), text);
  assert.ok(lines.includes("      play_back_playing --> play_back_paused : always [ended]"), text);
  assert.ok(lines.includes("      volume_off --> volume_on : when [loud]"), text);
  assert.ok(lines.includes("      volume_on --> volume_off : MUTE SILENCE"), text);
  assert.ok(lines.includes("      volume_off --> volume_on : *"), text);
  assert.ok(lines.includes("  [*] --> media"), text);
});

Deno.test("toDot: parallel regions are dashed clusters; the parallel anchor is invisible", () => {
  const text = toDot(media);
  assert.match(text, /subgraph cluster_media \{\n\s+label="media";\n\s+style=rounded;/);
  assert.match(text, /media__start \[shape=point, style=invis, width=0, label=""\];/);
  assert.match(
    text,
    /subgraph cluster_play_back \{\n\s+label="play-back";\n\s+style="rounded,dashed";/,
  );
  assert.match(text, /subgraph cluster_volume \{\n\s+label="volume";\n\s+style="rounded,dashed";/);
  assert.match(text, /play_back_h -> play_back_paused \[style=dashed\];/);
  assert.match(text, /volume_on -> volume_off \[label="MUTE SILENCE"\];/);
});

Deno.test("identifiers: dots and dashes become _, clashes and keywords get suffixes", () => {
  const m = defineMachine({
    id: "ids",
    initial: "a",
    states: {
      a: { initial: "b", states: { b: { on: { GO: "#a_b" } } } },
      a_b: { on: { GO: "state" } },
      state: { on: { GO: "node", QUOTE: { target: "a", guard: 'say "hi"; bye' } } },
      node: { type: "final" },
    },
    guards: { ['say "hi"; bye']: () => true },
  });
  const mermaid = toMermaid(m);
  // "a.b" and "a_b" both sanitize to a_b: the second gets a suffix; "state" is reserved.
  assert.match(mermaid, /^ {4}state "b" as a_b$/m);
  // Endpoints in different blocks: the edge is written at the top level.
  assert.match(mermaid, /^ {2}a_b --> a_b_2 : GO$/m);
  assert.match(mermaid, /^ {2}state "a_b" as a_b_2$/m);
  assert.match(mermaid, /^ {2}state "state" as state_$/m);
  assert.match(mermaid, /^ {2}state_ --> a : QUOTE \[say #quot;hi#quot;#59; bye\]$/m);
  const dot = toDot(m);
  assert.match(dot, /^ {2}node_ \[label="node", peripheries=2\];$/m);
  assert.match(
    dot,
    /^ {2}state -> a__start \[label="QUOTE \[say \\"hi\\"; bye\]", lhead=cluster_a\];$/m,
  );
});

Deno.test("choice states and targetless transitions", () => {
  const m = defineMachine({
    id: "pick",
    initial: "idle",
    context: { n: 1 },
    states: {
      idle: { on: { PICK: "decide", PING: { actions: () => {} } } },
      decide: {
        type: "choice",
        always: [{ target: "small", guard: ({ context }) => context.n < 10 }, { target: "big" }],
      },
      small: {},
      big: {},
    },
  });
  const mermaid = toMermaid(m);
  assert.match(mermaid, /^ {2}state decide <<choice>>$/m);
  assert.match(mermaid, /^ {2}decide --> small : always \[guarded\]$/m);
  assert.match(mermaid, /^ {2}decide --> big : always$/m);
  // A targetless transition stays in its state: a self-loop.
  assert.match(mermaid, /^ {2}idle --> idle : PING$/m);
  assert.match(toDot(m), /^ {2}decide \[label="decide", shape=diamond, style=solid\];$/m);
});
