import assert from "node:assert/strict";
import { locateConfigPath, toPosition } from "../../lib/cli/source_location.ts";

/** The text at a position, to assert what a location points at. */
function at(source: string, pos: { line: number; col: number } | undefined): string {
  if (pos === undefined) return "(not found)";
  return source.split("\n")[pos.line - 1].slice(pos.col - 1);
}

const DOOR = `import { defineMachine } from "statecraft";
// states: { open: { on: { CLOSE: "x" } } } in a comment must not match
export const door = defineMachine({
  id: "door",
  initial: "closed",
  states: {
    closed: { on: { OPEN: "open", "LOCK NOW": "locked" } },
    open: {
      description: "states: { open: { on: { CLOSE } } }",
      on: {
        CLOSE: [
          { target: "closed", guard: "isQuiet" },
          { target: "slammed" },
        ],
      },
      after: { "2s": "closed", 500: "closed" },
    },
  },
});
`;

Deno.test("locateConfigPath: points at the deepest key of the path", () => {
  const pos = locateConfigPath(DOOR, ["states", "open", "on", "CLOSE", "1", "target"], "door");
  assert.deepEqual(pos, { line: 13, col: 13 });
  assert.deepEqual(at(DOOR, pos).startsWith(`target: "slammed"`), true);
});

Deno.test("locateConfigPath: indexes into arrays and stops at keys that are not written", () => {
  const guard = locateConfigPath(DOOR, ["states", "open", "on", "CLOSE", "0", "guard"], "door");
  assert.deepEqual(at(DOOR, guard).startsWith(`guard: "isQuiet"`), true);
  // A shorthand transition has no "target" key: the event key is the answer.
  const target = locateConfigPath(DOOR, ["states", "closed", "on", "OPEN", "target"], "door");
  assert.deepEqual(at(DOOR, target).startsWith(`OPEN: "open"`), true);
});

Deno.test("locateConfigPath: quoted and numeric keys; strings and comments are skipped", () => {
  const quoted = locateConfigPath(DOOR, ["states", "closed", "on", "LOCK NOW"], "door");
  assert.deepEqual(at(DOOR, quoted).startsWith(`"LOCK NOW"`), true);
  const delay = locateConfigPath(DOOR, ["states", "open", "after", "500"], "door");
  assert.deepEqual(at(DOOR, delay).startsWith(`500: "closed"`), true);
  const open = locateConfigPath(DOOR, ["states", "open"], "door");
  assert.deepEqual(open, { line: 8, col: 5 });
});

Deno.test("locateConfigPath: picks the machine by id among several in one file", () => {
  const source = `export const a = defineMachine({
  id: "a",
  states: { idle: { on: { GO: "nowhere" } } },
});
export const b = defineMachine({
  states: { idle: { on: { GO: "nowhere" } } },
  id: "b",
});
`;
  assert.deepEqual(locateConfigPath(source, ["states", "idle", "on", "GO"], "a"), {
    line: 3,
    col: 27,
  });
  assert.deepEqual(locateConfigPath(source, ["states", "idle", "on", "GO"], "b"), {
    line: 6,
    col: 27,
  });
});

Deno.test("locateConfigPath: follows states defined in variables", () => {
  const source = `const openState = {
  on: { CLOSE: "closd" },
};
const config = {
  id: "door",
  states: { closed: {}, open: openState },
};
export const door = defineMachine(config);
`;
  const pos = locateConfigPath(source, ["states", "open", "on", "CLOSE", "target"], "door");
  assert.deepEqual(pos, { line: 2, col: 9 });
  // Without an id, the argument of defineMachine is the root.
  const noId = locateConfigPath(source, ["states", "open", "on", "CLOSE"]);
  assert.deepEqual(noId, { line: 2, col: 9 });
});

Deno.test("locateConfigPath: a value built by a call falls back to searching keys in order", () => {
  const source = `export const m = defineMachine({
  id: "m",
  states: makeStates(),
});
function makeStates() {
  return { idle: { on: { GO: "gone" } } };
}
`;
  const pos = locateConfigPath(source, ["states", "idle", "on", "GO", "target"], "m");
  assert.deepEqual(at(source, pos).startsWith(`GO: "gone"`), true);
});

Deno.test("locateConfigPath: undefined when no machine definition is found", () => {
  assert.deepEqual(locateConfigPath("export const x = 1;\n", ["states", "a"], "m"), undefined);
});

Deno.test("toPosition: 1-based lines and columns", () => {
  assert.deepEqual(toPosition("ab\ncd", 0), { line: 1, col: 1 });
  assert.deepEqual(toPosition("ab\ncd", 4), { line: 2, col: 2 });
});
