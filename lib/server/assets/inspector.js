// The Statecraft inspector page: plain browser code, no framework, no build step.
// It reads the HTTP API of the runtime that serves it (relative URLs, so it works behind a
// path prefix too), lays charts out with elkjs (the global `ELK`, served from the runtime)
// and draws them as SVG. The Schedules view is schedules.js, which imports `$`, `el` and `api`
// from here (this module imports nothing from it: no cycle).

const SVG = "http://www.w3.org/2000/svg";

/** Everything the page knows. */
const view = {
  /** @type {Map<string, any>} instance id -> list item */
  instances: new Map(),
  /** @type {string | null} */
  selected: null,
  /** @type {any} the selected instance (GET /instances/:id) */
  detail: null,
  /** @type {any[]} its journal */
  journal: [],
  /** @type {Map<string, Promise<any>>} machine id -> its chart (GET /machines/:id/chart) */
  chartJson: new Map(),
  /** @type {Map<string, Promise<any>>} machine id -> laid out chart */
  charts: new Map(),
  /** @type {any[]} the events the selected instance's machine knows (the chart's `events`) */
  known: [],
  /** @type {string | null} the event whose form is open */
  composing: null,
  /** @type {string | null} the machine whose chart is drawn */
  drawn: null,
  /**
   * Draw the chart at its own size rather than fitted to the width (fitted, it never shrinks
   * below the scale that keeps edge labels readable, MIN_SCALE: it scrolls instead).
   */
  actualSize: false,
};

export const $ = (sel) => document.querySelector(sel);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

/** The bearer token the API asked for (mutating routes beyond loopback), kept per tab. */
let token = sessionStorage.getItem("statecraft-token");

export async function api(path, init) {
  const headers = {};
  if (init?.body) headers["content-type"] = "application/json";
  if (token && init?.method && init.method !== "GET") headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { ...init, headers });
  const text = await res.text();
  let body;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = { error: text };
  }
  if (res.status === 401 && init?.method && init.method !== "GET" && !init.retried) {
    const given = prompt("This server needs its bearer token for changes:");
    if (given) {
      token = given.trim();
      sessionStorage.setItem("statecraft-token", token);
      return api(path, { ...init, retried: true });
    }
  }
  if (!res.ok) {
    const msg = body?.message ?? body?.error?.message ?? body?.error ?? res.statusText;
    const error = new Error(`${init?.method ?? "GET"} ${path}: ${res.status} ${msg}`);
    // The API's error body: `field` names what was wrong (a payload field for an event).
    Object.assign(error, { status: res.status, body });
    throw error;
  }
  return body;
}

function say(text, error = false) {
  const m = $("#message");
  m.textContent = text;
  m.className = error ? "error" : "";
}

/** The deepest states of a configuration (what a person calls "the state"). */
function leaves(configuration) {
  return configuration.filter((id) => !configuration.some((o) => o.startsWith(`${id}.`)))
    .map(breakable);
}

/** A state id that may wrap after its dots (a zero-width space after each). */
function breakable(id) {
  return id.replace(/\./g, ".\u200b");
}

// ---------------------------------------------------------------------------------------------
// Instances

async function loadInstances() {
  const items = [];
  let cursor;
  for (let page = 0; page < 20; page++) {
    const q = new URLSearchParams({ limit: "200" });
    if (cursor) q.set("cursor", cursor);
    for (const [k, v] of searchParams()) q.append(k, v);
    const body = await api(`instances?${q}`);
    items.push(...(body.items ?? []));
    cursor = body.cursor;
    if (!cursor) break;
  }
  view.instances = new Map(items.map((i) => [i.id, i]));
  renderInstances();
}

/**
 * The filter box as a server-side search when it holds clauses (`machine=order customer=acme
 * total>=100 tag=vip`, space-separated): `machine=` and `state=` filter, the rest go as `where`.
 */
function searchParams() {
  const words = $("#filter").value.trim().split(/\s+/).filter((w) => /[=<>]/.test(w));
  return words.map((w) => {
    const m = /^(machine|state|status|sort)=(.+)$/.exec(w);
    return m ? [m[1], m[2]] : ["where", w];
  });
}

function renderInstances() {
  const filter = /[=<>]/.test($("#filter").value) ? "" : $("#filter").value.trim().toLowerCase();
  const list = $("#instances");
  list.replaceChildren();
  // `sort=total:desc` in the box: the server's order; otherwise by machine, then id.
  const sorted = searchParams().some(([k]) => k === "sort");
  const items = [...view.instances.values()].sort((a, b) =>
    sorted
      ? 0
      : a.machine === b.machine
      ? a.id.localeCompare(b.id)
      : a.machine.localeCompare(b.machine)
  );
  for (const i of items) {
    if (filter && !`${i.id} ${i.machine}`.toLowerCase().includes(filter)) continue;
    const button = el(
      "button",
      {
        class: i.id === view.selected ? "selected" : "",
        "data-instance": i.id,
        onclick: () => choose(i.id),
      },
      el("span", { class: "id" }, i.id),
      " ",
      el("span", { class: `status ${i.status}` }, i.status),
      el("span", { class: "sub" }, `${i.machine} · ${leaves(i.configuration ?? []).join(", ")}`),
    );
    list.append(el("li", {}, button));
  }
  $("#instances-empty").hidden = view.instances.size > 0;
}

