/**
 * Livelocks across instances: the store's rule for chains of causes that no one outside keeps
 * going. The engine catches an instance that feeds itself (`maxSelfFedMacrosteps`); what it
 * cannot see is two instances sending to each other through the store (`instance:<id>`
 * targets), or an invoked function that answers at once and is invoked again by its own
 * answer, forever: each step is a commit of its own, and to the engine an outside event.
 *
 * The rule: every operation the store applies has a hop count, kept beside it (never in the
 * event). An operation from outside has none (0): `send` (API, HTTP, REPL, plugins' emits),
 * `create`, a schedule's tick, a timer that waited. An operation applied with count `h` gives
 * `h + 1` to what it causes: each send to `instance:<id>` it makes (carried in the outbox
 * record, so a restart does not reset it) and the result of each invocation it starts (kept in
 * the instance record while the invocation runs). A timer armed with no delay keeps the count
 * of the operation that armed it. An operation that would carry more than `maxCausalHops`
 * (default 10,000) is refused with a `CausalLivelockError` naming the chain's last hops.
 *
 * @module
 */
import { LivelockError } from "../core/errors.ts";
import type { EventObject } from "../core/types.ts";

/** Hops a chain of causes may take with no outside event (`OpenStoreOptions.maxCausalHops`). */
export const DEFAULT_MAX_CAUSAL_HOPS = 10_000;

/** How many of a chain's last hops a `Cause` keeps (and a `CausalLivelockError` names). */
export const CHAIN_LINKS = 8;

/** The target prefix of a send from one instance to another, through the store. */
export const INSTANCE_TARGET = "instance:";

/** One hop of a chain: an instance took an event, and what it did caused the next operation. */
export interface ChainLink {
  /** The instance. */
  instance: string;
  /** The type of the event it took. */
  event: string;
}

/**
 * What an operation carries when it was caused by another one rather than by the outside:
 * its hop count and the chain's last hops (at most `CHAIN_LINKS`, oldest first).
 */
export interface Cause {
  /** Operations between this one and the outside event the chain started from. */
  hops: number;
  /** The chain's last hops, oldest first. */
  chain: ChainLink[];
}

/** The instance id a target names (`instance:<id>`), or `null` for another target. */
export function instanceTarget(target: string): string | null {
  return target.startsWith(INSTANCE_TARGET) ? target.slice(INSTANCE_TARGET.length) : null;
}

/**
 * The cause of an operation caused while `instance` applied `event` under `cause` (none: the
 * operation came from outside): one hop more, and this hop at the end of the chain.
 */
export function nextCause(cause: Cause | undefined, instance: string, event: string): Cause {
  if (cause === undefined) return { hops: 1, chain: [{ instance, event }] };
  const chain = cause.chain.length < CHAIN_LINKS ? cause.chain.slice() : cause.chain.slice(1);
  chain.push({ instance, event });
  return { hops: cause.hops + 1, chain };
}

/** What this module reads of an operation (`Operation` of mailbox.ts). */
export interface CausedOperation {
  kind: "event" | "timer" | "invoke";
  event: EventObject;
  by: string;
  due?: number;
  cause?: Cause;
}

/** What this module reads and keeps of an instance's effects (`EffectIds` of instance_cache.ts). */
export interface CausedEffects {
  ids: Record<string, string>;
  causes?: Record<string, Cause>;
  chained?: { time: number; cause: Cause };
}

/**
 * The cause of a timer's firing or an invocation's result about to be applied: an invocation
 * started by an operation with a cause gives its result one hop more (`EffectIds.causes`);
 * one started from outside, one hop; a function's `sendParent` is outside. A timer that fell
 * due no later than the last batch with a cause was armed with no delay by it: it continues
 * that chain. Any other timer waited, and starts none.
 */
export function causeOf(effects: CausedEffects, op: CausedOperation): Cause | undefined {
  if (op.kind === "invoke") {
    const effectId = op.event.effectId;
    if (typeof effectId !== "string") return undefined;
    return effects.causes?.[effectId] ?? { hops: 1, chain: [] };
  }
  const last = effects.chained;
  return last !== undefined && op.due !== undefined && op.due <= last.time ? last.cause : undefined;
}

