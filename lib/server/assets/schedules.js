// The Schedules view of the Statecraft inspector page: list, pause, resume, remove and add
// (GET|POST /schedules, POST /schedules/:name/pause|resume, DELETE /schedules/:name), live
// through `schedule.changed`. An ES module beside inspector.js, whose helpers it imports
// (`$`, `el`, and `api` with its bearer token); it wires itself up when loaded.

import { $, api, el } from "./inspector.js";

const schedules = {
  /** @type {any[]} the schedules as GET /schedules gives them */
  items: [],
  /** @type {EventSource | null} the stream of `schedule.changed` (opened with the view) */
  source: null,
  /** @type {Promise<void> | null} a load in flight; another change asks for one more */
  loading: null,
  again: false,
};

/** Shows the instances or the schedules. */
function showView(which) {
  const scheduling = which === "schedules";
  $("#layout").hidden = scheduling;
  $("#schedules-view").hidden = !scheduling;
  $("#view-instances").setAttribute("aria-pressed", String(!scheduling));
  $("#view-schedules").setAttribute("aria-pressed", String(scheduling));
  if (scheduling) {
    followSchedules();
    reloadSchedules();
    loadScheduleMachines();
  }
}

/** Reads the schedules again (at most one read in flight, one more queued). */
function reloadSchedules() {
  if (schedules.loading) {
    schedules.again = true;
    return schedules.loading;
  }
  schedules.loading = api("schedules").then((body) => {
    schedules.items = body.items ?? [];
    renderSchedules();
  }).catch((e) => sayScheduleError(e)).finally(() => {
    schedules.loading = null;
    if (schedules.again) {
      schedules.again = false;
      reloadSchedules();
    }
  });
  return schedules.loading;
}

/** Every change the server's scheduler sees (here, a tick, another node, the CLI) reloads. */
function followSchedules() {
  if (schedules.source !== null) return;
  const source = new EventSource("events?events=schedule.changed");
  let lost = false;
  source.addEventListener("schedule.changed", () => reloadSchedules());
  source.addEventListener("open", () => {
    if (lost) reloadSchedules();
    lost = false;
  });
  source.addEventListener("error", () => lost = true);
  schedules.source = source;
}

/** A time as the page shows ticks: UTC to the second. */
function tickTime(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** The same time in a schedule's own time zone (a cell's title). */
function zoneTime(ms, zone) {
  try {
    return `${new Date(ms).toLocaleString("sv-SE", { timeZone: zone ?? "UTC" })} ${zone ?? "UTC"}`;
  } catch {
    return "";
  }
}

function renderSchedules() {
  const body = $("#schedules tbody");
  body.replaceChildren();
  const items = [...schedules.items].sort((a, b) => a.name.localeCompare(b.name));
  for (const s of items) body.append(scheduleRow(s));
  $("#schedules-empty").hidden = items.length > 0;
  $("#schedules").hidden = items.length === 0;
  const paused = items.filter((s) => s.paused).length;
  $("#schedules-count").textContent = items.length === 0
    ? ""
    : `${items.length} schedule${items.length === 1 ? "" : "s"}${
      paused ? `, ${paused} paused` : ""
    }`;
}

function scheduleRow(s) {
  const spec = s.spec;
  const target = spec.create
    ? `create ${spec.create.machine}${spec.create.id ? ` as ${spec.create.id}` : ""}`
    : `send ${spec.send.event.type} → ${spec.send.instance}`;
  const payload = spec.create?.context ?? eventPayload(spec.send?.event);
  const next = s.paused ? "— (paused)" : s.next === null ? "never" : tickTime(s.next);
  const last = s.last;
  const lastCell = el("td", { class: `last ${last?.outcome ?? ""}` });
  if (last) {
    lastCell.append(
      el("span", { class: `outcome ${last.outcome}` }, last.outcome),
      ` ${tickTime(last.tick)}`,
    );
    if (last.instance) lastCell.append(el("span", { class: "sub" }, last.instance));
    if (last.error) lastCell.append(el("span", { class: "sub error" }, last.error));
  } else lastCell.append(el("span", { class: "muted" }, "none yet"));
  const toggle = el("button", {
    type: "button",
    class: s.paused ? "resume" : "pause",
    "data-action": s.paused ? "resume" : "pause",
    title: s.paused ? "fire again, from the first tick after now" : "fire nothing until resumed",
    onclick: () => changeSchedule(s.name, s.paused ? "resume" : "pause"),
  }, s.paused ? "resume" : "pause");
  const remove = el("button", {
    type: "button",
    class: "remove",
    "data-action": "remove",
    title: "remove the schedule (asks first)",
    onclick: () => removeSchedule(s),
  }, "remove");
  const source = el("span", {
    class: `source ${s.source}`,
    title: s.source === "config"
      ? "declared in statecraft.yaml"
      : `added at run time (${s.source})`,
  }, s.source);
  const targetCell = el("td", { class: "target" }, target);
  if (payload !== undefined) targetCell.title = JSON.stringify(payload);
  return el(
    "tr",
    { class: s.paused ? "paused" : "", "data-schedule": s.name },
    el("td", { class: "name" }, el("strong", {}, s.name), " ", source),
    el("td", { class: "cron" }, el("code", {}, spec.cron)),
    el("td", { class: "zone" }, spec.timezone ?? "UTC"),
    targetCell,
    el("td", {
      class: "next",
      title: s.paused || s.next === null ? "" : zoneTime(s.next, spec.timezone),
    }, next),
    lastCell,
    el(
      "td",
      { class: "state" },
      el(
        "span",
        { class: `state ${s.paused ? "paused" : "active"}` },
        s.paused ? "paused" : "active",
      ),
    ),
    el("td", { class: "policy" }, `overlap ${spec.overlap} · catch-up ${spec.catchUp}`),
    el("td", { class: "counts" }, `${s.fired} / ${s.skipped} / ${s.failed}`),
    el("td", { class: "actions" }, toggle, remove),
  );
}

