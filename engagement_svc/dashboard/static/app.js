// The Engagement Dashboard page: reads the service's own API (JSON for the charts, CSV for the downloads) with
// Rocket.Chat's session (its cookies, on its host) or a user id and token kept in sessionStorage, and draws with
// Chart.js. No inline script (strict CSP).
"use strict";

const API = "/api/v1/engagement-dashboard/";
const ROOM_TYPES = { c: "Channel", p: "Private", d: "Direct" };
const ORIGINS = { c: "Public channels", p: "Private groups", d: "Direct messages" };
const COLORS = ["#1d74f5", "#f5455c", "#2de0a5", "#ffd21f", "#9f22c7"];
const CLIENTS = [["web", "Web", "#1d74f5"], ["desktop", "Desktop", "#9f22c7"], ["mobile", "Mobile", "#0b7a55"], ["other", "Other", "#8a5a00"]];
// The page's choices besides the form's (period, zone, bots): the tab, the channel list's page, sort and activity,
// the room drilled into ({id, name, members} or null), the team (its _id, "" for all teams), the members table's.
const state = {
  tab: "users", offset: 0, count: 10, sort: "-messages", hourDay: null, weekDay: null,
  team: "", roomActivity: "all", room: null,
  members: { offset: 0, count: 10, sort: "-messages", activity: "all" },
};
const charts = new Map();
let generation = 0; // answers of an older round of requests are dropped

// -- sign-in ------------------------------------------------------------------------------------------------------
// Which credentials the page signs in with, the first found wins:
//  1. the URL fragment (#uid=..&token=..): an explicit request for this tab (a link or a script). Saved in
//     sessionStorage and taken out of the address bar; it also sets Rocket.Chat's session (2) aside in this tab.
//  2. Rocket.Chat's own session: the cookies rc_uid and rc_token that its web client sets at login on path=/, which
//     this page can read when a reverse proxy serves it on Rocket.Chat's host. Sent as the X-User-Id and
//     X-Auth-Token headers like any credentials (the API never reads cookies). Once refused (401 or 403), signed
//     out of, or replaced by explicit credentials in this tab, that pair is set aside and not tried again: only a
//     new Rocket.Chat login (other cookies) or a new tab tries the session again.
//  3. sessionStorage: what the sign-in form (or an earlier fragment) saved in this tab.
//  4. Otherwise the sign-in form, which stays for set-ups where the page is not on Rocket.Chat's host.
let creds = null; // { uid, token, from: "fragment" | "cookie" | "session" }

const SET_ASIDE = "rc-session-set-aside"; // sessionStorage: {id: a fingerprint of the cookies' pair, why}
const SESSION_REFUSED =
  "Your Rocket.Chat session was not accepted (signed out or expired); sign in with a personal access token.";
const SESSION_FORBIDDEN =
  "Your Rocket.Chat user may not view the engagement dashboard (403): it needs the view-engagement-dashboard " +
  "permission. Sign in with a personal access token of a user who has it.";
const SESSION_SIGNED_OUT =
  "Signed out. This tab will not use your Rocket.Chat session again until you sign in to Rocket.Chat anew.";

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const at = part.indexOf("=");
    if (at < 0 || part.slice(0, at).trim() !== name) continue;
    const value = part.slice(at + 1).trim();
    try { return decodeURIComponent(value); } catch { return value; }
  }
  return "";
}

function sessionCookies() {
  const uid = cookie("rc_uid");
  const token = cookie("rc_token");
  return uid && token ? { uid, token, from: "cookie" } : null;
}

// Which pair was set aside is remembered by a fingerprint (FNV-1a), not by the token itself.
function fingerprint({ uid, token }) {
  let hash = 0x811c9dc5;
  for (const char of `${uid}\n${token}`) hash = Math.imul(hash ^ char.codePointAt(0), 0x01000193) >>> 0;
  return hash.toString(16);
}

// Why the current cookies were set aside in this tab ("refused", "forbidden", "signed-out", "replaced"), or null.
function setAsideWhy() {
  const session = sessionCookies();
  if (!session) return null;
  try {
    const kept = JSON.parse(sessionStorage.getItem(SET_ASIDE) || "null");
    return kept && kept.id === fingerprint(session) ? kept.why : null;
  } catch { return null; }
}

function setAside(why, keepReason = false) {
  const session = sessionCookies();
  if (!session || (keepReason && setAsideWhy())) return;
  sessionStorage.setItem(SET_ASIDE, JSON.stringify({ id: fingerprint(session), why }));
}

function chooseCredentials() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  if (params.get("uid") && params.get("token")) {
    sessionStorage.setItem("uid", params.get("uid"));
    sessionStorage.setItem("token", params.get("token"));
    setAside("replaced", true);
    return { uid: params.get("uid"), token: params.get("token"), from: "fragment" };
  }
  const session = sessionCookies();
  if (session && !setAsideWhy()) return session;
  const uid = sessionStorage.getItem("uid");
  const token = sessionStorage.getItem("token");
  return uid && token ? { uid, token, from: "session" } : null;
}

// What the sign-in form says when it is shown at start: why Rocket.Chat's session is not used, if it was set aside.
function setAsideMessage() {
  return { refused: SESSION_REFUSED, forbidden: SESSION_FORBIDDEN, "signed-out": SESSION_SIGNED_OUT }[setAsideWhy()] || "";
}

function showSignIn(message) {
  document.getElementById("signin").hidden = false;
  document.getElementById("signin-message").textContent = message || "";
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = true;
  document.getElementById("signout").hidden = true;
  delete document.body.dataset.drawn;
}

// Back to the sign-in form: answers still on their way are dropped, the charts taken down.
function leave(message) {
  generation += 1;
  creds = null;
  Object.assign(teams, { asking: null, known: false, failed: false, round: teams.round + 1 });
  for (const chart of charts.values()) chart.destroy();
  charts.clear();
  showSignIn(message);
}

function signOut(message) {
  if (creds?.from === "cookie") setAside("signed-out");
  sessionStorage.removeItem("uid");
  sessionStorage.removeItem("token");
  leave(message);
}

// A 401, or a 403 for Rocket.Chat's session: back to the sign-in form with the reason; true when handled.
function refused(error) {
  if (creds?.from === "cookie" && (error.status === 401 || error.status === 403)) {
    setAside(error.status === 401 ? "refused" : "forbidden");
    leave(error.status === 401 ? SESSION_REFUSED : SESSION_FORBIDDEN);
    return true;
  }
  if (error.status === 401) {
    signOut(explain(error));
    return true;
  }
  return false;
}

