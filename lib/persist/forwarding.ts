/**
 * Forwarding in cluster mode: a write for an instance whose partition another node owns goes
 * through a durable inbox in the store. The sender writes the request under
 * `K.inbox(partition, id)` and waits for `K.reply(id)`; the partition's owner lists its
 * partitions' inboxes, runs each request as a local call (in the instance's mailbox, with a
 * stable event id so that running it again after a takeover applies nothing twice), then
 * deletes the request and writes the reply in one atomic write. Any process can send this way,
 * with or without an HTTP port; a request waits in the store while its partition has no owner.
 *
 * @module
 */
import type { ClusterMembership } from "../cluster/types.ts";
import { EventError, SnapshotError } from "../core/errors.ts";
import type { KvBackend } from "./backend.ts";
import { K } from "./keys.ts";
import { PollLoop } from "./poll_loop.ts";
import { contextFrom, SpanKind, traced, traceparent, tracing } from "../telemetry/tracing.ts";
import { StoreError } from "./types.ts";

/** The writes a node forwards. */
export type ForwardKind =
  | "create"
  | "send"
  | "checkpoint"
  | "rollback"
  | "archive"
  | "unarchive"
  | "delete"
  | "cancel"
  | "fork"
  | "redrive";

/** A forwarded request as stored in the inbox. */
export interface ForwardRequest {
  id: string;
  kind: ForwardKind;
  instanceId: string;
  args: unknown;
  from: string;
  at: number;
  /**
   * OpenTelemetry on: the W3C `traceparent` of the sender's `statecraft.forward` span, so that
   * what the owner does for the request joins the sender's trace.
   */
  trace?: string;
}

/** A reply as stored. */
export type ForwardReply =
  | { ok: true; result: unknown }
  | { ok: false; name: string; code?: string; message: string; field?: string };

/** Options of the forwarder. */
export interface ForwarderOptions {
  backend: KvBackend;
  membership: ClusterMembership;
  /** Runs a request here (this node owns its partition). */
  execute(request: ForwardRequest): Promise<unknown>;
  /** Whether an error means "not the owner any more": the request stays for the new owner. */
  isNotOwner(error: unknown): boolean;
  onError(error: unknown): void;
  /** How long a sender waits for a reply (default 30,000 ms). */
  timeoutMs?: number;
}

/** How long replies are kept for a sender that has not read them (ms). */
const REPLY_TTL_MS = 600_000;
/** Longest pause between two looks at the inbox, or at a reply, when nothing happens (ms). */
const IDLE_MS = 50;

/** Sends requests to other nodes' partitions and serves the requests for this node's. */
export class Forwarder {
  readonly #o: ForwarderOptions;
  /** Requests being run here, so that one look at the inbox does not start them twice. */
  readonly #running = new Set<string>();
  /** Senders waiting for a reply: woken when the backend reports a write. */
  #wake: (() => void)[] = [];
  readonly #loop: PollLoop;

