/**
 * The complete check of a snapshot before `Machine.restore` takes it: its shape, its machine and
 * structural hash, a legal configuration, history, timers, queues, deferred events, `when`
 * memory, the snapshots of invoked child machines, and data (context, events, output) that is
 * plain JSON. The first problem is thrown as a `SnapshotError` naming the field at fault
 * (`snapshot.configuration[3]: "door.open" is listed twice`). Every check is linear in the
 * size of the snapshot, and nothing recurses as deep as the input goes: nested data and child
 * snapshots are walked with explicit stacks, and data nested deeper than `MAX_DATA_DEPTH` is
 * refused.
 *
 * @module
 */
import type { CompiledMachine, StateNode } from "./compiled_types.ts";
import { SnapshotError } from "./errors.ts";
import { policyStateProblem } from "./retry.ts";

/** How deep data in a snapshot (context, event payloads, output) may nest. */
export const MAX_DATA_DEPTH = 1_000;

/** The largest clock time a `Date` can show (ms from the epoch, either way). */
const MAX_TIME = 8.64e15;

/** What the check needs to know of a machine. */
export interface SnapshotTarget {
  /** The compiled model. */
  compiled: CompiledMachine;
  /** `config.version`, for the message when the hash differs. */
  version: string | number | undefined;
}

/**
 * The machine a child snapshot is checked against, from an invocation's `src`: `null` when the
 * source is not a Statecraft `Machine` (its own `restore`, if any, decides then).
 */
export type ChildTarget = (src: unknown) => SnapshotTarget | null;

/**
 * Checks `snapshot` against `target` completely, children included; throws a `SnapshotError`
 * naming the first field at fault. `field` is what the snapshot is called in messages.
 *
 * @example
 * ```ts ignore
 * checkSnapshot(snap, { compiled, version: 1 }, () => null);
 * ```
 */
export function checkSnapshot(
  snapshot: unknown,
  target: SnapshotTarget,
  childTarget: ChildTarget,
  field = "snapshot",
): void {
  const work: { snap: unknown; target: SnapshotTarget; field: string }[] = [
    { snap: snapshot, target, field },
  ];
  while (work.length > 0) {
    const next = work.pop()!;
    const children = checkOne(next.snap, next.target, next.field);
    for (const child of children) {
      const t = childTarget(child.src);
      if (t !== null) work.push({ snap: child.snap, target: t, field: child.field });
      else checkObject(child.snap, child.field);
    }
  }
}

/** A field's path: `base.key`, `base["odd key"]`, `base[3]`. */
function at(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}[${show(key)}]`;
}

/** A value in a message, kept short. */
function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return `a ${typeof v}`;
}

function fail(field: string, why: string): never {
  throw new SnapshotError(`${field}: ${why}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkObject(v: unknown, field: string): asserts v is Record<string, unknown> {
  if (!isRecord(v)) fail(field, `must be an object, not ${show(v)}`);
}

function checkArray(v: unknown, field: string): asserts v is unknown[] {
  if (!Array.isArray(v)) fail(field, `must be an array, not ${show(v)}`);
}

function checkString(v: unknown, field: string): asserts v is string {
  if (typeof v !== "string") fail(field, `must be a string, not ${show(v)}`);
}

function checkCount(v: unknown, field: string): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    fail(field, `must be a whole number of at least 0, not ${show(v)}`);
  }
}

function checkTime(v: unknown, field: string): void {
  if (typeof v !== "number" || !Number.isFinite(v) || Math.abs(v) > MAX_TIME) {
    fail(field, `must be a clock time (ms from the epoch, at most ${MAX_TIME}), not ${show(v)}`);
  }
}

/**
 * `Snapshot.retries`: by invoke id, the failed attempts (a count >= 1), the last error, and
 * the policy in force (optional: snapshots written before it was kept have none).
 */
function checkRetries(v: unknown, field: string): void {
  checkObject(v, field);
  for (const [id, r] of Object.entries(v)) {
    const f = at(field, id);
    checkObject(r, f);
    checkCount(r.attempt, at(f, "attempt"));
    if ((r.attempt as number) < 1) {
      fail(at(f, "attempt"), `must be at least 1, not ${show(r.attempt)}`);
    }
    checkObject(r.error, at(f, "error"));
    checkString(r.error.name, at(at(f, "error"), "name"));
    checkString(r.error.message, at(at(f, "error"), "message"));
    if (r.policy !== undefined) {
      const problem = policyStateProblem(r.policy);
      if (problem !== null) {
        const p = at(f, "policy");
        fail(problem.key === undefined ? p : at(p, problem.key), problem.why);
      }
    }
  }
}