// -- dates in the chosen zone -------------------------------------------------------------------------------------
function zone() {
  return document.getElementById("zone").value.trim() || "UTC";
}

function localParts(ms, tz) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { y: get("year"), m: get("month"), d: get("day"), h: get("hour"), min: get("minute"), s: get("second") };
}

function dateOf(ms, tz) {
  const p = localParts(ms, tz);
  return `${p.y}-${String(p.m).padStart(2, "0")}-${String(p.d).padStart(2, "0")}`;
}

function addDays(date, n) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

// An instant whose local date in the zone is `date` (its noon): the API counts the local day of an instant.
function instantOf(date, tz) {
  const [y, m, d] = date.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d, 12);
  const p = localParts(guess, tz);
  const offset = Date.UTC(p.y, p.m - 1, p.d, p.h, p.min, p.s) - guess;
  return new Date(guess - offset).toISOString();
}

function range() {
  const tz = zone();
  const period = document.getElementById("period").value;
  if (period === "custom") {
    const from = document.getElementById("from").value;
    const to = document.getElementById("to").value;
    if (from && to) return { start: instantOf(from, tz), end: instantOf(to, tz) };
  }
  const days = period === "custom" ? 7 : Number(period);
  return { start: instantOf(addDays(dateOf(Date.now(), tz), -(days - 1)), tz), end: new Date().toISOString() };
}

