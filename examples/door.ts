/**
 * A keypad door: guards, history and payload schemas.
 *
 * What it shows:
 * - Guards: `LOCK {code}` and `UNLOCK {code}` are taken only when the code matches the one in
 *   the context. A wrong `UNLOCK` is counted (a guarded targetless transition); the third wrong
 *   code in a row sets off the alarm.
 * - An `alarm` mode, entered from a locked door that is forced or brute-forced. It sounds, then
 *   falls silent on its own timer, and is left only with `RESET {code}`.
 * - Deep history: `RESET` returns through `secure.previous` to the exact substate the door was
 *   in, down to the deadbolt (`secure.locked.deadbolted`). A shallow history would only know
 *   `secure.locked` and come back with the bolt retracted.
 * - Payload schemas (zod): `LOCK`, `UNLOCK` and `RESET` must carry a four-digit `code`;
 *   `send` throws an `EventError` for a malformed one before the machine sees it.
 *
 * Run it (the default code is 0000; start with `context: { code: "..." }` to change it). Events
 * with a payload come from a JSONL file, `door.events.jsonl` beside this one: lock, deadbolt,
 * a wrong code, a forced door, a wrong and a right RESET, back to the deadbolt:
 *
 * ```sh
 * deno task statecraft run examples/door.ts --events OPEN,CLOSE
 * deno task statecraft run examples/door.ts --virtual-time --events-file examples/door.events.jsonl
 * ```
 *
 * @module
 */
import { z } from "zod";
import { assign, defineMachine, type Machine } from "../core.ts";

/** The door's context. */
export interface DoorContext {
  /** The keypad code. */
  code: string;
  /** Wrong codes entered in a row on the locked door. */
  failedAttempts: number;
  /** Wrong codes in a row that set off the alarm. */
  maxAttempts: number;
  /** How many times the alarm went off. */
  alarms: number;
}

/** The events the door understands. */
export type DoorEvent =
  | { type: "OPEN" }
  | { type: "CLOSE" }
  | { type: "LOCK"; code: string }
  | { type: "UNLOCK"; code: string }
  | { type: "DEADBOLT" }
  | { type: "RELEASE_DEADBOLT" }
  | { type: "FORCE" }
  | { type: "SILENCE" }
  | { type: "RESET"; code: string };

/** How long the siren sounds before it silences itself (the alarm stays on). */
export const SIREN_MS = 60_000;

const codePayload = z.object({
  code: z.string().regex(/^\d{4}$/, "the code must be four digits"),
});

const recordWrongCode = assign<DoorContext, DoorEvent>({
  failedAttempts: ({ context }) => context.failedAttempts + 1,
});

/** The door machine. */
export const door: Machine<DoorContext, DoorEvent> = defineMachine<DoorContext, DoorEvent>({
  id: "door",
  description: "A keypad door with a deadbolt and an alarm.",
  context: { code: "0000", failedAttempts: 0, maxAttempts: 3, alarms: 0 },
  schemas: {
    events: { LOCK: codePayload, UNLOCK: codePayload, RESET: codePayload },
  },
  guards: {
    codeMatches: ({ context, event }) => "code" in event && event.code === context.code,
    lastAttempt: ({ context }) => context.failedAttempts + 1 >= context.maxAttempts,
  },
  initial: "secure",
  states: {
    secure: {
      description: "Normal operation: the alarm is quiet.",
      initial: "closed",
      states: {
        opened: { on: { CLOSE: "closed" } },
        closed: {
          on: {
            OPEN: "opened",
            LOCK: { target: "locked", guard: "codeMatches" },
          },
        },
        locked: {
          initial: "latched",
          entry: assign({ failedAttempts: 0 }),
          states: {
            latched: { on: { DEADBOLT: "deadbolted" } },
            deadbolted: { on: { RELEASE_DEADBOLT: "latched" } },
          },
          on: {
            UNLOCK: [
              { target: "closed", guard: "codeMatches" },
              { target: "#door.alarm", guard: "lastAttempt", actions: recordWrongCode },
              { actions: recordWrongCode },
            ],
            FORCE: "#door.alarm",
          },
        },
        previous: { type: "history", history: "deep" },
      },
    },
    alarm: {
      initial: "sounding",
      entry: assign({ alarms: ({ context }) => context.alarms + 1 }),
      states: {
        sounding: {
          after: { [SIREN_MS]: "silenced" },
          on: { SILENCE: "silenced" },
        },
        silenced: {},
      },
      on: {
        RESET: {
          target: "secure.previous",
          guard: "codeMatches",
          actions: assign({ failedAttempts: 0 }),
        },
      },
    },
  },
});

export default door;