/** One snapshot (not its children); returns its children to check against their machines. */
function checkOne(
  s: unknown,
  target: SnapshotTarget,
  field: string,
): { src: unknown; snap: unknown; field: string }[] {
  const m = target.compiled;
  if (!isRecord(s)) fail(field, `not a Statecraft snapshot: expected an object, not ${show(s)}`);
  if (s.format !== "statecraft.snapshot/1") {
    fail(at(field, "format"), `not a Statecraft snapshot: format is ${show(s.format)}`);
  }
  checkString(s.id, at(field, "id"));
  checkString(s.machine, at(field, "machine"));
  if (s.machine !== m.id) {
    fail(
      at(field, "machine"),
      `the snapshot of ${show(s.id)} belongs to machine ${show(s.machine)}, not ${show(m.id)}`,
    );
  }
  checkString(s.hash, at(field, "hash"));
  const version = s.version;
  if (
    version !== undefined && typeof version !== "string" &&
    !(typeof version === "number" && Number.isFinite(version))
  ) fail(at(field, "version"), `must be a string or a number, not ${show(version)}`);
  if (s.hash !== m.hash) {
    fail(
      at(field, "hash"),
      `the snapshot of ${show(s.id)} was taken under another definition of "${m.id}" ` +
        `(snapshot version ${version ?? "unversioned"}, hash ${s.hash.slice(0, 64)}; ` +
        `machine version ${target.version ?? "unversioned"}, hash ${m.hash})`,
    );
  }
  const status = s.status;
  if (status !== "active" && status !== "done" && status !== "stopped") {
    fail(at(field, "status"), `must be "active", "done" or "stopped", not ${show(status)}`);
  }
  const active = checkConfiguration(m, s.configuration, status, at(field, "configuration"));
  checkHistory(m, s.history, at(field, "history"));
  checkData(s.context, at(field, "context"), true);
  if (s.output !== undefined) checkData(s.output, at(field, "output"), false);
  checkArray(s.timers, at(field, "timers"));
  if (status !== "active" && s.timers.length > 0) {
    fail(at(field, "timers"), `an instance that is ${status} has no timers`);
  }
  for (let i = 0; i < s.timers.length; i++) checkTimer(s.timers[i], at(at(field, "timers"), i));
  for (const key of ["queue", "deferred"] as const) {
    const list = s[key];
    checkArray(list, at(field, key));
    for (let i = 0; i < list.length; i++) checkEvent(list[i], at(at(field, key), i));
  }
  checkWhen(m, s.when, active, at(field, "when"));
  if (s.retries !== undefined) checkRetries(s.retries, at(field, "retries"));
  const stats = s.stats;
  checkObject(stats, at(field, "stats"));
  for (const key of ["events", "transitions", "errors", "microsteps"]) {
    checkCount(stats[key], at(at(field, "stats"), key));
  }
  checkCount(s.nextId, at(field, "nextId"));
  checkTime(s.time, at(field, "time"));
  return childSnapshots(m, s.children, status, active, at(field, "children"));
}

/**
 * A legal configuration: known proper states (no history pseudo-states, not the machine
 * itself), each once, whose parents are active, with exactly one active child per active
 * compound state and every region of an active parallel state. Returns the active flags by
 * state index.
 */