// -- the API ------------------------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, text, retryAfter) {
    super(text || `HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

async function call(path, params, csv = false) {
  const query = new URLSearchParams({ timezone: zone(), bots: document.getElementById("bots").value, ...params });
  if (csv) query.set("format", "csv"); // besides the Accept header: the request says what it asks for
  const response = await fetch(`${API}${path}?${query}`, {
    headers: {
      "X-User-Id": creds?.uid || "",
      "X-Auth-Token": creds?.token || "",
      Accept: csv ? "text/csv" : "application/json",
    },
  });
  if (!response.ok) {
    let body = {};
    try { body = await response.json(); } catch { /* not JSON: the status says enough */ }
    throw new ApiError(response.status, body.error, response.headers.get("Retry-After"));
  }
  return csv ? response : response.json();
}

function explain(error) {
  const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : " Try again shortly.";
  switch (error.status) {
    case 401: return "Not signed in, or the user id or token is no longer valid (401).";
    case 403: return "This user may not view the engagement dashboard (403): it needs the view-engagement-dashboard permission.";
    case 429: return `Too many requests of this section from your address (429).${wait}`;
    case 503: return `No numbers right now: the database is busy or unreachable (503).${wait}`;
    case 400: return `The request was refused (400): ${error.message}`;
    case undefined: return "The service cannot be reached. Check the connection and reload.";
    default: return `Unexpected answer from the service (${error.status}).`;
  }
}

// -- teams --------------------------------------------------------------------------------------------------------
// The team selector: its options from the teams endpoint (by name, as it lists them), asked once per sign-in. It
// applies `teamId` to the sections counting messages (their data-team="applies"); the others say they count every
// team (teamNotes). No teams: the selector stays disabled and says so. The choice is kept in the address (?team=),
// so that a reload or a shared link keeps it; a team not among the answer's (a typo, a team deleted since the link
// was shared) falls back to all teams with a note, and is never asked of the API.
const teams = { asking: null, known: false, failed: false, names: new Map(), round: 0 };

// The teams' answer, asked once per sign-in (again after a failure): a promise that never rejects.
function loadTeams() {
  if (!teams.asking) teams.asking = askTeams();
  return teams.asking;
}

async function askTeams() {
  const round = ++teams.round;
  const select = document.getElementById("team");
  const note = document.getElementById("team-note");
  try {
    const body = await call("teams", {});
    if (round !== teams.round) return;
    teams.known = true;
    teams.names = new Map(body.teams.map((t) => [t._id, t.name || t._id]));
    select.replaceChildren(new Option("All teams", ""), ...body.teams.map((t) => new Option(t.name || t._id, t._id)));
    select.disabled = body.teams.length === 0;
    let said = body.teams.length ? "" : "none on this server";
    if (state.team && !teams.names.has(state.team)) {
      said = `team \u201c${state.team}\u201d not found: all teams shown`;
      state.team = "";
      keepTeam();
    }
    note.textContent = said;
    note.hidden = !said;
    select.value = state.team;
  } catch (error) {
    if (round !== teams.round) return;
    teams.asking = null; // asked again with the next round of sections
    teams.failed = true; // a team from the address is used as it is, unnamed
    select.disabled = true;
    note.textContent = "not available";
    note.hidden = false;
  }
}

// The team choice into the address, the address's other parts as they are: a reload or a link keeps the team.
function keepTeam() {
  const query = new URLSearchParams(location.search);
  if (state.team) query.set("team", state.team);
  else query.delete("team");
  const search = query.toString();
  history.replaceState(null, "", location.pathname + (search ? `?${search}` : ""));
}

// The query's team: {teamId} when one is chosen.
function teamOnly() {
  return state.team ? { teamId: state.team } : {};
}

function teamName() {
  return teams.names.get(state.team) || state.team;
}

// With a team chosen, each card says whether it counts that team only or every team (the team choice only narrows
// counts of messages); the room drill-down (data-team="none") is one room, whatever the team.
function teamNotes() {
  for (const el of document.querySelectorAll(".card[data-section]")) {
    el.querySelector(".team-note")?.remove();
    const applies = el.dataset.team;
    if (!state.team || applies === "none") continue;
    const note = document.createElement("p");
    note.className = `team-note ${applies === "applies" ? "only" : "all"}`;
    note.textContent = applies === "applies" ? `Team ${teamName()} only` : "All teams: the team choice counts messages only";
    (el.querySelector(".stepper") || el.querySelector(".body")).before(note);
  }
}

// -- sections -----------------------------------------------------------------------------------------------------
const section = (name) => document.querySelector(`[data-section="${name}"]`);

function loading(el) {
  delete document.body.dataset.drawn;
  el.setAttribute("aria-busy", "true");
  el.classList.add("loading");
  el.querySelector(".problem")?.remove();
}

function done(el) {
  el.removeAttribute("aria-busy");
  el.classList.remove("loading");
  scrollHint(el);
  // every section shown of the tab answered: a mark for people's tools and the browser tests alike (a section put
  // away while it loaded, the channel list or a room's drill-down, may stay busy, unseen)
  const busy = [...document.querySelectorAll('.panel:not([hidden]) [aria-busy="true"]')].filter((b) => !b.closest("[hidden]"));
  if (!busy.length) document.body.dataset.drawn = state.tab;
}

function problem(el, error) {
  done(el);
  const chart = charts.get(el.dataset.section);
  if (chart) { chart.destroy(); charts.delete(el.dataset.section); }
  const body = el.querySelector(".body");
  if (body && !body.querySelector("canvas")) body.replaceChildren();
  for (const stale of el.querySelectorAll(".note, .caption, .scroll-hint")) stale.remove();
  const box = document.createElement("p");
  box.className = "problem";
  box.setAttribute("role", "alert");
  box.textContent = explain(error);
  el.append(box);
}

function draw(name, config) {
  const el = section(name);
  charts.get(name)?.destroy();
  if (!window.Chart) {
    problem(el, { status: -1 });
    el.querySelector(".problem").textContent = "Charts are not available: the chart library was not installed (run make).";
    return;
  }
  const canvas = el.querySelector("canvas");
  config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
  charts.set(name, new window.Chart(canvas, config));
}

// One series of bars, counts on a zero-based axis (every bar chart of the page); the bar at index `partial` (a day
// still going on, or -1) is drawn hollow.
function bars(name, labels, label, data, color, partial = -1) {
  draw(name, {
    type: "bar",
    data: {
      labels,
      datasets: [{
        label,
        data,
        backgroundColor: data.map((_, i) => (i === partial ? `${color}40` : color)),
        borderColor: color,
        borderWidth: data.map((_, i) => (i === partial ? 2 : 0)),
      }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

// A chart day by day whose days reach today (a range ending now): today is still going on, its numbers only count
// so far. Its label says so and a note under the chart tells it in words (its `shape`, bar or point, is drawn
// hollow); the index of today's entry, or -1.
function partialToday(el, labels, tz, shape = "bar") {
  const today = dateOf(Date.now(), tz);
  const at = labels.lastIndexOf(today);
  partialNote(el, at < 0 ? "" : `Today (${today}) is counted only until now: its ${shape} is drawn hollow.`);
  if (at >= 0) labels[at] = [today, "today (so far)"];
  return at;
}

// The section's note that its data stops at now (replaced on each draw; none when `text` is empty).
function partialNote(el, text) {
  el.querySelector(".note.partial")?.remove();
  if (!text) return;
  const note = document.createElement("p");
  note.className = "note partial";
  note.textContent = text;
  el.append(note);
}

// A section whose body is wider than its card scrolls sideways inside it: a hint says so while it does.
function scrollHint(el) {
  const body = el.querySelector(".body");
  if (!body) return;
  let hint = el.querySelector(".scroll-hint");
  if (!hint) {
    hint = document.createElement("p");
    hint.className = "scroll-hint";
    hint.textContent = "Scroll sideways for the rest →";
    body.before(hint);
  }
  hint.hidden = !(body.scrollWidth > body.clientWidth + 1) || el.closest("[hidden]") !== null;
}

function dayLabel(row) {
  return `${row.year}-${String(row.month).padStart(2, "0")}-${String(row.day).padStart(2, "0")}`;
}

// The calendar day in the zone of an instant of the API: a day's start (the zone's local midnight, as the API writes
// days) or any moment (a room's creation); never its UTC date, which is another day for part of every day.
function isoDayLabel(iso, tz) {
  return dateOf(Date.parse(iso), tz);
}

// The same for a value that may be absent ("—").
function instantDay(iso, tz) {
  return iso ? isoDayLabel(iso, tz) : "—";
}

// A counter box; `order` places it among the row's others whatever section answers first (placeCounter).
function counter(title, value, variation, hint, note, order = 0) {
  const box = document.createElement("div");
  box.className = "counter";
  box.dataset.order = String(order);
  const label = document.createElement("span");
  label.textContent = title;
  const number = document.createElement("strong");
  number.textContent = value.toLocaleString("en");
  box.append(label, number);
  if (variation !== undefined) {
    const change = document.createElement("span");
    change.className = variation > 0 ? "up" : variation < 0 ? "down" : "same";
    change.textContent = `${variation > 0 ? "+" : ""}${variation.toLocaleString("en")} ${hint}`;
    box.append(change);
  }
  if (note) {
    const small = document.createElement("span");
    small.className = "same";
    small.textContent = note;
    box.append(small);
  }
  return box;
}

function placeCounter(row, ...boxes) {
  for (const box of boxes) {
    const after = [...row.children].find((c) => Number(c.dataset.order) > Number(box.dataset.order));
    row.insertBefore(box, after || null);
  }
}

// A column header's sort button (a table of `sort`, e.g. "-messages"): a first click sorts by the column
// descending, a second ascending, and so on; `change` gets the new sort. Its header cell says the order (aria-sort).
function sortButton(title, field, sort, change) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "sort";
  const current = sort.replace(/^-/, "") === field;
  const descending = sort.startsWith("-");
  button.textContent = title + (current ? (descending ? "\u00a0↓" : "\u00a0↑") : ""); // the arrow never on a line alone
  button.setAttribute("aria-label", `Sort by ${title}`);
  button.dataset.label = title;
  button.dataset.field = field;
  if (current) button.dataset.sorted = descending ? "descending" : "ascending";
  button.addEventListener("click", () => change(current && descending ? field : `-${field}`));
  return button;
}

// A table; each cell carries its column's title (data-label) for the stacked layout of narrow screens.
function table(head, rows) {
  const t = document.createElement("table");
  const thead = t.createTHead().insertRow();
  const labels = head.map((h) => (h instanceof Node ? h.dataset.label || h.textContent : h));
  for (const h of head) {
    const th = document.createElement("th");
    th.scope = "col";
    if (h instanceof Node) th.append(h); else th.textContent = h;
    if (h instanceof Node && h.dataset.field) th.setAttribute("aria-sort", h.dataset.sorted || "none");
    thead.append(th);
  }
  const tbody = t.createTBody();
  for (const row of rows) {
    const tr = tbody.insertRow();
    for (const [i, cell] of row.entries()) {
      const td = tr.insertCell();
      td.dataset.label = labels[i];
      if (cell instanceof Node) td.append(cell); else td.textContent = cell;
    }
  }
  return t;
}

// A section's request and drawing; an answer is dropped when a newer round of requests was made (or when
// `current()` says it is no longer wanted: another room's drill-down opened since). `failed` shows a failure (the
// section's own problem box unless told otherwise).
async function load(name, fetcher, render, current = () => true, failed = problem) {
  const el = section(name);
  const round = generation;
  loading(el);
  try {
    const body = await fetcher();
    if (round !== generation || !current()) return;
    render(body, el);
    done(el);
  } catch (error) {
    if (round !== generation || !current() || refused(error)) return;
    failed(el, error);
  }
}

const LATER = "–"; // a cell of an hour still to come today

// -- the users tab ------------------------------------------------------------------------------------------------
// Daily, weekly and monthly figures as three lines (`rows` oldest first, with `users`, `wau`, `mau`). Today's point
// hollow, the line into it dashed. The monthly line often equals the weekly one (everyone active this month was
// active this week): it is drawn over it (a lower `order` is drawn later), thin and dashed with small round points
// over the weekly line's wide one and large squares, so that both stay visible; the legend keeps the order.
function threeLines(name, labels, rows, partial, [daily, weekly, monthly]) {
  const line = (label, key, color, extra) => ({
    label,
    data: rows.map((d) => d[key]),
    borderColor: color,
    backgroundColor: color,
    pointBackgroundColor: rows.map((_, i) => (i === partial ? "#fff" : color)),
    segment: { borderDash: (ctx) => (ctx.p1DataIndex === partial ? [3, 3] : undefined) },
    ...extra,
  });
  draw(name, {
    type: "line",
    data: {
      labels,
      datasets: [
        line(daily, "users", COLORS[0], { order: 1, pointStyle: "circle", pointRadius: 3 }),
        line(weekly, "wau", COLORS[1], { order: 2, pointStyle: "rect", pointRadius: 5, borderWidth: 5 }),
        line(monthly, "mau", "#0b7a55", {
          order: 0, pointStyle: "circle", pointRadius: 2.5, borderWidth: 2, borderDash: [6, 4], segment: undefined,
        }),
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { labels: { usePointStyle: true, sort: (a, b) => a.datasetIndex - b.datasetIndex } } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

function usersTab() {
  const r = range();
  const tz = zone();
  const counters = section("counters-users");
  counters.replaceChildren();
  load("new-users", () => call("users/new-users", r), (body, el) => {
    const days = [...body.days].reverse();
    placeCounter(counters, counter("New users", body.period.count, body.period.variation, "vs. the period before", undefined, 0));
    const labels = days.map((d) => isoDayLabel(d.day, tz));
    const partial = partialToday(el, labels, tz);
    bars("new-users", labels, "New users", days.map((d) => d.users), COLORS[0], partial);
  });
  load("active-users", () => call("users/active-users", r), (body, el) => {
    const rows = [...body.month].reverse();
    const labels = rows.map(dayLabel);
    const partial = partialToday(el, labels, tz, "point");
    const last = body.month[0];
    if (last) {
      const soFar = partial >= 0 && partial === rows.length - 1 ? "today, so far" : undefined;
      placeCounter(
        counters,
        counter("Daily active users", last.users, undefined, undefined, soFar, 1),
        counter("Weekly active users", last.wau, undefined, undefined, undefined, 2),
        counter("Monthly active users", last.mau, undefined, undefined, undefined, 3),
      );
    }
    threeLines("active-users", labels, rows, partial, ["DAU", "WAU", "MAU"]);
  });
  const team = state.team ? `in team ${teamName()}` : undefined;
  load("posting-users", () => call("users/posting-users", { ...r, ...teamOnly() }), (body, el) => {
    const rows = [...body.days].reverse();
    const labels = rows.map((d) => isoDayLabel(d.day, tz));
    const partial = partialToday(el, labels, tz, "point");
    placeCounter(counters, counter("People posting", body.period.count, body.period.variation, "vs. the period before", team, 4));
    threeLines("posting-users", labels, rows, partial, ["Posting", "Posting WAU", "Posting MAU"]);
  });
  load("clients", () => call("users/clients", r), (body, el) => {
    const rows = [...body.days].reverse();
    const labels = rows.map((d) => isoDayLabel(d.day, tz));
    const partial = partialToday(el, labels, tz);
    draw("clients", {
      type: "bar",
      data: {
        labels,
        datasets: CLIENTS.map(([key, label, color]) => ({
          label,
          data: rows.map((d) => d[key]),
          backgroundColor: rows.map((_, i) => (i === partial ? `${color}40` : color)),
          borderColor: color,
          borderWidth: rows.map((_, i) => (i === partial ? 2 : 0)),
        })),
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { boxWidth: 14 } } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    // The period's distinct users per client: not the sum of the days (one person active on five days is one).
    el.querySelector(".totals")?.remove();
    const totals = document.createElement("p");
    totals.className = "note totals";
    const title = document.createElement("span");
    title.textContent = "Distinct users in the whole period:";
    totals.append(title);
    for (const [key, label] of CLIENTS) {
      const item = document.createElement("span");
      item.className = `client client-${key}`;
      const number = document.createElement("strong");
      number.textContent = body.period[key].toLocaleString("en");
      item.append(`${label} `, number);
      totals.append(item);
    }
    el.querySelector(".body").after(totals);
  });
  load("by-hour", () => call("users/users-by-time-of-the-day-in-a-week", r), (body, el) => {
    const days = [];
    const cells = new Map();
    let most = 0;
    for (const row of body.week) {
      const key = dayLabel(row);
      if (!cells.has(key)) { cells.set(key, new Array(24).fill(0)); days.push(key); }
      cells.get(key)[row.hour] = row.users;
      most = Math.max(most, row.users);
    }
    const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0"));
    // Today's hours still to come have no users yet: shown as "–", not as a 0 that reads like a quiet hour.
    const now = localParts(Date.now(), tz);
    const today = dateOf(Date.now(), tz);
    const shown = (day, n, h) => (day === today && h > now.h ? LATER : String(n));
    const grid = table(["Day", ...hours], days.map((day) => [day, ...cells.get(day).map((n, h) => shown(day, n, h))]));
    grid.className = "heatmap";
    // the caption sits under the scrolling table, not in it: it wraps to the card's width, never cut
    const caption = el.querySelector(".caption") || document.createElement("p");
    caption.className = "caption";
    caption.id = "heat-caption";
    const later = cells.has(today) && now.h < 23 ? `; ${LATER}: later today` : "";
    caption.textContent = `Distinct active users per wall-clock hour in ${tz} (darker: more; most ${most}${later})`;
    grid.setAttribute("aria-describedby", caption.id);
    for (const tr of grid.tBodies[0].rows) {
      for (const td of [...tr.cells].slice(1)) {
        if (td.textContent === LATER) td.title = "later today: not yet counted";
        const level = most && td.textContent !== LATER ? Number(td.textContent) / most : 0;
        td.dataset.level = String(Math.ceil(level * 5));
      }
    }
    el.querySelector(".body").replaceChildren(grid);
    el.append(caption);
  });
  state.hourDay = state.hourDay || dateOf(Date.now(), tz);
  state.weekDay = state.weekDay || dateOf(Date.now(), tz);
  busier();
}

function busier() {
  const tz = zone();
  section("busier-hours").querySelector(".stepper span").textContent = state.hourDay;
  section("busier-days").querySelector(".stepper span").textContent = `${addDays(state.weekDay, -6)} to ${state.weekDay}`;
  load("busier-hours", () => call("users/chat-busier/hourly-data", { start: instantOf(state.hourDay, tz) }), (body, el) => {
    const rows = [...body.hours].reverse();
    bars("busier-hours", rows.map((h) => `${String(h.hour).padStart(2, "0")}-${String(h.hour + 2).padStart(2, "0")}`), "Users", rows.map((h) => h.users), COLORS[3]);
    const today = state.hourDay === dateOf(Date.now(), tz);
    partialNote(el, today ? `Today (${state.hourDay}) is counted only until now: later hours have no users yet.` : "");
  });
  load("busier-days", () => call("users/chat-busier/weekly-data", { start: instantOf(state.weekDay, tz) }), (body, el) => {
    const rows = [...body.month].reverse();
    const labels = rows.map(dayLabel);
    bars("busier-days", labels, "Users", rows.map((d) => d.users), COLORS[4], partialToday(el, labels, tz));
  });
}

// -- the messages tab ---------------------------------------------------------------------------------------------
function messagesTab() {
  const r = { ...range(), ...teamOnly() };
  const tz = zone();
  const counters = section("counters-messages");
  const team = state.team ? `in team ${teamName()}` : undefined;
  counters.replaceChildren();
  load("messages-sent", () => call("messages/messages-sent", r), (body, el) => {
    const days = [...body.days].reverse();
    counters.append(
      counter("Messages sent", body.period.count, body.period.variation, "vs. the period before", team),
      counter("Yesterday", body.yesterday.count, body.yesterday.variation, "on the last day vs. the day before", team),
    );
    const labels = days.map((d) => isoDayLabel(d.day, tz));
    bars("messages-sent", labels, "Messages", days.map((d) => d.messages), COLORS[0], partialToday(el, labels, tz));
  });
  load("origin", () => call("messages/origin", r), (body) => {
    draw("origin", {
      type: "doughnut",
      data: { labels: body.origins.map((o) => ORIGINS[o.t] || o.t), datasets: [{ data: body.origins.map((o) => o.messages), backgroundColor: COLORS }] },
      options: { plugins: { legend: { position: "bottom" } } },
    });
  });
  // The API names a room of the top five by its fname (display name) first and a room of the channel list by its
  // name first, as Rocket.Chat does: one room, two names. The page shows the list's in both. The list's first five
  // rows by messages over the same range are the same five rooms (both rank by messages, ties by id); a room missing
  // there (changed in between) keeps the top five's name.
  const five = async () => {
    const [top, list] = await Promise.all([
      call("messages/top-five-popular-channels", r),
      // only for the names: when it fails (a 429 on the list's own budget, say), the top five keeps its own
      call("channels/list", { ...r, offset: 0, count: 5, sort: "-messages" }).catch(() => ({ channels: [] })),
    ]);
    const rooms = new Map(list.channels.map((c) => [c.room._id, c.room]));
    return { channels: top.channels.map((c) => ({ ...c, name: roomName(rooms.get(c._id) || c) })) };
  };
  load("top-five", five, (body, el) => {
    const rows = body.channels.map((c) => [c.name, ROOM_TYPES[c.t] || c.t, c.messages.toLocaleString("en")]);
    el.querySelector(".body").replaceChildren(rows.length ? table(["Room", "Type", "Messages"], rows) : empty("No messages in this period."));
  });
}

// A room's name as the channel list gives it (`name`, else fname), a direct room's usernames, else its id.
function roomName(room) {
  return room.name || (room.usernames || []).join(", ") || room._id;
}

function empty(text) {
  const p = document.createElement("p");
  p.className = "empty";
  p.textContent = text;
  return p;
}

// -- the channels tab ---------------------------------------------------------------------------------------------
// Columns of the channel list: [its sort key (none: not sortable), title].
const LIST_COLUMNS = [
  ["name", "Room"], [null, "Type"], ["messages", "Messages"], ["lastWeekMessages", "Period before"],
  ["diffFromLastWeek", "Change"], ["posters", "Posters"], ["lastPosted", "Last posted"], ["members", "Members"],
  ["ts", "Created"], ["_updatedAt", "Updated"],
];
const LIST_EMPTY = {
  all: "No room had messages in this period or the one before.",
  silent: "No silent rooms: every channel and group had a message in this period.",
};
const SILENT = "Silent: channels and groups without a message in the period.";

// The tab shows the channel list, or one room's drill-down (state.room) in its place.
function channelsTab() {
  section("channel-list").hidden = Boolean(state.room);
  document.getElementById("room").hidden = !state.room;
  return state.room ? roomView() : channelList();
}

function channelList() {
  const r = range();
  const tz = zone();
  const query = { ...r, ...teamOnly(), offset: state.offset, count: state.count, sort: state.sort };
  if (state.roomActivity === "silent") query.activity = "silent";
  return load("channel-list", () => call("channels/list", query), (body, el) => {
    const head = LIST_COLUMNS.map(([field, title]) => (field ? sortButton(title, field, state.sort, (sort) => {
      state.sort = sort;
      state.offset = 0;
      channelList();
    }) : title));
    const rows = body.channels.map((c) => {
      const badge = document.createElement("span");
      badge.className = `badge ${c.diffFromLastWeek > 0 ? "up" : c.diffFromLastWeek < 0 ? "down" : "same"}`;
      badge.textContent = `${c.diffFromLastWeek > 0 ? "+" : ""}${c.diffFromLastWeek.toLocaleString("en")}`;
      // the room's name opens its drill-down (a button: Enter and Space too); so does a click anywhere on its row
      const open = document.createElement("button");
      open.type = "button";
      open.className = "room-open";
      open.textContent = roomName(c.room);
      open.setAttribute("aria-describedby", "rooms-hint");
      return [
        open,
        ROOM_TYPES[c.room.t] || c.room.t,
        c.messages.toLocaleString("en"),
        c.lastWeekMessages.toLocaleString("en"),
        badge,
        c.posters.toLocaleString("en"),
        c.lastPosted ? isoDayLabel(c.lastPosted, tz) : "never",
        c.members.toLocaleString("en"),
        instantDay(c.room.ts, tz),
        instantDay(c.room._updatedAt, tz),
      ];
    });
    const listed = rows.length ? table(head, rows) : empty(LIST_EMPTY[state.roomActivity] || LIST_EMPTY.all);
    if (rows.length) {
      listed.classList.add("rooms");
      for (const [i, tr] of [...listed.tBodies[0].rows].entries()) {
        const row = body.channels[i];
        tr.dataset.id = row.room._id;
        tr.addEventListener("click", () => openRoom(row));
      }
    }
    el.querySelector(".body").replaceChildren(listed);
    el.querySelector(".caption")?.remove();
    const caption = document.createElement("p");
    caption.className = "caption";
    caption.textContent = (state.roomActivity === "silent" ? `${SILENT} ` : "")
      + "Posters: distinct authors in the period. Last posted: the latest day with a message, looking back as far as "
      + `the data goes. Members: the room's member count. Every date is a day in ${tz}.`;
    el.querySelector(".body").after(caption);
    const last = Math.min(body.offset + body.count, body.total);
    el.querySelector(".pager span").textContent = body.total ? `${body.offset + 1}-${last} of ${body.total}` : "0 rooms";
    el.querySelector('[data-page="-1"]').disabled = body.offset === 0;
    el.querySelector('[data-page="1"]').disabled = last >= body.total;
  });
}