/** A sent event's fields beside its type, or undefined. */
function eventPayload(event) {
  if (!event) return undefined;
  const { type: _type, ...rest } = event;
  return Object.keys(rest).length === 0 ? undefined : rest;
}

function saySchedule(text, error = false) {
  const m = $("#schedules-message");
  m.textContent = text;
  m.className = error ? "error" : "";
}

function sayScheduleError(e) {
  saySchedule(e.message, true);
}

async function changeSchedule(name, action) {
  try {
    const s = await api(`schedules/${encodeURIComponent(name)}/${action}`, { method: "POST" });
    saySchedule(
      s.paused
        ? `paused ${name}`
        : `resumed ${name}: next tick ${s.next === null ? "never" : tickTime(s.next)}`,
    );
  } catch (e) {
    sayScheduleError(e);
  }
  await reloadSchedules();
}

async function removeSchedule(s) {
  const note = s.source === "config"
    ? " It is declared in statecraft.yaml: it comes back at the next start unless the file drops it."
    : "";
  if (!confirm(`Remove schedule ${s.name}? Ticks already fired stay applied.${note}`)) return;
  try {
    await api(`schedules/${encodeURIComponent(s.name)}`, { method: "DELETE" });
    saySchedule(`removed ${s.name}`);
  } catch (e) {
    sayScheduleError(e);
  }
  await reloadSchedules();
}

/** The machines a schedule may create, in the form's select. */
async function loadScheduleMachines() {
  const select = $("#schedule-form select[name=machine]");
  if (select.options.length > 0) return;
  try {
    const body = await api("machines");
    for (const m of body.items ?? []) select.append(el("option", { value: m.id }, m.id));
  } catch (e) {
    sayScheduleError(e);
  }
}

/** Shows the fields of the chosen action (create or send). */
function scheduleKind() {
  const kind = $("#schedule-form select[name=kind]").value;
  for (const row of document.querySelectorAll("#schedule-form [data-kind]")) {
    row.hidden = row.getAttribute("data-kind") !== kind;
  }
}

/** Marks the form's field an error names (`cron`, `create.machine`, `send.event.type`). */
function markScheduleField(field, message) {
  for (const f of document.querySelectorAll("#schedule-form .field")) {
    f.classList.remove("invalid");
    f.querySelector(".field-error")?.remove();
    f.querySelector("input, select")?.removeAttribute("aria-invalid");
  }
  if (!field) return;
  const parts = field.split(".");
  let target = null;
  while (parts.length > 0 && target === null) {
    target = document.querySelector(`#schedule-form .field[data-field="${parts.join(".")}"]`);
    parts.pop();
  }
  if (target === null) return;
  target.classList.add("invalid");
  target.querySelector("input, select")?.setAttribute("aria-invalid", "true");
  target.append(el("span", { class: "field-error" }, message));
}

/** The form as a definition; a JSON field that does not parse is thrown with its field. */
function readScheduleForm() {
  const form = $("#schedule-form");
  const value = (name) => form.elements[name].value.trim();
  const json = (name, field) => {
    const text = value(name);
    if (text === "") return undefined;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw Object.assign(new Error(`${field}: not JSON (${e.message})`), { field });
    }
  };
  const body = { name: value("name"), cron: value("cron") };
  if (value("timezone") !== "") body.timezone = value("timezone");
  if (value("kind") === "create") {
    body.create = { machine: value("machine") };
    if (value("id") !== "") body.create.id = value("id");
    const context = json("context", "create.context");
    if (context !== undefined) body.create.context = context;
  } else {
    const payload = json("payload", "send.payload");
    if (payload !== undefined && (typeof payload !== "object" || Array.isArray(payload))) {
      throw Object.assign(new Error("send.payload: a JSON object"), { field: "send.payload" });
    }
    body.send = { instance: value("instance"), event: { ...payload, type: value("event") } };
  }
  body.overlap = value("overlap");
  body.catchUp = value("catchUp");
  if (form.elements.paused.checked) body.paused = true;
  return body;
}

async function submitSchedule(e) {
  e.preventDefault();
  let body;
  try {
    body = readScheduleForm();
  } catch (err) {
    saySchedule(err.message, true);
    markScheduleField(err.field, err.message);
    return;
  }
  try {
    const made = await api("schedules", { method: "POST", body: JSON.stringify(body) });
    markScheduleField(null);
    const next = made.paused
      ? "paused"
      : `next tick ${made.next === null ? "never" : tickTime(made.next)}`;
    saySchedule(`added ${made.name}: ${next}`);
    const form = $("#schedule-form");
    for (const name of ["name", "id", "context", "payload"]) form.elements[name].value = "";
  } catch (err) {
    sayScheduleError(err);
    markScheduleField(err.body?.field, err.body?.message ?? err.message);
  }
  await reloadSchedules();
}

/** Wires the Schedules view (called once, below, when the module loads). */
function setupSchedules() {
  $("#view-instances").addEventListener("click", () => showView("instances"));
  $("#view-schedules").addEventListener("click", () => showView("schedules"));
  $("#schedule-form select[name=kind]").addEventListener("change", scheduleKind);
  $("#schedule-form").addEventListener("submit", submitSchedule);
}

setupSchedules();