/** The instance a click chose: a new history entry, so Back returns to the one before. */
function choose(id) {
  if (location.hash !== hashOf(id)) history.pushState(null, "", hashOf(id));
  select(id).catch((e) => say(e.message, true));
}

/** `#<id>`: the selected instance in the URL. */
function hashOf(id) {
  return `#${encodeURIComponent(id)}`;
}

/** The instance the URL names (Back, Forward, an edited address), selected. */
function followHash() {
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (wanted === "" || wanted === view.selected) return;
  select(wanted).catch((e) => say(e.message, true));
}

async function select(id) {
  if (view.selected !== id) {
    say("");
    closeCompose();
  }
  view.selected = id;
  if (location.hash !== hashOf(id)) history.replaceState(null, "", hashOf(id));
  renderInstances();
  await refreshSelected();
}

/** Reads the selected instance and its journal again, and redraws. */
async function refreshSelected() {
  const id = view.selected;
  if (id === null) return;
  const path = `instances/${encodeURIComponent(id)}`;
  const detail = await api(path);
  // The journal's last 200 entries, and the events accepted now (when the instance's own
  // answer does not carry them).
  const from = Math.max(0, (detail.seq ?? 0) - 199);
  const [hist, accepted] = await Promise.all([
    api(`${path}/history?from=${from}&limit=200`),
    detail.acceptedEvents !== undefined || detail.status !== "active"
      ? null
      : api(`${path}/accepted`).catch(() => null),
  ]);
  if (accepted !== null) detail.acceptedEvents = accepted.events ?? accepted.acceptedEvents ?? [];
  // The events the machine knows (and their payload schemas) come with its chart.
  const chart = await chartJson(detail.machine).catch(() => null);
  if (view.selected !== id) return;
  view.known = chart?.events ?? [];
  view.detail = detail;
  view.journal = hist.entries ?? hist.items ?? [];
  const item = view.instances.get(id);
  view.instances.set(id, { ...item, ...detail });
  renderInstances();
  renderPanel();
  await drawChart(detail.machine);
  highlight();
}