/**
 * The causes of the invocations still running (their effect ids still in `effects.ids`), for
 * the instance record; `undefined` when there are none. Drops the others from `effects`.
 */
export function liveCauses(effects: CausedEffects): Record<string, Cause> | undefined {
  const running = new Set(Object.values(effects.ids));
  let kept: Record<string, Cause> | undefined;
  for (const [effectId, cause] of Object.entries(effects.causes ?? {})) {
    if (running.has(effectId)) (kept ??= {})[effectId] = cause;
  }
  effects.causes = kept;
  return kept;
}

/** The error of an operation refused in `applyBatch` (its cause is past the bound). */
export function refusal(
  op: CausedOperation,
  instanceId: string,
  limit: number,
): CausalLivelockError {
  const from = op.kind === "event" && op.by.startsWith(INSTANCE_TARGET)
    ? op.by.slice(INSTANCE_TARGET.length)
    : instanceId;
  return new CausalLivelockError(op.cause!, limit, {
    kind: op.kind === "invoke" ? "invoke" : "send",
    from,
    to: instanceId,
    event: op.event.type,
  });
}

/** A stored cause as read back (anything else: none). */
export function readCause(value: unknown): Cause | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { hops, chain } = value as Partial<Cause>;
  if (typeof hops !== "number" || !Array.isArray(chain)) return undefined;
  return {
    hops,
    chain: chain.filter((l) =>
      typeof l === "object" && l !== null && typeof l.instance === "string" &&
      typeof l.event === "string"
    ).slice(-CHAIN_LINKS),
  };
}

/** What a refused operation was: a send to another instance, or an invocation's result. */
export interface RefusedHop {
  /** `"send"`: `from` sent `event` to `to`; `"invoke"`: `to` got the result `event`. */
  kind: "send" | "invoke";
  /** The sender (a send) or the invoking instance (a result). */
  from: string;
  /** The receiver. */
  to: string;
  /** The type of the event refused. */
  event: string;
}

/**
 * A chain of causes across instances (sends to `instance:<id>`, invocations answered and
 * started again) went past `maxCausalHops` with no outside event: the operation that would
 * have gone further was refused. A `LivelockError`: `chain` names the last hops.
 *
 * @example
 * ```ts
 * import { CausalLivelockError } from "./livelock.ts";
 * function describe(e: unknown): string {
 *   if (!(e instanceof CausalLivelockError)) return String(e);
 *   return e.chain.map((l) => `${l.instance} on ${l.event}`).join(" -> ");
 * }
 * ```
 */
export class CausalLivelockError extends LivelockError {
  /** The chain's last hops, oldest first, ending with the refused operation's sender. */
  readonly chain: ChainLink[];
  /** The hop count the refused operation would have carried. */
  readonly hops: number;
  /** The bound it passed (`maxCausalHops`). */
  readonly limit: number;
  /** What was refused. */
  readonly refused: RefusedHop;

  /**
   * Made by the store when it refuses an operation past the bound.
   *
   * @param cause the refused operation's cause (its hop count and chain).
   * @param limit the bound (`maxCausalHops`).
   * @param refused what was refused.
   */
  constructor(cause: Cause, limit: number, refused: RefusedHop) {
    const hops = cause.chain.map((l) => `"${l.instance}" on ${l.event}`).join(" -> ");
    const what = refused.kind === "send"
      ? `instance "${refused.from}" sent "${refused.event}" to instance "${refused.to}"`
      : `instance "${refused.to}" got "${refused.event}" (the result of an invocation)`;
    const outcome = refused.kind === "send"
      ? `the send was refused ("${refused.from}" gets error.communication); both instances ` +
        `keep their state and take outside events`
      : `the result was not applied: the instance keeps its state and takes outside events`;
    super(
      `livelock across instances: ${what} as hop ${cause.hops} of one chain of causes with no ` +
        `outside event (maxCausalHops is ${limit}); its last hops: ${hops}; ${outcome} ` +
        `(raise maxCausalHops if the chain is meant to be this long)`,
    );
    this.name = "LivelockError";
    this.chain = cause.chain;
    this.hops = cause.hops;
    this.limit = limit;
    this.refused = refused;
  }
}
