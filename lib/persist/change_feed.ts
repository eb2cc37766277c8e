/**
 * The change feed of a cluster: every atomic write that commits journal entries also writes one
 * feed record (`["sc","feed", time, node, n]`, kept an hour) naming them (instance, machine,
 * configuration before, first and last seq: references, not the entries, which stay sealed in
 * the journal of an encrypted store), and every node reads the feed, so that `onCommit` (the
 * bus, SSE, the REPL's `watch`, hooks, metrics) sees the commits made on every node, not only
 * its own. Readers look again at a trailing window of recent records (commits of other nodes
 * can land with an earlier time than one already read) and skip the records they have seen.
 *
 * @module
 */
import type { KvBackend, KvMutation } from "./backend.ts";
import { PollLoop } from "./poll_loop.ts";
import type { CommitInfo, JournalEntry } from "./types.ts";

/** One instance's commit, as the feed names it. */
export interface FeedRef {
  id: string;
  machine: string;
  /** The configuration before the first entry. */
  from: string[];
  first: number;
  last: number;
}

/** How long feed records are kept (ms). */
const FEED_TTL_MS = 3_600_000;
/** How far back each look at the feed goes again (ms). */
const WINDOW_MS = 5_000;
/** Longest pause between two looks when nothing happens (ms). */
const IDLE_MS = 100;

/** A feed record: the commits of one atomic write of `node`. */
interface FeedRecord {
  node: string;
  commits: FeedRef[];
}

let counter = 0;

/** The feed mutation of one atomic write by `node` (keyed by the wall clock: readers poll by it). */
export function feedMutation(node: string, commits: FeedRef[]): KvMutation {
  const value: FeedRecord = { node, commits };
  return {
    type: "set",
    key: ["sc", "feed", Date.now(), node, counter++],
    value,
    expireIn: FEED_TTL_MS,
    size: 64 + commits.length * 96,
  };
}

/** The feed reference of journal entries committed for one instance. */
export function feedRef(
  id: string,
  machine: string,
  from: string[],
  entries: readonly JournalEntry[],
): FeedRef {
  return { id, machine, from, first: entries[0].seq, last: entries[entries.length - 1].seq };
}

/** Reads the feed and hands other nodes' commits to `deliver`. */
export class ChangeFeedReader {
  readonly #backend: KvBackend;
  readonly #node: string;
  readonly #deliver: (commit: CommitInfo) => void;
  readonly #entries: (ref: FeedRef) => Promise<JournalEntry[]>;
  readonly #onError: (e: unknown) => void;
  readonly #now: () => number;
  /** Keys seen inside the window, by their time. */
  #seen = new Map<string, number>();
  readonly #startedAt: number;
  readonly #loop: PollLoop;

  constructor(options: {
    backend: KvBackend;
    node: string;
    deliver: (commit: CommitInfo) => void;
    /** Reads the journal entries a reference names. */
    entries: (ref: FeedRef) => Promise<JournalEntry[]>;
    onError: (e: unknown) => void;
    now?: () => number;
  }) {
    this.#backend = options.backend;
    this.#node = options.node;
    this.#deliver = options.deliver;
    this.#entries = options.entries;
    this.#onError = options.onError;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#loop = new PollLoop({
      backend: options.backend,
      look: () => this.#read(),
      onError: options.onError,
      minMs: 10,
      maxMs: IDLE_MS,
    });
  }

  stop(): void {
    this.#loop.stop();
  }

  /** One look at the feed; resolves with the records of other nodes it found. */
  async #read(): Promise<number> {
    let found = 0;
    // Commits from before this reader started are history, not news.
    const from = Math.max(this.#startedAt, this.#now() - WINDOW_MS);
    const iter = this.#backend.list<FeedRecord>({
      prefix: ["sc", "feed"],
      start: ["sc", "feed", from],
    }, { batchSize: 500 });
    for await (const e of iter) {
      const key = `${e.key[2]}:${e.key[3]}:${e.key[4]}`;
      if (this.#seen.has(key)) continue;
      this.#seen.set(key, e.key[2] as number);
      const r = e.value!;
      if (r.node === this.#node) continue;
      found++;
      for (const ref of r.commits) {
        try {
          const entries = await this.#entries(ref);
          if (entries.length > 0) {
            this.#deliver({ id: ref.id, machine: ref.machine, from: ref.from, entries });
          }
        } catch (err) {
          this.#onError(err);
        }
      }
    }
    for (const [key, time] of this.#seen) if (time < from) this.#seen.delete(key);
    return found;
  }
}