let refreshing = null;
let refreshAgain = false;
/** Coalesces refreshes: at most one in flight, one more queued. */
function scheduleRefresh() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = refreshSelected().catch((e) => say(e.message, true)).finally(() => {
    refreshing = null;
    if (refreshAgain) {
      refreshAgain = false;
      scheduleRefresh();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The panel

function renderPanel() {
  const d = view.detail;
  $("#panel").hidden = false;
  $("#instance-title").textContent = d.id;
  // In cluster mode the server adds the instance's partition and the node that owns it.
  const owner = d.partition === undefined
    ? ""
    : ` · partition ${d.partition} on ${d.owner ?? "no node (being taken over)"}`;
  $("#instance-meta").textContent = `${d.machine} · ${d.status} · seq ${d.seq} · ${
    leaves(d.configuration).join(", ")
  }${owner}`;
  renderEvents(d);
  renderOperator(d);
  $("#context").textContent = JSON.stringify(d.context, null, 2);
  renderFailedEffects(d);
  const body = $("#journal tbody");
  body.replaceChildren();
  for (const e of [...view.journal].reverse()) {
    const rollback = e.seq === d.seq ? "" : el("button", {
      class: "rollback",
      "data-seq": e.seq,
      title: `roll back to the state after entry ${e.seq}`,
      onclick: () => rollbackTo(e.seq),
    }, "rollback");
    const event = e.event?.type ??
      (e.kind === "rollback" && e.to !== undefined ? `to ${e.to}` : "");
    const current = e.seq === d.seq ? " current" : "";
    body.append(
      el(
        "tr",
        { class: `entry${current}`, "data-seq": e.seq },
        el("td", {}, String(e.seq)),
        el("td", { class: "time" }, new Date(e.time).toLocaleTimeString([], { hour12: false })),
        el("td", {}, e.kind),
        el("td", {}, event),
        el("td", {}, e.by ?? ""),
        el("td", {}, rollback),
      ),
      el(
        "tr",
        { class: `states${current}` },
        el("td", {}, ""),
        el("td", { colspan: "5" }, "→ ", leaves(e.configuration ?? []).join(", ")),
      ),
    );
  }
}

/** Whether an event is sent with fields beside its type: the machine checks its payload. */
function needsPayload(event) {
  return event.checked === true;
}

/**
 * The buttons of every event the machine knows. Those accepted now without a payload send on
 * a click; the others (guards that read the payload, schemas, events not accepted in this
 * state) open the form.
 */
function renderEvents(d) {
  const events = $("#events");
  events.replaceChildren();
  if (d.status !== "active") {
    events.append(el("span", { class: "muted" }, `The instance is ${d.status}.`));
    return;
  }
  const accepted = new Set(d.acceptedEvents ?? []);
  const known = new Map(view.known.map((e) => [e.type, e]));
  // Events the engine normally raises itself (done.state.*, error.*) come last, muted.
  const internal = (e) => e.internal === true || /^(done|error)\./.test(e.type);
  for (const type of accepted) if (!known.has(type)) known.set(type, { type });
  const rank = (e) => internal(e) ? 2 : accepted.has(e.type) ? 0 : 1;
  const list = [...known.values()].sort((a, b) => rank(a) - rank(b));
  for (const e of list) {
    const classes = ["event"];
    const notes = [];
    if (accepted.has(e.type)) classes.push("accepted");
    else notes.push("not accepted now without a payload");
    if (needsPayload(e)) {
      classes.push("payload");
      notes.push("has a payload");
    }
    if (internal(e)) {
      classes.push("internal");
      notes.push("an event the engine normally raises itself");
    }
    const attrs = {
      class: classes.join(" "),
      "data-event": e.type,
      onclick: () => chooseEvent(e.type),
    };
    if (notes.length > 0) attrs.title = notes.join("; ");
    events.append(el("button", attrs, e.type));
  }
  if (accepted.size === 0) {
    events.append(el("span", { class: "muted" }, "No event is accepted now without a payload."));
  }
}

/** An event button or an enabled edge label, clicked: send it, or open its form. */
function chooseEvent(type) {
  const event = view.known.find((e) => e.type === type) ?? { type };
  const accepted = (view.detail?.acceptedEvents ?? []).includes(type);
  if (accepted && !needsPayload(event)) sendEvent(type, {});
  else openCompose(event);
}

/** Sends an event; true once it is committed. Errors go to the message line. */
async function sendEvent(type, payload) {
  const id = view.selected;
  let ok = false;
  try {
    const r = await api(`instances/${encodeURIComponent(id)}/events`, {
      method: "POST",
      body: JSON.stringify({ ...payload, type }),
    });
    say(`${type} → ${leaves(r.configuration ?? []).join(", ")} (seq ${r.seq})`);
    ok = true;
  } catch (e) {
    say(e.message, true);
    markInvalid(e.body?.field, e.body?.message ?? e.message);
  }
  scheduleRefresh();
  return ok;
}

// ---------------------------------------------------------------------------------------------
// The event form: fields from the payload's JSON Schema, or the payload as JSON

/** Opens the form of an event. */
function openCompose(event) {
  view.composing = event.type;
  $("#compose-type").textContent = event.type;
  const schema = event.payload;
  const props = schema?.type === "object" && schema.properties ? schema.properties : null;
  const fields = $("#compose-fields");
  fields.replaceChildren();
  if (props !== null) {
    const required = new Set(schema.required ?? []);
    for (const [name, prop] of Object.entries(props)) {
      fields.append(schemaField(name, prop, required.has(name)));
    }
    $("#compose-note").textContent = "its payload, as the machine's schema says";
  } else {
    fields.append(jsonField());
    $("#compose-note").textContent = needsPayload(event)
      ? "its payload (JSON): the machine checks it"
      : "an optional payload (JSON), sent beside its type";
  }
  $("#compose").hidden = false;
  $("#compose-send").textContent = `send ${event.type}`;
  fields.querySelector("input, select, textarea")?.focus();
}

function closeCompose() {
  view.composing = null;
  $("#compose").hidden = true;
  $("#compose-fields").replaceChildren();
}

/** One labelled input for a property of the payload's JSON Schema. */
function schemaField(name, prop, required) {
  const id = `field-${name}`;
  const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== "null") : prop.type;
  let input;
  if (Array.isArray(prop.enum)) {
    input = el("select", { "data-kind": "enum" });
    if (!required) input.append(el("option", { value: "" }, ""));
    for (const v of prop.enum) input.append(el("option", { value: JSON.stringify(v) }, String(v)));
  } else if (type === "boolean") {
    input = el("input", { type: "checkbox", "data-kind": "boolean" });
  } else if (type === "number" || type === "integer") {
    input = el("input", {
      type: "number",
      step: type === "integer" ? "1" : "any",
      "data-kind": "number",
    });
    if (prop.minimum !== undefined) input.min = String(prop.minimum);
    if (prop.maximum !== undefined) input.max = String(prop.maximum);
  } else if (type === "string") {
    input = el("input", { type: "text", "data-kind": "string", autocomplete: "off" });
    if (prop.pattern !== undefined) input.pattern = prop.pattern;
    if (prop.minLength !== undefined) input.minLength = prop.minLength;
    if (prop.maxLength !== undefined) input.maxLength = prop.maxLength;
    input.placeholder = prop.description ?? (prop.pattern ? `matches ${prop.pattern}` : "");
  } else {
    input = el("textarea", { rows: "2", spellcheck: "false", "data-kind": "json" });
    input.placeholder = "JSON";
  }
  Object.assign(input, { id, name });
  if (required) input.required = true;
  const hint = [type ?? "JSON", required ? "required" : "optional"].join(", ");
  return el(
    "div",
    { class: "field", "data-field": name },
    el("label", { for: id }, name, " ", el("span", { class: "muted" }, `(${hint})`)),
    input,
    el("small", { class: "field-error" }),
  );
}

/** The whole payload as JSON, for an event without a schema to build a form from. */
function jsonField() {
  const input = el("textarea", {
    id: "payload",
    rows: "3",
    spellcheck: "false",
    "data-kind": "payload",
    placeholder: '{ "code": "1234" }',
  });
  return el(
    "div",
    { class: "field", "data-field": "(body)" },
    el("label", { for: "payload" }, "payload ", el("span", { class: "muted" }, "(a JSON object)")),
    input,
    el("small", { class: "field-error" }),
  );
}

/** The payload the form says, or a field's problem. */
function readCompose() {
  const payload = {};
  for (const field of document.querySelectorAll("#compose-fields .field")) {
    const name = field.getAttribute("data-field");
    const input = field.querySelector("input, select, textarea");
    const kind = input.getAttribute("data-kind");
    const text = kind === "boolean" ? "" : input.value.trim();
    if (kind === "boolean") payload[name] = input.checked;
    else if (text === "") continue; // absent: the server says whether it may be
    else if (kind === "number") payload[name] = Number.isNaN(Number(text)) ? text : Number(text);
    else if (kind === "enum") payload[name] = JSON.parse(text);
    else if (kind === "string") payload[name] = input.value;
    else {
      let value;
      try {
        value = JSON.parse(text);
      } catch (e) {
        return { problem: { field: name, message: `not JSON: ${e.message}` } };
      }
      if (kind === "json") payload[name] = value;
      else if (value === null || typeof value !== "object" || Array.isArray(value)) {
        return { problem: { field: name, message: "the payload is a JSON object: { ... }" } };
      } else Object.assign(payload, value);
    }
  }
  return { payload };
}

/** Shows a problem beside the field it names (its first segment: `items` of `items.0`). */
function markInvalid(field, message) {
  for (const f of document.querySelectorAll("#compose-fields .field")) {
    f.classList.remove("invalid");
    f.querySelector(".field-error").textContent = "";
  }
  if (field === undefined || $("#compose").hidden) return;
  const fields = [...document.querySelectorAll("#compose-fields .field")];
  const target = fields.find((f) => f.getAttribute("data-field") === field) ??
    fields.find((f) => f.getAttribute("data-field") === String(field).split(".")[0]) ??
    fields.find((f) => f.getAttribute("data-field") === "(body)");
  if (target === undefined) return;
  target.classList.add("invalid");
  target.querySelector(".field-error").textContent = message;
}

async function submitCompose(e) {
  e.preventDefault();
  const type = view.composing;
  if (type === null) return;
  const { payload, problem } = readCompose();
  if (problem !== undefined) {
    say(`${type}: ${problem.field}: ${problem.message}`, true);
    markInvalid(problem.field, problem.message);
    return;
  }
  markInvalid(undefined);
  if (await sendEvent(type, payload)) closeCompose();
}

async function rollbackTo(seq) {
  try {
    await api(`instances/${encodeURIComponent(view.selected)}/rollback`, {
      method: "POST",
      body: JSON.stringify({ seq }),
    });
    say(`rolled back to entry ${seq}`);
  } catch (e) {
    say(e.message, true);
  }
  scheduleRefresh();
}

// ---------------------------------------------------------------------------------------------
// Operator actions: cancel, fork, redrive (POST /instances/:id/cancel|fork|redrive)

/** Journal kinds that replace the whole state: a redrive looks for failures after them. */
const REPLACING = new Set(["create", "fork", "rollback", "migration", "recovery", "redrive"]);

/**
 * The failed invocation a redrive would retry, as far as the journal the page holds shows it
 * (the server decides: its refusal goes to the message line).
 */
function failedInvocation(journal) {
  for (let i = journal.length - 1; i >= 0; i--) {
    const e = journal[i];
    if (REPLACING.has(e.kind) && e.effects === undefined) return undefined; // not an effect redrive
    if (e.kind === "invoke" && e.event?.type?.startsWith("error.")) return e;
  }
  return undefined;
}

function renderOperator(d) {
  const cancelled = d.status === "cancelled";
  $("#op-cancel").disabled = cancelled;
  $("#op-cancel").title = cancelled
    ? `cancelled by ${d.cancelled?.by ?? "?"}: ${d.cancelled?.reason ?? ""}`
    : "stop the instance for good (asks for a reason)";
  const failed = cancelled ? undefined : failedInvocation(view.journal);
  const effects = cancelled ? [] : d.failedEffects ?? [];
  $("#op-redrive").disabled = failed === undefined && effects.length === 0;
  $("#op-redrive").title = effects.length > 0
    ? `run the ${effects.length === 1 ? "failed effect" : `${effects.length} failed effects`} ` +
      "again (listed under Failed effects, where each row's redrive runs one)"
    : failed !== undefined
    ? `retry the invocation that failed at entry ${failed.seq} (${failed.event.type})`
    : cancelled
    ? "a cancelled instance is not redriven: fork it or roll it back"
    : "no failed invocation to retry";
}

/** Runs one operator action on the selected instance; errors go to the message line. */
async function operate(action, body, done) {
  const id = view.selected;
  try {
    const info = await api(`instances/${encodeURIComponent(id)}/${action}`, {
      method: "POST",
      body: JSON.stringify(body),
    });
    // A redrive whose effect failed again answers 200: its outcome is still an error to see.
    say(done(info), info?.redriven?.some((r) => r.outcome === "failed") ?? false);
    return info;
  } catch (e) {
    say(e.message, true);
    return null;
  } finally {
    scheduleRefresh();
  }
}

async function cancelSelected() {
  const reason = prompt(`Cancel ${view.selected} for good. Why?`);
  if (reason === null) return;
  if (reason.trim() === "") {
    say("cancel: a reason is required", true);
    return;
  }
  await operate("cancel", { reason }, () => `cancelled ${view.selected}`);
}

async function forkSelected() {
  const source = view.selected;
  const newId = prompt(`Fork ${source} as (the new instance's id):`, `${source}-fork`);
  if (newId === null) return;
  const at = prompt(
    `Fork ${source} from its state after journal entry (empty: the latest, ${view.detail.seq}):`,
    "",
  );
  if (at === null) return;
  const body = { id: newId.trim() };
  if (at.trim() !== "") {
    const seq = Number(at.trim());
    if (!Number.isInteger(seq) || seq < 0) {
      say(`fork: "${at}" is not a journal seq (a whole number from 0)`, true);
      return;
    }
    body.seq = seq;
  }
  const info = await operate("fork", body, (i) => `forked ${source} as ${i.id}`);
  if (info !== null) {
    await loadInstances().catch((e) => say(e.message, true));
    choose(info.id);
    say(`forked ${source} as ${info.id}`);
  }
}

async function redriveSelected() {
  await operate(
    "redrive",
    {},
    (i) =>
      i.redriven === undefined
        ? `redriven ${i.id}: the failed invocation runs again`
        : redrivenText(i),
  );
}

/** What a redrive of effects did, for the message line: `<effect id> <outcome>` each. */
function redrivenText(info) {
  const outcomes = info.redriven.map((r) =>
    `${r.effectId} ${r.outcome}${r.error === undefined ? "" : ` (${shorten(r.error)})`}`
  );
  return `redriven ${info.id}: ${outcomes.join(", ")}`;
}

/** Runs one failed effect again (`{ effect }`): a delivered one leaves the list. */
async function redriveEffect(effectId, button) {
  button.disabled = true;
  await operate("redrive", { effect: effectId }, redrivenText);
}

/** A long text cut to `max` characters, whitespace runs as one space (the rest in a title). */
function shorten(text, max = 90) {
  const flat = String(text).replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/**
 * The instance's failed effects (`failedEffects` of GET /instances/:id): sends whose delivery
 * failed, waiting in the outbox. Two rows each, as in the journal: the effect, then the event
 * sent, where to, and the last error (cut short, the whole of it in a tooltip). Hidden when
 * there are none.
 */
function renderFailedEffects(d) {
  const effects = d.failedEffects ?? [];
  const cancelled = d.status === "cancelled";
  $("#failed").hidden = effects.length === 0;
  const body = $("#failed-effects tbody");
  body.replaceChildren();
  for (const f of effects) {
    const at = f.at === undefined ? null : new Date(f.at);
    const redrive = el("button", {
      class: "redrive",
      "data-effect": f.effectId,
      title: cancelled
        ? "a cancelled instance is not redriven: fork it or roll it back"
        : `run ${f.effectId} again now (${f.event} to ${f.target})`,
      onclick: () => redriveEffect(f.effectId, redrive),
    }, "redrive");
    redrive.disabled = cancelled;
    body.append(
      el(
        "tr",
        { class: "effect", "data-effect": f.effectId },
        el("td", { class: "id" }, f.effectId),
        el("td", { class: "attempts" }, String(f.attempts ?? "")),
        el(
          "td",
          { class: "time", title: at === null ? "" : at.toLocaleString([], { hour12: false }) },
          at === null ? "" : at.toLocaleTimeString([], { hour12: false }),
        ),
        el("td", {}, redrive),
      ),
      el(
        "tr",
        { class: "effect-detail", "data-effect": f.effectId },
        el(
          "td",
          { colspan: "4" },
          el(
            "div",
            { class: "sent" },
            el("span", { class: "event" }, f.event ?? ""),
            " → ",
            el("span", { class: "target" }, f.target ?? ""),
          ),
          el("div", { class: "error", title: f.error ?? "" }, "✕ ", shorten(f.error ?? "")),
        ),
      ),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The chart: elkjs lays it out, we draw SVG

const FAMILY = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const FONT = `13px ${FAMILY}`;
/** Edge labels' size in the chart (inspector.css says the same). */
const LABEL_PX = 12;
const LABEL_FONT = `${LABEL_PX}px ${FAMILY}`;
/** Fitted to the width, the chart shrinks no further than edge labels of 11 px on screen. */
const MIN_SCALE = 11 / LABEL_PX;
const measureCtx = document.createElement("canvas").getContext("2d");
function textWidth(text, font) {
  measureCtx.font = font;
  return Math.ceil(measureCtx.measureText(text).width);
}

/** A machine's chart as the server sends it (states, transitions, the events it knows). */
function chartJson(machine) {
  let p = view.chartJson.get(machine);
  if (!p) {
    p = api(`machines/${encodeURIComponent(machine)}/chart`);
    p.catch(() => view.chartJson.delete(machine));
    view.chartJson.set(machine, p);
  }
  return p;
}

/** A machine's chart, laid out. */
function chartFor(machine) {
  let p = view.charts.get(machine);
  if (!p) {
    p = chartJson(machine).then(layout);
    p.catch(() => view.charts.delete(machine));
    view.charts.set(machine, p);
  }
  return p;
}

/** Builds the ELK graph of a chart, runs the layout, returns { chart, graph, meta }. */
async function layout(chart) {
  /** state id -> { elk node, state, parent state id } */
  const meta = new Map();
  let n = 0;
  const nodeOf = (s, parent, parentKind) => {
    const id = `n${n++}`;
    const info = { id, state: s, parent, region: parentKind === "parallel" };
    meta.set(s.id, info);
    const label = s.key;
    /** @type {any} */
    const node = { id };
    if (s.kind === "history") {
      Object.assign(node, { width: 30, height: 30 });
    } else if (s.choice) {
      Object.assign(node, { width: 34, height: 34 });
    } else if (s.children.filter((c) => c.kind !== "history").length === 0) {
      Object.assign(node, {
        width: Math.max(72, textWidth(label, FONT) + 28),
        height: 38,
      });
    } else {
      const kids = [];
      if (s.kind === "compound" && (s.initial ?? []).length > 0) {
        kids.push({ id: `${id}_init`, width: 10, height: 10 });
      }
      for (const c of s.children) kids.push(nodeOf(c, s.id, s.kind));
      const titleWidth = textWidth(label, FONT) + (s.kind === "parallel" ? 70 : 24);
      Object.assign(node, {
        children: kids,
        layoutOptions: {
          "elk.padding": "[top=34,left=14,bottom=14,right=14]",
          "elk.nodeSize.constraints": "MINIMUM_SIZE",
          "elk.nodeSize.minimum": `(${titleWidth}, 60)`,
        },
      });
    }
    info.node = node;
    return node;
  };

  const rootChildren = [];
  // Transitions of the machine itself (`on` at the top: from or to the machine's id): the
  // machine is drawn as one box around its states, as `statecraft diagram` does.
  const self = chart.id;
  const wrapped = chart.transitions.some((t) => t.from === self || t.to === self);
  const top = wrapped
    ? [{ id: self, key: self, kind: chart.kind, initial: chart.initial, children: chart.states }]
    : chart.states;
  const topInitial = wrapped ? [self] : chart.kind === "compound" ? chart.initial : [];
  if (topInitial.length > 0) rootChildren.push({ id: "root_init", width: 10, height: 10 });
  for (const s of top) rootChildren.push(nodeOf(s, null, wrapped ? "compound" : chart.kind));

  // Every edge goes in the container ELK would choose for it, so that its coordinates are
  // relative to a node we know: the lowest common ancestor of its ends (a node containing
  // the other end counts as the container).
  const ancestors = (stateId) => {
    const out = [];
    for (let s = stateId; s !== null; s = meta.get(s).parent) out.push(s);
    return out;
  };
  const containerOf = (from, to) => {
    const up = ancestors(from);
    const upTo = ancestors(to);
    if (from !== to) {
      if (upTo.includes(from)) return from;
      if (up.includes(to)) return to;
    }
    for (const a of up.slice(1)) if (upTo.includes(a)) return a;
    return null;
  };
  const edgesIn = new Map(); // container state id (null = root) -> elk edges
  const addEdge = (container, edge) => {
    if (!edgesIn.has(container)) edgesIn.set(container, []);
    edgesIn.get(container).push(edge);
  };
  const edges = [];
  chart.transitions.forEach((t, i) => {
    if (!meta.has(t.from) || !meta.has(t.to)) return;
    const text = t.guard ? `${t.event} [${t.guard}]` : t.event;
    const edge = {
      id: `e${i}`,
      sources: [meta.get(t.from).id],
      targets: [meta.get(t.to).id],
      labels: text === "" ? [] : [{
        id: `e${i}_l`,
        text,
        width: textWidth(text, LABEL_FONT) + 6,
        height: 15,
      }],
    };
    const container = containerOf(t.from, t.to);
    addEdge(container, edge);
    edges.push({ edge, transition: t, container });
  });
  // Initial arrows: from the dot of a compound state to its default children.
  const initialEdge = (dotId, container, target) => {
    if (!meta.has(target)) return;
    const edge = {
      id: `${dotId}_${meta.get(target).id}`,
      sources: [dotId],
      targets: [meta.get(target).id],
    };
    addEdge(container, edge);
    edges.push({ edge, transition: null, container });
  };
  for (const target of topInitial) initialEdge("root_init", null, target);
  for (const [stateId, info] of meta) {
    const s = info.state;
    if (s.kind !== "compound") continue;
    for (const target of s.initial ?? []) initialEdge(`${info.id}_init`, stateId, target);
  }
  for (const [container, list] of edgesIn) {
    if (container === null) continue;
    meta.get(container).node.edges = list;
  }

  const graph = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.hierarchyHandling": "INCLUDE_CHILDREN",
      "elk.edgeRouting": "ORTHOGONAL",
      "elk.padding": "[top=20,left=20,bottom=20,right=20]",
      "elk.spacing.nodeNode": "28",
      "elk.layered.spacing.nodeNodeBetweenLayers": "44",
      "elk.spacing.edgeLabel": "4",
      "elk.spacing.edgeNode": "14",
      "elk.edgeLabels.placement": "CENTER",
      "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
    },
    children: rootChildren,
    edges: edgesIn.get(null) ?? [],
  };
  // deno-lint-ignore no-undef
  const elk = new ELK();
  const laid = await elk.layout(graph);
  return { chart, graph: laid, meta, edges };
}

async function drawChart(machine) {
  if (view.drawn === machine && $("#chart svg")) return;
  $("#chart-title").textContent = `Laying out ${machine}…`;
  const { graph, meta, edges, chart } = await chartFor(machine);
  view.drawn = machine;

  // Absolute positions of every node (ELK gives them relative to their parent).
  const abs = new Map([["root", { x: 0, y: 0 }]]);
  const place = (node, ox, oy) => {
    for (const c of node.children ?? []) {
      const p = { x: ox + c.x, y: oy + c.y };
      abs.set(c.id, p);
      place(c, p.x, p.y);
    }
  };
  place(graph, 0, 0);
  const byElkId = new Map([...meta.values()].map((m) => [m.id, m]));

  const root = svg("svg", {
    width: Math.ceil(graph.width),
    height: Math.ceil(graph.height),
    viewBox: `0 0 ${Math.ceil(graph.width)} ${Math.ceil(graph.height)}`,
    "data-machine": machine,
    "data-width": Math.ceil(graph.width),
    "data-height": Math.ceil(graph.height),
  });
  const marker = (id, refX = 8) =>
    svg(
      "marker",
      { id, viewBox: "0 0 10 10", refX, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
      svg("path", { d: "M0,0 L10,5 L0,10 z" }),
    );
  root.append(svg("defs", {}, marker("arrow"), marker("arrow-enabled"), marker("arrow-initial")));

  const statesLayer = svg("g", { class: "states" });
  const drawNode = (node) => {
    const p = abs.get(node.id);
    if (node.id.endsWith("_init")) {
      statesLayer.append(svg("circle", {
        class: "initial-dot",
        cx: p.x + node.width / 2,
        cy: p.y + node.height / 2,
        r: 5,
      }));
      return;
    }
    const info = byElkId.get(node.id);
    const s = info.state;
    const compound = (node.children ?? []).length > 0;
    const classes = ["state", s.kind];
    if (info.region) classes.push("region");
    if (s.choice) classes.push("choice");
    const g = svg("g", { class: classes.join(" "), "data-state": s.id });
    const title = svg("title", {});
    title.textContent = `${s.id} (${s.choice ? "choice" : s.kind}${info.region ? " region" : ""})`;
    g.append(title);
    if (s.kind === "history") {
      g.append(svg("circle", {
        class: "history",
        cx: p.x + 15,
        cy: p.y + 15,
        r: 14,
      }));
      const t = svg("text", { x: p.x + 15, y: p.y + 16, "text-anchor": "middle" });
      t.textContent = s.deep ? "H*" : "H";
      g.append(t);
    } else if (s.choice) {
      const cx = p.x + node.width / 2, cy = p.y + node.height / 2, r = node.width / 2;
      g.append(svg("polygon", {
        points: `${cx},${cy - r} ${cx + r},${cy} ${cx},${cy + r} ${cx - r},${cy}`,
      }));
      const t = svg("text", { x: cx, y: p.y - 8, "text-anchor": "middle" });
      t.textContent = s.key;
      g.append(t);
    } else {
      g.append(svg("rect", {
        x: p.x,
        y: p.y,
        width: node.width,
        height: node.height,
        rx: compound ? 10 : 8,
      }));
      if (s.kind === "final") {
        g.append(svg("rect", {
          class: "inner",
          x: p.x + 4,
          y: p.y + 4,
          width: node.width - 8,
          height: node.height - 8,
          rx: 5,
        }));
      }
      const t = svg(
        "text",
        compound ? { x: p.x + 12, y: p.y + 17 } : {
          x: p.x + node.width / 2,
          y: p.y + node.height / 2 + 1,
          "text-anchor": "middle",
        },
      );
      t.textContent = s.key;
      g.append(t);
      if (s.kind === "parallel") {
        const k = svg("text", {
          class: "kind",
          x: p.x + node.width - 10,
          y: p.y + 17,
          "text-anchor": "end",
        });
        k.textContent = "parallel";
        g.append(k);
      }
    }
    statesLayer.append(g);
    for (const c of node.children ?? []) drawNode(c);
  };
  for (const c of graph.children ?? []) drawNode(c);
  root.append(statesLayer);

  const edgeLayer = svg("g", { class: "edges" });
  // The laid-out edges, by id, with the container they were given to.
  const laidEdges = new Map();
  const collect = (node) => {
    for (const e of node.edges ?? []) laidEdges.set(e.id, e);
    for (const c of node.children ?? []) collect(c);
  };
  collect(graph);
  for (const { edge, transition, container } of edges) {
    const laid = laidEdges.get(edge.id);
    if (!laid) continue;
    const origin = container === null ? { x: 0, y: 0 } : abs.get(meta.get(container).id);
    const classes = ["edge"];
    if (transition === null) classes.push("initial");
    else if (transition.kind === "history") classes.push("history");
    const g = svg("g", { class: classes.join(" ") });
    if (transition !== null) {
      g.setAttribute("data-from", transition.from);
      g.setAttribute("data-to", transition.to);
      g.setAttribute("data-event", transition.event);
    }
    for (const section of laid.sections ?? []) {
      const pts = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
      const d = pts.map((q, i) => `${i === 0 ? "M" : "L"}${origin.x + q.x},${origin.y + q.y}`)
        .join(" ");
      g.append(svg("path", {
        d,
        "marker-end": `url(#${transition === null ? "arrow-initial" : "arrow"})`,
      }));
    }
    for (const label of laid.labels ?? []) {
      const x = origin.x + label.x, y = origin.y + label.y;
      g.append(svg("rect", {
        class: "label-bg",
        x,
        y,
        width: label.width,
        height: label.height,
        rx: 3,
      }));
      const t = svg("text", { x: x + 3, y: y + label.height / 2 + 1 });
      t.textContent = label.text;
      g.append(t);
      if (transition !== null && transition.event !== "") {
        t.addEventListener("click", () => {
          if (g.classList.contains("enabled")) chooseEvent(transition.event.split(" ")[0]);
        });
      }
    }
    edgeLayer.append(g);
  }
  root.append(edgeLayer);
  $("#chart").replaceChildren(root);
  fitChart();
  $("#zoom").hidden = false;
  $("#legend").hidden = false;
  $("#chart-title").textContent = `${chart.id}${chart.kind === "parallel" ? " (parallel)" : ""}`;
}

/**
 * Sizes the chart: its own size, or fitted to the width of its box but never below MIN_SCALE
 * (a wider chart scrolls in its box) and never above its own size.
 */
function fitChart() {
  const root = $("#chart svg");
  if (!root) return;
  const width = Number(root.getAttribute("data-width"));
  const height = Number(root.getAttribute("data-height"));
  const room = $("#chart").clientWidth - 2; // the svg's border
  const scale = view.actualSize ? 1 : Math.min(1, Math.max(MIN_SCALE, room / width));
  root.setAttribute("width", String(Math.ceil(width * scale)));
  root.setAttribute("height", String(Math.ceil(height * scale)));
  root.setAttribute("data-scale", scale.toFixed(3));
}

/** Marks the active states and the transitions the instance can take now. */
function highlight() {
  const d = view.detail;
  if (!d || view.drawn !== d.machine) return;
  const active = new Set(d.configuration);
  const accepted = new Set(d.acceptedEvents ?? []);
  for (const g of document.querySelectorAll("#chart g.state")) {
    const id = g.getAttribute("data-state");
    // The machine itself (drawn when it has transitions of its own) is active while it runs.
    const self = id === d.machine && d.status === "active";
    g.classList.toggle("active", active.has(id) || self);
  }
  for (const g of document.querySelectorAll("#chart g.edge[data-from]")) {
    const events = (g.getAttribute("data-event") ?? "").split(" ");
    const from = g.getAttribute("data-from");
    const on = d.status === "active" && (active.has(from) || from === d.machine) &&
      events.some((e) => accepted.has(e));
    g.classList.toggle("enabled", on);
    for (const p of g.querySelectorAll("path")) {
      p.setAttribute("marker-end", `url(#${on ? "arrow-enabled" : "arrow"})`);
    }
  }
  $("#chart").setAttribute("data-configuration", d.configuration.join(" "));
  $("#chart").setAttribute("data-seq", String(d.seq));
}

// ---------------------------------------------------------------------------------------------
// Live updates

function connect() {
  const live = $("#live");
  const source = new EventSource("events");
  const onEvent = (msg) => {
    let ev;
    try {
      ev = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (ev?.type !== "machine.transition") return;
    const known = view.instances.get(ev.instance);
    view.instances.set(ev.instance, {
      ...(known ?? { id: ev.instance, machine: ev.machine }),
      configuration: ev.to,
      status: ev.status,
      seq: ev.seq,
    });
    renderInstances();
    if (ev.instance === view.selected) scheduleRefresh();
    else if (view.selected === null && location.hash === `#${encodeURIComponent(ev.instance)}`) {
      select(ev.instance);
    }
  };
  source.addEventListener("message", onEvent);
  source.addEventListener("machine.transition", onEvent);
  let lost = false;
  source.addEventListener("open", () => {
    live.textContent = "live";
    live.className = "live";
    // Transitions committed while the stream was down were not heard: read everything again.
    if (lost) {
      lost = false;
      loadInstances().then(() => scheduleRefresh()).catch((e) => say(e.message, true));
    }
  });
  source.addEventListener("error", () => {
    lost = true;
    live.textContent = "reconnecting…";
    live.className = "live off";
  });
}

async function main() {
  $("#filter").addEventListener("input", renderInstances);
  // Clauses search on the server: on Enter (an error names the bad clause).
  $("#filter").addEventListener("keydown", (e) => {
    if (e.key === "Enter") loadInstances().catch((err) => say(err.message, true));
  });
  $("#zoom").addEventListener("click", () => {
    view.actualSize = !view.actualSize;
    fitChart();
    $("#zoom").textContent = view.actualSize ? "fit to width" : "actual size";
  });
  new ResizeObserver(() => fitChart()).observe($("#chart"));
  $("#compose").addEventListener("submit", submitCompose);
  $("#compose-cancel").addEventListener("click", closeCompose);
  $("#op-cancel").addEventListener("click", cancelSelected);
  $("#op-fork").addEventListener("click", forkSelected);
  $("#op-redrive").addEventListener("click", redriveSelected);
  // Back and Forward (and an edited address) move between the instances the URL named.
  addEventListener("popstate", followHash);
  addEventListener("hashchange", followHash);
  connect();
  try {
    await loadInstances();
  } catch (e) {
    say(e.message, true);
  }
  const wanted = decodeURIComponent(location.hash.slice(1));
  const first = wanted !== "" ? wanted : [...view.instances.keys()].sort()[0];
  if (first) await select(first).catch((e) => say(e.message, true));
}

main();