function openRoom(row) {
  state.room = { id: row.room._id, name: roomName(row.room), members: row.members };
  channelsTab();
  document.getElementById("room-title").focus();
}

async function closeRoom() {
  const id = state.room?.id;
  state.room = null;
  await channelsTab();
  // the focus back where it was: the room's button in the list (when the room is still listed)
  const button = document.querySelector(`[data-section=channel-list] tr[data-id="${CSS.escape(id || "")}"] .room-open`);
  (button || document.getElementById("room-activity")).focus();
}

// The drill-down's cards under its first (room-summary, with the title, the way back and the CSV).
const ROOM_PARTS = ["room-days", "room-hours", "room-posters"];

// The seconds a Retry-After header asks to wait (a number of seconds or an HTTP date), or null without one.
function retrySeconds(value) {
  if (!value) return null;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : null;
}

// A drill-down whose request failed: one request, so one error, in its first card; the other cards are put away
// (four copies of one error said nothing more). Where the API says when to try again (Retry-After: a 429, a 503), a
// retry is offered once that wait is over; a room not found (404) has nothing to retry, only the way back.
function roomFailed(el, error, room) {
  for (const name of ROOM_PARTS) section(name).hidden = true;
  problem(el, error);
  el.querySelector(".csv").hidden = true;
  const box = el.querySelector(".problem");
  if (error.status === 404) {
    box.textContent = "This room was not found (404): deleted since the list was drawn, or not a channel, group "
      + "or direct room. Go back to the list for the rooms there are.";
  }
  const wait = retrySeconds(error.retryAfter);
  if (wait === null) return;
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "retry";
  retry.textContent = "Retry";
  retry.disabled = wait > 0;
  retry.addEventListener("click", () => { if (state.room === room) roomView(); });
  if (wait > 0) setTimeout(() => { retry.disabled = false; }, wait * 1000);
  box.append(" ", retry);
}