  constructor(options: ForwarderOptions) {
    this.#o = options;
    this.#loop = new PollLoop({
      backend: options.backend,
      look: () => this.#serve(),
      onError: options.onError,
      minMs: 1,
      maxMs: IDLE_MS,
      onWrite: () => {
        for (const wake of this.#wake.splice(0)) wake();
      },
    });
  }

  /** Sends a request to the owner of the instance's partition; resolves with its result. */
  forward(kind: ForwardKind, instanceId: string, args: unknown): Promise<unknown> {
    if (!tracing) return this.#forward(kind, instanceId, args);
    // OpenTelemetry on: a client span for the wait; its context travels with the request.
    const attributes = {
      "statecraft.instance": instanceId,
      "statecraft.node": this.#o.membership.node,
      "statecraft.partition": this.#o.membership.partitionOf(instanceId),
    };
    return traced(
      `statecraft.forward ${kind}`,
      { kind: SpanKind.CLIENT, attributes },
      () => this.#forward(kind, instanceId, args, traceparent()),
    );
  }

  async #forward(
    kind: ForwardKind,
    instanceId: string,
    args: unknown,
    trace?: string,
  ): Promise<unknown> {
    const { backend, membership } = this.#o;
    const partition = membership.partitionOf(instanceId);
    const request: ForwardRequest = {
      id: crypto.randomUUID(),
      kind,
      instanceId,
      args,
      from: membership.node,
      at: Date.now(),
    };
    if (trace !== undefined) request.trace = trace;
    await backend.atomic([], [{
      type: "set",
      key: K.inbox(partition, request.id),
      value: request,
    }]);
    membership.stats.forwarded++;
    const deadline = Date.now() + (this.#o.timeoutMs ?? 30_000);
    for (let wait = 1;; wait = Math.min(IDLE_MS, wait * 2)) {
      const reply = (await backend.get<ForwardReply>(K.reply(request.id))).value;
      if (reply !== null) {
        await backend.atomic([], [{ type: "delete", key: K.reply(request.id) }]);
        if (reply.ok) return reply.result;
        throw replyError(reply);
      }
      if (Date.now() > deadline) {
        throw new StoreError(
          "unavailable",
          `no owner of partition ${partition} answered within ${
            this.#o.timeoutMs ?? 30_000
          } ms (request ${request.id} for "${instanceId}" stays queued and may still run)`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        this.#wake.push(done);
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  }

  /** Stops serving (requests stay in the store for the partitions' next owners). */
  stop(): void {
    this.#loop.stop();
    for (const wake of this.#wake.splice(0)) wake();
  }

  /** One look at the inbox: starts the requests for the partitions this node owns. */
  async #serve(): Promise<number> {
    const { backend, membership } = this.#o;
    if (membership.role !== "member") return 0;
    let found = 0;
    for await (
      const e of backend.list<ForwardRequest>({ prefix: ["sc", "inbox"] }, { limit: 500 })
    ) {
      const partition = e.key[2] as number;
      const request = e.value!;
      if (membership.owns(partition) === undefined || this.#running.has(request.id)) continue;
      found++;
      this.#running.add(request.id);
      this.#run(partition, request).finally(() => this.#running.delete(request.id));
    }
    return found;
  }

  async #run(partition: number, request: ForwardRequest): Promise<void> {
    const { backend, membership } = this.#o;
    let reply: ForwardReply;
    try {
      const result = tracing && request.trace !== undefined
        ? await this.#traced(request)
        : await this.#o.execute(request);
      reply = { ok: true, result };
    } catch (e) {
      if (this.#o.isNotOwner(e)) return; // the new owner will run it
      const err = e instanceof Error ? e : new Error(String(e));
      reply = {
        ok: false,
        name: err.name,
        code: (err as { code?: string }).code,
        message: err.message,
        field: (err as { field?: string }).field,
      };
    }
    try {
      await backend.atomic([], [
        { type: "delete", key: K.inbox(partition, request.id) },
        { type: "set", key: K.reply(request.id), value: reply, expireIn: REPLY_TTL_MS },
      ]);
      membership.stats.served++;
    } catch (e) {
      // The request stays in the inbox: it runs again (its event id makes that harmless).
      if (!this.#loop.stopped) this.#o.onError(e);
    }
  }

  /** Runs a request in a `statecraft.forwarded` span, a child of the sender's span. */
  #traced(request: ForwardRequest): Promise<unknown> {
    const attributes = {
      "statecraft.instance": request.instanceId,
      "statecraft.node": this.#o.membership.node,
      "statecraft.from": request.from,
      "statecraft.request": request.id,
    };
    return traced(
      `statecraft.forwarded ${request.kind}`,
      { parent: contextFrom(request.trace), kind: SpanKind.SERVER, attributes },
      () => this.#o.execute(request),
    );
  }
}

/** The error a forwarded request failed with, as the sender sees it. */
function replyError(
  reply: { name: string; code?: string; message: string; field?: string },
): Error {
  if (reply.name === "StoreError" && reply.code !== undefined) {
    return new StoreError(reply.code, reply.message);
  }
  if (reply.name === "EventError") return new EventError(reply.message, reply.field);
  if (reply.name === "SnapshotError") return new SnapshotError(reply.message);
  const e = new Error(reply.message);
  e.name = reply.name;
  return e;
}
