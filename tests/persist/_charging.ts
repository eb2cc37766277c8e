/**
 * A machine for the retry tests: `calling` invokes `charge`, whose attempts 1 and 2 fail and the
 * third succeeds, under `retry: { attempts: 4, initial: "500ms", factor: 2 }`; then `paid`
 * (context `result`), or `failed` after the last attempt.
 *
 * @module
 */
import { defineMachine, type InvokeArgs } from "../../mod.ts";

/** The machine `id`; `onAttempt` hears of each attempt as it starts. */
export function chargingMachine(id: string, onAttempt: (attempt: number) => void) {
  return defineMachine({
    id,
    initial: "calling",
    context: { result: "" },
    states: {
      calling: {
        invoke: {
          id: "charge",
          src: ({ attempt }: InvokeArgs) => {
            onAttempt(attempt);
            return attempt < 3
              ? Promise.reject(new Error(`gateway down (attempt ${attempt})`))
              : Promise.resolve(`charged on attempt ${attempt}`);
          },
          retry: { attempts: 4, initial: "500ms", factor: 2 },
          onDone: {
            target: "paid",
            actions: ({ context, event }) => context.result = event.output as string,
          },
          onError: "failed",
        },
      },
      paid: {},
      failed: {},
    },
  });
}