function checkConfiguration(
  m: CompiledMachine,
  configuration: unknown,
  status: string,
  field: string,
): Uint8Array {
  checkArray(configuration, field);
  const active = new Uint8Array(m.states.length);
  /** Where each active state is listed, by state index. */
  const where = new Map<number, number>();
  for (let i = 0; i < configuration.length; i++) {
    const id = configuration[i];
    checkString(id, at(field, i));
    const node = m.byId.get(id);
    if (node === undefined || node === m.root) {
      fail(at(field, i), `unknown state ${show(id)} of machine "${m.id}"`);
    }
    if (node.kind === "history") {
      fail(at(field, i), `${show(id)} is a history pseudo-state, which is never active`);
    }
    const first = where.get(node.index);
    if (first !== undefined) {
      const as = configuration[first] === id ? "" : ` (as ${show(configuration[first])})`;
      fail(at(field, i), `${show(id)} is listed twice${as}: first at [${first}]`);
    }
    where.set(node.index, i);
    active[node.index] = 1;
  }
  if (configuration.length === 0) {
    if (status === "active" && m.root.children.length > 0) {
      fail(field, `illegal configuration: no active state, but the status is "active"`);
    }
    return active;
  }
  const place = (s: StateNode) => `${show(s.id)} at [${where.get(s.index)}]`;
  const checkChildren = (s: StateNode) => {
    const name = s === m.root ? `the machine "${m.id}"` : show(s.id);
    if (s.kind === "compound") {
      const on = s.children.filter((c) => active[c.index] === 1);
      if (on.length !== 1) {
        fail(
          field,
          `illegal configuration: ${name} has ${on.length} active children` +
            (on.length === 0 ? "" : ` (${on.map(place).join(", ")})`) + `, needs exactly 1`,
        );
      }
    } else if (s.kind === "parallel") {
      for (const c of s.children) {
        if (active[c.index] !== 1) {
          fail(
            field,
            `illegal configuration: region ${show(c.id)} of parallel ${name} is not active`,
          );
        }
      }
    }
  };
  checkChildren(m.root);
  // Document order: a parent is checked before its children.
  for (const [index, i] of [...where].sort((a, b) => a[0] - b[0])) {
    const s = m.states[index];
    if (s.parent !== m.root && active[s.parent!.index] !== 1) {
      fail(at(field, i), `${show(s.id)} is active but its parent ${show(s.parent!.id)} is not`);
    }
    checkChildren(s);
  }
  return active;
}

/**
 * Recorded history: keys are history states; a shallow one records children of its parent, a
 * deep one atomic descendants; either way, entered again they make a legal configuration of
 * the parent (one child of a compound, every region of a parallel), each state once.
 */
function checkHistory(m: CompiledMachine, history: unknown, field: string): void {
  checkObject(history, field);
  for (const hid of Object.keys(history)) {
    const f = at(field, hid);
    const h = m.byId.get(hid);
    if (h === undefined || h.kind !== "history") {
      fail(f, `${show(hid)} is not a history state of machine "${m.id}"`);
    }
    const parent = h.parent!;
    const ids = history[hid];
    checkArray(ids, f);
    /** States entered by restoring this history: recorded ones and their ancestors. */
    const entered = new Map<StateNode, number>();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      checkString(id, at(f, i));
      const s = m.byId.get(id);
      if (s === undefined || s === m.root) {
        fail(at(f, i), `unknown state ${show(id)} of machine "${m.id}"`);
      }
      const inside = h.deep
        ? s.children.length === 0 && s.kind !== "history" && parent.index < s.index &&
          s.index <= parent.end
        : s.parent === parent && s.kind !== "history";
      if (!inside) {
        fail(
          at(f, i),
          `${h.deep ? "deep" : "shallow"} history ${show(hid)} holds ${show(id)}, which is not ` +
            `${h.deep ? "an atomic state inside" : "a child state of"} ${show(parent.id)}`,
        );
      }
      if (entered.get(s) === 1) fail(at(f, i), `${show(id)} is listed twice`);
      entered.set(s, 1);
      for (let a = s.parent!; a !== parent && !entered.has(a); a = a.parent!) entered.set(a, 2);
    }
    const problem = (s: StateNode): string | null => {
      if (s.kind === "compound") {
        const n = s.children.filter((c) => entered.has(c)).length;
        return n === 1 ? null : `${show(s.id || m.id)} would have ${n} active children`;
      }
      if (s.kind === "parallel") {
        const missing = s.children.find((c) => !entered.has(c));
        return missing === undefined
          ? null
          : `region ${show(missing.id)} of parallel ${show(s.id || m.id)} would not be active`;
      }
      return null;
    };
    for (const s of [parent, ...[...entered].filter(([, k]) => k === 2).map(([s]) => s)]) {
      const why = problem(s);
      if (why !== null) fail(f, `restoring history ${show(hid)} enters no legal state: ${why}`);
    }
  }
}

