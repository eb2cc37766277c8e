/**
 * A loop that looks at the store again and again: at once after a look that found work, or
 * when the backend says something was written; otherwise backing off from `minMs` to `maxMs`.
 * The forwarder's inbox and the change feed use it. A look never overlaps the previous one.
 *
 * @module
 */
import type { KvBackend } from "./backend.ts";

/** Runs `look` (which resolves with how much it found) in an adaptive loop until stopped. */
export class PollLoop {
  readonly #look: () => Promise<number>;
  readonly #onError: (e: unknown) => void;
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #unlisten: (() => void) | undefined;
  readonly #onWrite: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #idle: number;
  #looking = false;
  #stopped = false;

  /** `onWrite`: also called when the backend reports a write (before the next look). */
  constructor(options: {
    backend: KvBackend;
    look: () => Promise<number>;
    onError: (e: unknown) => void;
    minMs: number;
    maxMs: number;
    onWrite?: () => void;
  }) {
    this.#look = options.look;
    this.#onError = options.onError;
    this.#minMs = this.#idle = options.minMs;
    this.#maxMs = options.maxMs;
    this.#onWrite = options.onWrite;
    this.#unlisten = options.backend.onChange?.(() => this.poke());
    this.#schedule(0);
  }

  /** Looks now (something was written). */
  poke(): void {
    this.#onWrite?.();
    this.#idle = this.#minMs;
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    this.#unlisten?.();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const timer = setTimeout(() => this.#run(), ms);
    this.#timer = timer;
    Deno.unrefTimer(timer as unknown as number);
  }

  async #run(): Promise<void> {
    this.#timer = undefined;
    if (this.#looking) return this.#schedule(this.#idle);
    this.#looking = true;
    let found = 0;
    try {
      found = await this.#look();
    } catch (e) {
      if (!this.#stopped) this.#onError(e);
    } finally {
      this.#looking = false;
    }
    this.#idle = found > 0 ? this.#minMs : Math.min(this.#maxMs, this.#idle * 2);
    if (this.#timer === undefined) this.#schedule(this.#idle);
  }
}
