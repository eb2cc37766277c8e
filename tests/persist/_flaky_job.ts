/**
 * A machine for the redrive tests: a job whose one invocation fails ("remote down") until the
 * test sets `job.ok`; `job.calls` counts the invocations started.
 *
 * @module
 */
import { defineMachine, type InvokeConfig } from "../../mod.ts";

/** The job's invocation `call`: fails until `job.ok`; done: `finished`, failed: `failed`. */
export function flakyCall(job: { ok: boolean; calls: number }): InvokeConfig {
  return {
    id: "call",
    src: () => {
      job.calls++;
      return job.ok ? Promise.resolve("fine") : Promise.reject(new Error("remote down"));
    },
    onDone: "finished",
    onError: "failed",
  };
}

/** The machine `job`: `working` invokes `call`; done: `finished` (final), failed: `failed`. */
export function flakyJob(job: { ok: boolean; calls: number }) {
  return defineMachine({
    id: "job",
    states: {
      working: { invoke: flakyCall(job) },
      failed: {},
      finished: { type: "final" },
    },
  });
}
