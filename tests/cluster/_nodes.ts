/**
 * Helpers of the cluster chaos test (chaos_test.ts): `statecraft serve` nodes as child
 * processes (spawned, SIGKILLed, SIGSTOPped and SIGCONTed, always killed in `finally`), free
 * ports, a seeded generator, and polling with deadlines.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname;

import { STORE_FLAGS } from "../cli/_run_cli.ts";
import { waitFor } from "../_wait.ts";
export { random } from "../_random.ts";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port nobody listens on now (listen on 0, close). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Polls `check` every `everyMs` until it returns a value other than `undefined`; throws after
 * `ms` with `what` and the last error `check` threw, if any.
 */
export function until<T>(
  check: () => Promise<T | undefined>,
  ms: number,
  what: string,
  everyMs = 50,
): Promise<T> {
  return waitFor(what, check, { ms, everyMs, retryErrors: true }) as Promise<T>;
}

/** `fetch` with a deadline; the body read as JSON (or `null`). */
export async function request(
  url: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<{ status: number; body: unknown }> {
  const { timeoutMs = 5000, ...rest } = init;
  const res = await fetch(url, { ...rest, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/** How a node stands, as far as the test did things to it. */
export type NodeState = "starting" | "running" | "paused" | "killed";

/** One `statecraft serve` node, a child process. */
export class ServeNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly process: Deno.ChildProcess;
  state: NodeState = "starting";
  /** The last lines of its stderr and stdout (for a failure's message). */
  readonly tail: string[] = [];
  readonly #drained: Promise<unknown>;
  #exited = false;

  constructor(name: string, project: string, store: string) {
    this.name = name;
    this.port = freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.process = new Deno.Command("deno", {
      args: [
        "run",
        ...STORE_FLAGS,
        "cli.ts",
        "serve",
        project,
        "--kv",
        store,
        "--node",
        name,
        "--port",
        String(this.port),
        "--no-plugins",
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.process.status.then(() => this.#exited = true);
    // Both pipes are read to the end, or a chatty node would block on a full pipe.
    this.#drained = Promise.allSettled([
      this.#drain(this.process.stdout),
      this.#drain(this.process.stderr),
    ]);
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        this.tail.push(buffer.slice(0, nl));
        if (this.tail.length > 60) this.tail.shift();
        buffer = buffer.slice(nl + 1);
      }
    }
    if (buffer !== "") this.tail.push(buffer);
  }

  /** Whether requests to it can be answered now (started, not paused, not killed). */
  get live(): boolean {
    return this.state === "running";
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** Waits until `GET /health` answers 200 (polling, with a deadline). */
  async ready(ms = 60_000): Promise<void> {
    await until(
      async () => {
        if (this.#exited) throw new Error(`${this.name} exited: ${this.tail.join("\n")}`);
        const r = await request(`${this.url}/health`, { timeoutMs: 1000 });
        return r.status === 200 ? true : undefined;
      },
      ms,
      `${this.name} ready`,
      100,
    );
    this.state = "running";
  }

  signal(signal: "SIGKILL" | "SIGSTOP" | "SIGCONT"): void {
    if (this.#exited) throw new Error(`${this.name} exited already: ${this.tail.join("\n")}`);
    this.process.kill(signal);
    this.state = signal === "SIGKILL" ? "killed" : signal === "SIGSTOP" ? "paused" : "running";
  }

  /** For `finally`: kills it whatever its state (a stopped process dies of SIGKILL too). */
  async dispose(): Promise<void> {
    if (!this.#exited) {
      try {
        this.process.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
    this.state = "killed";
    await Promise.allSettled([this.process.status, this.#drained]);
  }
}

/** `request` with a JSON body (POST unless `method` says otherwise). */
export function postJson(
  url: string,
  body: unknown,
  { method = "POST", timeoutMs = 10_000 }: { method?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: unknown }> {
  return request(url, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    timeoutMs,
  });
}

/** A partition as `GET /cluster` reports it. */
export interface PartitionView {
  partition: number;
  owner: string | null;
  epoch: number;
  expiresAt: number;
}

/** What `GET /cluster` answers (the fields the tests read). */
export interface ClusterView {
  partitions: number;
  partitionTable: PartitionView[];
  nodes: { node: string; live: boolean; owned: number }[];
  stats: Record<string, number>;
}

/** `GET /cluster` of the first live node in `nodes` that answers 200. */
export async function clusterView(nodes: ServeNode[]): Promise<ClusterView> {
  let last: unknown;
  for (const node of nodes.filter((n) => n.live)) {
    try {
      const r = await request(`${node.url}/cluster`, { timeoutMs: 2000 });
      if (r.status === 200) return r.body as ClusterView;
      last = new Error(`${node.name}: ${r.status} ${JSON.stringify(r.body)}`);
    } catch (e) {
      last = e;
    }
  }
  throw last ?? new Error("no live node");
}