// One room's drill-down: one request (channels/room) drawn by four sections: its figures, its days (messages as
// bars, posters as a line), its hours of the day, its top posters. Its failure is said once (roomFailed).
function roomView() {
  const r = range();
  const tz = zone();
  const room = state.room;
  const answer = call("channels/room", { ...r, roomId: room.id });
  let failure = null; // the request's failure: said by the first card, the others put away quietly
  answer.catch((error) => { failure = error; });
  const current = () => state.room === room;
  const quiet = (el, error) => (error === failure ? done(el) : problem(el, error));
  for (const name of ROOM_PARTS) section(name).hidden = false;
  section("room-summary").querySelector(".csv").hidden = false;
  document.getElementById("room-title").textContent = room.name;
  load("room-summary", () => answer, (body, el) => {
    room.name = roomName(body.room);
    document.getElementById("room-title").textContent = room.name;
    const figures = el.querySelector(".body");
    figures.replaceChildren(
      counter("Messages", body.period.messages, body.period.variation, "vs. the period before"),
      counter("Posters", body.period.posters, undefined, undefined, "distinct authors"),
    );
    if (room.members !== undefined) figures.append(counter("Members", room.members));
    el.querySelector(".caption")?.remove();
    const caption = document.createElement("p");
    caption.className = "caption";
    const created = body.room.ts ? `, created ${isoDayLabel(body.room.ts, tz)}` : "";
    caption.textContent = `${ROOM_TYPES[body.room.t] || body.room.t}${created}. The period's days and hours in ${tz}.`;
    figures.after(caption);
  }, current, (el, error) => roomFailed(el, error, room));
  load("room-days", () => answer, (body, el) => {
    const days = [...body.days].reverse();
    const labels = days.map((d) => isoDayLabel(d.day, tz));
    const partial = partialToday(el, labels, tz);
    const [blue, red] = [COLORS[0], COLORS[1]];
    draw("room-days", {
      type: "bar",
      data: {
        labels,
        datasets: [
          {
            type: "bar", label: "Messages", data: days.map((d) => d.messages), order: 2,
            backgroundColor: days.map((_, i) => (i === partial ? `${blue}40` : blue)), borderColor: blue,
            borderWidth: days.map((_, i) => (i === partial ? 2 : 0)),
          },
          {
            type: "line", label: "Posters", data: days.map((d) => d.posters), order: 1, borderColor: red,
            backgroundColor: red, pointBackgroundColor: days.map((_, i) => (i === partial ? "#fff" : red)),
          },
        ],
      },
      options: {
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { sort: (a, b) => a.datasetIndex - b.datasetIndex } } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }, current, quiet);
  load("room-hours", () => answer, (body) => {
    const hours = [...body.hours].sort((a, b) => a.hour - b.hour);
    bars("room-hours", hours.map((h) => String(h.hour).padStart(2, "0")), "Messages", hours.map((h) => h.messages), "#0b7a55");
  }, current, quiet);
  load("room-posters", () => answer, (body, el) => {
    const most = Math.max(1, ...body.topPosters.map((p) => p.messages));
    const list = document.createElement("ol");
    list.className = "posters";
    for (const poster of body.topPosters) {
      const item = document.createElement("li");
      const who = document.createElement("span");
      who.className = poster.username ? "who" : "who muted";
      who.textContent = poster.username || `${poster._id} (user gone)`;
      const count = document.createElement("strong");
      count.textContent = poster.messages.toLocaleString("en");
      const bar = document.createElement("span");
      bar.className = "share";
      bar.style.width = `${(100 * poster.messages) / most}%`; // CSSOM, not a style attribute: the CSP allows it
      item.append(who, count, bar);
      list.append(item);
    }
    el.querySelector(".body").replaceChildren(body.topPosters.length ? list : empty("Nobody posted in this room in this period."));
  }, current, quiet);
  return answer.catch(() => {});
}

// -- the members tab ----------------------------------------------------------------------------------------------
// Columns of the members table: [its sort key (none: not sortable), title].
const MEMBER_COLUMNS = [
  ["username", "Username"], [null, "Name"], [null, "Type"], [null, "Active"], ["createdAt", "Created"],
  ["messages", "Messages"], ["channelMessages", "Channel messages"], ["daysActive", "Days active"],
  ...CLIENTS.map(([, label]) => [null, `${label} days`]), ["lastActive", "Last active"], ["lastPosted", "Last posted"],
];
const MEMBERS_EMPTY = {
  all: "No members.",
  active: "No one logged in or posted in this period.",
  dormant: "No dormant seats: every account not deactivated logged in or posted in this period.",
};
// Dormant seats are listed longest unused first: by last active ascending (never active, null, comes first).
const DORMANT_SORT = "lastActive";

// A seat nobody uses: an account not deactivated that neither logged in nor posted in the period (the API's
// activity=dormant, told from a row's own figures).
function dormant(member) {
  return member.user.active !== false && member.daysActive === 0 && member.messages === 0;
}

function membersTab() {
  const r = range();
  const tz = zone();
  load("dormant-seats", () => call("users/members", { ...r, activity: "dormant", sort: DORMANT_SORT, offset: 0, count: 1 }), (body, el) => {
    const box = document.createElement("p");
    box.className = "seats";
    const number = document.createElement("strong");
    number.className = "big";
    number.textContent = body.total.toLocaleString("en");
    const what = document.createElement("span");
    what.textContent = [
      "dormant seats: every account not deactivated logged in or posted in this period.",
      "account, not deactivated, neither logged in nor posted in this period: a seat nobody uses.",
    ][body.total] || "accounts, not deactivated, neither logged in nor posted in this period: seats nobody uses.";
    box.append(number, " ", what);
    const parts = [box];
    const first = body.members[0];
    if (first) {
      const longest = document.createElement("p");
      longest.className = "longest";
      const since = first.lastActive ? `last active ${isoDayLabel(first.lastActive, tz)}` : "never active";
      longest.textContent = `Longest unused: ${memberName(first.user)} (${since}). The CSV lists them all for a review; `
        + "deactivating an account in Rocket.Chat's Administration › Users frees its seat.";
      const show = document.createElement("button");
      show.type = "button";
      show.id = "show-dormant";
      show.textContent = body.total === 1 ? "Show it in the table" : `Show the ${body.total.toLocaleString("en")} in the table, longest unused first`;
      show.addEventListener("click", () => filterMembers("dormant"));
      parts.push(longest, show);
    }
    el.querySelector(".body").replaceChildren(...parts);
    el.querySelector(".csv").hidden = body.total === 0;
  });
  memberList();
}

// The table shows the members of one activity choice (all, active, dormant) from its first page; the dormant
// seats come longest unused first, and leaving them goes back to the default order.
function filterMembers(activity) {
  const m = state.members;
  if (activity === "dormant") m.sort = DORMANT_SORT;
  else if (m.activity === "dormant" && m.sort === DORMANT_SORT) m.sort = "-messages";
  m.activity = activity;
  m.offset = 0;
  document.getElementById("activity").value = activity;
  memberList();
}

function memberName(user) {
  return user.username || user.name || user._id;
}

function memberList() {
  const r = range();
  const tz = zone();
  const m = state.members;
  const day = (iso) => (iso ? isoDayLabel(iso, tz) : "never");
  load("member-list", () => call("users/members", { ...r, offset: m.offset, count: m.count, sort: m.sort, activity: m.activity }), (body, el) => {
    const head = MEMBER_COLUMNS.map(([field, title]) => (field ? sortButton(title, field, m.sort, (sort) => {
      m.sort = sort;
      m.offset = 0;
      memberList();
    }) : title));
    const rows = body.members.map((member) => {
      const { user } = member;
      // a user without a username is shown by its id, greyed
      const who = document.createElement("span");
      who.textContent = user.username || user._id;
      if (!user.username) who.className = "muted";
      // the account's state: deactivated, or active and used, or active and unused (a dormant seat)
      let account = user.active ? "yes" : "deactivated";
      if (dormant(member)) {
        account = document.createElement("span");
        account.className = "badge dormant";
        account.textContent = "dormant";
      }
      return [
        who,
        user.name || "—",
        user.type,
        account,
        user.createdAt ? isoDayLabel(user.createdAt, tz) : "—",
        member.messages.toLocaleString("en"),
        member.channelMessages.toLocaleString("en"),
        member.daysActive.toLocaleString("en"),
        ...CLIENTS.map(([key]) => member.clients[key].toLocaleString("en")),
        day(member.lastActive),
        day(member.lastPosted),
      ];
    });
    const listed = rows.length ? table(head, rows) : empty(MEMBERS_EMPTY[m.activity] || MEMBERS_EMPTY.all);
    if (rows.length) {
      listed.classList.add("members");
      for (const [i, tr] of [...listed.tBodies[0].rows].entries()) {
        tr.dataset.id = body.members[i].user._id;
        if (dormant(body.members[i])) tr.classList.add("dormant");
      }
    }
    el.querySelector(".body").replaceChildren(listed);
    el.querySelector(".caption")?.remove();
    const caption = document.createElement("p");
    caption.className = "caption";
    caption.textContent = "Web, desktop, mobile, other days: the days of the period active through each client. Last "
      + `active, last posted: the latest such day in ${tz}, looking back as far as the data goes. Dormant: an account `
      + "not deactivated that neither logged in nor posted in the period.";
    el.querySelector(".body").after(caption);
    const last = Math.min(body.offset + body.count, body.total);
    el.querySelector(".pager span").textContent = body.total ? `${body.offset + 1}–${last} of ${body.total.toLocaleString("en")}` : "0 members";
    el.querySelector('[data-member-page="-1"]').disabled = body.offset === 0;
    el.querySelector('[data-member-page="1"]').disabled = last >= body.total;
  });
}

// -- CSV downloads ------------------------------------------------------------------------------------------------
// What a section's CSV asks: its section's query, without paging (every row).
function csvQuery(button) {
  const path = button.dataset.csv;
  if (path.startsWith("users/chat-busier/")) {
    return { start: instantOf(path.endsWith("hourly-data") ? state.hourDay : state.weekDay, zone()) };
  }
  const query = range();
  if (button.closest("[data-team=applies]")) Object.assign(query, teamOnly());
  if (path === "channels/list") {
    query.sort = state.sort;
    if (state.roomActivity === "silent") query.activity = "silent";
  }
  if (path === "channels/room") query.roomId = state.room.id;
  if (path === "users/members") { // the table's choice, or the button's own (the dormant seats)
    query.sort = button.dataset.sort || state.members.sort;
    query.activity = button.dataset.activity || state.members.activity;
  }
  return query;
}

async function download(button) {
  const path = button.dataset.csv;
  const el = button.closest("section");
  try {
    const response = await call(path, csvQuery(button), true);
    const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1] || "export.csv";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (error) {
    if (!refused(error)) problem(el, error);
  }
}

// -- wiring -------------------------------------------------------------------------------------------------------
function show() {
  if (!creds) return showSignIn(setAsideMessage());
  generation += 1;
  document.getElementById("signin").hidden = true;
  document.getElementById("signout").hidden = false;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const selected = tab.getAttribute("aria-controls") === state.tab;
    tab.setAttribute("aria-selected", String(selected));
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  const round = generation;
  const asked = loadTeams();
  if (state.team && !teams.known && !teams.failed) { // a team from the address: named (or found unknown) first
    delete document.body.dataset.drawn;
    asked.then(() => { if (round === generation && creds) show(); });
    return;
  }
  teamNotes();
  ({ users: usersTab, messages: messagesTab, channels: channelsTab, members: membersTab })[state.tab]();
}

function start() {
  creds = chooseCredentials();
  state.team = new URLSearchParams(location.search).get("team") || "";
  const zones = document.getElementById("zones");
  for (const name of ["UTC", ...(Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [])]) {
    zones.append(new Option(name));
  }
  document.getElementById("zone").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener("click", () => { state.tab = tab.getAttribute("aria-controls"); show(); });
  }
  document.getElementById("period").addEventListener("change", (event) => {
    const custom = event.target.value === "custom";
    for (const label of document.querySelectorAll(".custom")) label.hidden = !custom;
    if (custom && !document.getElementById("from").value) {
      const today = dateOf(Date.now(), zone());
      document.getElementById("from").value = addDays(today, -13);
      document.getElementById("to").value = today;
    }
    state.offset = state.members.offset = 0;
    show();
  });
  for (const id of ["from", "to", "bots"]) {
    document.getElementById(id).addEventListener("change", () => { state.offset = state.members.offset = 0; show(); });
  }
  document.getElementById("zone").addEventListener("change", () => { state.hourDay = state.weekDay = null; show(); });
  document.getElementById("team").addEventListener("change", (event) => {
    state.team = event.target.value;
    document.getElementById("team-note").hidden = true; // a word on the address's team, or on none: choosing ends it
    keepTeam();
    state.offset = 0;
    show();
  });
  document.getElementById("room-activity").addEventListener("change", (event) => {
    state.roomActivity = event.target.value;
    state.offset = 0;
    channelList();
  });
  document.getElementById("room-back").addEventListener("click", closeRoom);
  document.getElementById("filters").addEventListener("submit", (event) => { event.preventDefault(); show(); });
  document.getElementById("signout").addEventListener("click", () => signOut(creds?.from === "cookie" ? SESSION_SIGNED_OUT : "Signed out."));
  document.getElementById("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    creds = { uid: document.getElementById("uid").value.trim(), token: document.getElementById("token").value.trim(), from: "session" };
    sessionStorage.setItem("uid", creds.uid);
    sessionStorage.setItem("token", creds.token);
    setAside("replaced", true);
    document.getElementById("token").value = "";
    show();
  });
  for (const button of document.querySelectorAll("[data-step]")) {
    button.addEventListener("click", () => {
      const key = button.closest("[data-section]").dataset.section === "busier-hours" ? "hourDay" : "weekDay";
      state[key] = addDays(state[key], Number(button.dataset.step));
      busier();
    });
  }
  for (const button of document.querySelectorAll("[data-page]")) {
    button.addEventListener("click", () => {
      state.offset = Math.max(0, state.offset + Number(button.dataset.page) * state.count);
      channelList();
    });
  }
  for (const button of document.querySelectorAll("[data-member-page]")) {
    button.addEventListener("click", () => {
      state.members.offset = Math.max(0, state.members.offset + Number(button.dataset.memberPage) * state.members.count);
      memberList();
    });
  }
  document.getElementById("activity").addEventListener("change", (event) => filterMembers(event.target.value));
  for (const button of document.querySelectorAll("[data-csv]")) button.addEventListener("click", () => download(button));
  window.addEventListener("resize", () => { for (const el of document.querySelectorAll("[data-section]")) scrollHint(el); });
  show();
}

document.addEventListener("DOMContentLoaded", start);
