/**
 * Instance handles: in the REPL's code lines, every instance whose id is a valid identifier
 * is in scope as a handle (`front.send("OPEN")`, `front.state`). Reads are synchronous: they
 * show what the instance was when the line started (or after the handle's last `send`);
 * everything that changes or reads the store returns a promise.
 *
 * @module
 */
import type { EventObject, MachineInstance } from "../core/types.ts";
import type { CheckpointInfo, InstanceInfo, JournalEntry, SendResult } from "../persist/store.ts";
import type { Runtime, TransitionEvent } from "../runtime/runtime.ts";
import { atomicOf } from "./render.ts";

/**
 * A handle on one durable instance.
 *
 * @example
 * ```ts ignore
 * await front.send("OPEN");           // through runtime.send; resolves once committed
 * await front.send("LOCK", { code: "1234" });
 * front.state;                        // ["secure.locked.latched"]  atomic states
 * front.matches("secure.locked");     // true
 * front.context.failedAttempts;       // 0
 * ```
 */
export class InstanceHandle {
  /** The instance id. */
  readonly id: string;
  readonly #runtime: Runtime;
  #info: InstanceInfo | null = null;
  #accepts: string[] = [];

  /** Makes a handle; call `refresh()` before reading it. */
  constructor(runtime: Runtime, id: string) {
    this.#runtime = runtime;
    this.id = id;
  }

  /** Reads the instance again from the runtime; returns the handle. */
  async refresh(): Promise<this> {
    this.#info = await this.#runtime.get(this.id);
    this.#accepts = this.#info === null ? [] : await this.#runtime.acceptedEvents(this.id);
    return this;
  }

  /** The machine id. */
  get machine(): string {
    return this.#read().machine;
  }

  /** The active atomic states. */
  get state(): string[] {
    const info = this.#read();
    return atomicOf(this.#runtime.machines.get(info.machine)?.machine, info.configuration);
  }

  /** Every active state, document order. */
  get configuration(): string[] {
    return this.#read().configuration;
  }

  /** The context (a copy as stored). */
  get context(): Record<string, unknown> {
    return this.#read().context as Record<string, unknown>;
  }

  /** `"active"`, `"done"` or `"stopped"`. */
  get status(): string {
    return this.#read().status;
  }

  /** Journal entries so far. */
  get seq(): number {
    return this.#read().seq;
  }

  /** The events accepted now (guards evaluated with a payload-less event). */
  get accepts(): string[] {
    return [...this.#accepts];
  }

  /** Whether a state (any level) is active. */
  matches(stateId: string): boolean {
    return this.#read().configuration.includes(stateId);
  }

  /** Sends an event (`"OPEN"`, `("LOCK", { code })` or `{ type, ...payload }`). */
  async send(event: string | EventObject, payload?: Record<string, unknown>): Promise<SendResult> {
    const ev = typeof event === "string" ? { ...payload, type: event } : event;
    const result = await this.#runtime.send(this.id, ev, { by: "repl" });
    await this.refresh();
    return result;
  }

  /** Whether the event would take a transition now (guards evaluated with it). */
  can(event: string | EventObject): Promise<boolean> {
    return this.#runtime.inspect(this.id, (i) => i.can(event));
  }

  /** The journal. */
  history(options?: { from?: number; limit?: number }): Promise<JournalEntry[]> {
    return this.#runtime.history(this.id, options);
  }

  /** Records a checkpoint. */
  checkpoint(label?: string): Promise<CheckpointInfo> {
    return this.#runtime.checkpoint(this.id, label);
  }

  /** Rolls back to a seq (a number) or a checkpoint label. */
  async rollback(to: number | string): Promise<InstanceInfo> {
    const info = await this.#runtime.rollback(
      this.id,
      typeof to === "number" ? { seq: to } : { checkpoint: to },
    );
    await this.refresh();
    return info;
  }

  /** Steps back one event. */
  async undo(): Promise<InstanceInfo> {
    const info = await this.#runtime.undo(this.id);
    await this.refresh();
    return info;
  }

  /** Runs `fn` on the live engine instance (`configuration`, `context`, `can`...). */
  inspect<T>(fn: (instance: MachineInstance) => T): Promise<T> {
    return this.#runtime.inspect(this.id, fn);
  }

  /** Receives this instance's committed transitions; returns the unsubscribe. */
  watch(listener: (t: TransitionEvent) => void): () => void {
    return this.#runtime.watch(listener, this.id);
  }

  /** What the REPL prints for a handle. */
  [Symbol.for("Deno.customInspect")](): string {
    if (this.#info === null) return `[instance ${this.id} (not found)]`;
    return `[instance ${this.id} (${this.#info.machine}) ${this.#info.status}: ${
      this.state.join(", ")
    }]`;
  }

  #read(): InstanceInfo {
    if (this.#info === null) throw new Error(`no instance "${this.id}"`);
    return this.#info;
  }
}