function checkTimer(t: unknown, field: string): void {
  checkObject(t, field);
  checkString(t.sendId, at(field, "sendId"));
  checkEvent(t.event, at(field, "event"));
  checkTime(t.due, at(field, "due"));
  if (t.to !== undefined) checkString(t.to, at(field, "to"));
}

function checkEvent(e: unknown, field: string): void {
  checkObject(e, field);
  if (typeof e.type !== "string" || e.type === "") {
    fail(at(field, "type"), `an event's type must be a non-empty string, not ${show(e.type)}`);
  }
  checkData(e, field, true);
}

/** `when` memory: ids of `when` transitions of active states, each once. */
function checkWhen(m: CompiledMachine, when: unknown, active: Uint8Array, field: string): void {
  checkArray(when, field);
  if (when.length === 0) return;
  const byId = new Map(m.transitions.filter((t) => t.when).map((t) => [t.id, t]));
  const seen = new Set<string>();
  for (let i = 0; i < when.length; i++) {
    const id = when[i];
    checkString(id, at(field, i));
    const t = byId.get(id);
    if (t === undefined) fail(at(field, i), `no \`when\` transition has the id ${show(id)}`);
    if (t.source !== m.root && active[t.source.index] !== 1) {
      fail(at(field, i), `the state of \`when\` transition ${show(id)} is not active`);
    }
    if (seen.has(id)) fail(at(field, i), `${show(id)} is listed twice`);
    seen.add(id);
  }
}

/** Child snapshots: by invoke id, only for machine invocations of active states. */
function childSnapshots(
  m: CompiledMachine,
  children: unknown,
  status: string,
  active: Uint8Array,
  field: string,
): { src: unknown; snap: unknown; field: string }[] {
  checkObject(children, field);
  const out: { src: unknown; snap: unknown; field: string }[] = [];
  const keys = Object.keys(children);
  if (keys.length === 0) return out;
  if (status !== "active") fail(field, `an instance that is ${status} has no running children`);
  const invokes = new Map<string, { src: unknown; state: StateNode }>();
  for (const s of [m.root, ...m.states]) {
    if (s !== m.root && active[s.index] !== 1) continue;
    for (const inv of s.invokes) if (inv.isMachine) invokes.set(inv.id, { src: inv.src, state: s });
  }
  for (const key of keys) {
    const inv = invokes.get(key);
    if (inv === undefined) {
      fail(at(field, key), `no active state invokes a machine with the id ${show(key)}`);
    }
    out.push({ src: inv.src, snap: children[key], field: at(field, key) });
  }
  return out;
}

/**
 * Plain JSON data: null, booleans, finite numbers, strings, arrays and plain objects, as a tree
 * (no value reached twice) at most `MAX_DATA_DEPTH` deep. Walked with an explicit stack.
 */
function checkData(value: unknown, field: string, mustBeObject: boolean): void {
  if (mustBeObject) checkObject(value, field);
  const seen = new Set<object>();
  const stack: { v: unknown; field: string; depth: number }[] = [{ v: value, field, depth: 0 }];
  while (stack.length > 0) {
    const { v, field: f, depth } = stack.pop()!;
    if (v === null || typeof v === "string" || typeof v === "boolean") continue;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) fail(f, `${v} is not JSON data`);
      continue;
    }
    if (typeof v !== "object") fail(f, `${show(v)} is not JSON data`);
    if (depth >= MAX_DATA_DEPTH) fail(f, `data nests more than ${MAX_DATA_DEPTH} levels deep`);
    if (seen.has(v)) fail(f, `a value reached twice (a cycle or a shared object) is not JSON data`);
    seen.add(v);
    if (Array.isArray(v)) {
      if (Object.getPrototypeOf(v) !== Array.prototype) fail(f, `not a plain array`);
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) fail(at(f, i), `a hole in an array is not JSON data`);
        stack.push({ v: v[i], field: at(f, i), depth: depth + 1 });
      }
      continue;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto?.constructor as { name?: unknown } | undefined)?.name;
      fail(
        f,
        `${
          typeof name === "string" ? `a ${name}` : "an object with a prototype"
        } is not plain data`,
      );
    }
    for (const key of Object.keys(v)) {
      const item = (v as Record<string, unknown>)[key];
      if (item === undefined) continue; // JSON leaves it out
      stack.push({ v: item, field: at(f, key), depth: depth + 1 });
    }
  }
}
