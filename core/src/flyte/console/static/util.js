// Flyte console: shared helpers (constants, the element builder, formatting, the API client, polling).
// Every string that comes from the API is data: h() puts it into the page as text, never as HTML.

export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "CACHED"]);
export const PHASES = ["QUEUED", "WAITING_FOR_RESOURCES", "INITIALIZING", "RUNNING", "SUCCEEDED", "CACHED",
  "FAILED", "TIMED_OUT", "ABORTED"];
export const FAILED = new Set(["FAILED", "TIMED_OUT"]);
export const POLL_MS = 1000;
export const ROW = 24; // px, one tree row = one timeline row (keep in step with --row-h)
export const HEAD = 28; // px, the sticky header of the tree and the timeline's time axis


// ---------------------------------------------------------------- small helpers

// Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069): in a task name or an error they would make
// the text read other than it is ("\u202Edesrever" shows as "reversed"). Shown as visible marks instead.
const BIDI = /[\u202A-\u202E\u2066-\u2069]/g;

/** A string from the API as it is shown: bidi controls made visible (`⟨U+202E⟩`). */
export function shown(s) {
  return String(s).replace(BIDI, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase()}⟩`);
}

/** Make an element. Children that are not Nodes become text nodes; props never set innerHTML. */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v == null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = shown(v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k === "title" || k === "aria-label") el.setAttribute(k, shown(v));
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(shown(kid)));
  }
  return el;
}

export const enc = encodeURIComponent;
export const runPath = (run) => `/runs/${enc(run)}`;
export const actionPath = (run, a) => `/runs/${enc(run)}/actions/${enc(a)}`;
export const apiRun = (run) => `/api/runs/${enc(run)}`;
export const apiAction = (run, a) => `/api/runs/${enc(run)}/actions/${enc(a)}`;

export function phaseOf(x) {
  return (x && x.phase) || "UNKNOWN";
}

/** The phase an action is drawn and counted in: a cache hit (the API says SUCCEEDED) is CACHED, as in the run's
 * counts. */
export function actionPhase(a) {
  const p = phaseOf(a);
  return a && a.cache_hit && p === "SUCCEEDED" ? "CACHED" : p;
}

export function badge(phase) {
  return h("span", { class: `phase ${phase}`, "data-phase": phase }, phase);
}

export function dot(phase) {
  return h("span", { class: `dot ${phase}`, "aria-hidden": "true" });
}

export function fmtDur(s) {
  if (s == null || !isFinite(s)) return "";
  if (s <= 0) return "0 ms";
  if (s < 0.0001) return "<0.1 ms";
  if (s < 0.01) return `${(s * 1000).toFixed(1)} ms`; // 0.4 ms, not "0 ms"
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.floor(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function pad(n, w = 2) {
  return String(n).padStart(w, "0");
}

export function fmtTime(ts) {
  if (ts == null) return "";
  const d = new Date(ts * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export const now = () => Date.now() / 1000;

/** The cause of a chained error: "task 'main' (action a0) failed: task 'x' (action a3) failed: ValueError: m" ->
 * "ValueError: m" (what a one-line cell can show; the whole of it goes in the tooltip). */
export function causeOf(error) {
  const m = /^(?:task '[^']*'(?: \(action [^)]*\))? failed: )+/.exec(error);
  return m && m[0].length < error.length ? error.slice(m[0].length) : error;
}

/** Seconds an item has run: end-or-now minus start. */
export function elapsed(x) {
  if (x.start == null) return null;
  const end = x.end != null ? x.end : (TERMINAL.has(phaseOf(x)) ? x.start : now());
  return end - x.start;
}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export const conn = () => document.getElementById("conn");

// A devbox started with --auth wants a bearer token on /api (but /api/info): asked for once on a 401, kept in
// sessionStorage (this tab only), sent as a header (no cookie, so no cross-site request can use it).
export const TOKEN_KEY = "flyte-console-token";
let asking = null;
export function askToken() {
  if (asking) return asking;
  asking = new Promise((resolve) => {
    const dlg = document.getElementById("token");
    const input = document.getElementById("token-input");
    const form = document.getElementById("token-form");
    const done = (token) => {
      form.onsubmit = null;
      document.getElementById("token-cancel").onclick = null;
      dlg.oncancel = null;
      if (dlg.open) dlg.close();
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      asking = null;
      resolve(token);
    };
    input.value = "";
    // a form (Enter or the button submits it), so that the password field is where browsers expect it; the
    // submission is handled here and goes nowhere
    form.onsubmit = (ev) => {
      ev.preventDefault();
      done(input.value.trim());
    };
    document.getElementById("token-cancel").onclick = () => done("");
    dlg.oncancel = () => done(""); // Escape
    dlg.showModal();
  });
  return asking;
}

/** A request to the console server with the token (if any); on a 401 the token is asked for once more. */
async function request(path, opts, accept, retried) {
  let r;
  const headers = { Accept: accept };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    r = await fetch(path, Object.assign({ headers, cache: "no-store" }, opts));
  } catch (e) {
    conn().textContent = "Console server unreachable; retrying…";
    throw new ApiError("the console server is unreachable", 0);
  }
  conn().textContent = "";
  if (r.status === 401 && !retried) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (await askToken()) return request(path, opts, accept, true);
  }
  return r;
}

async function failure(r) {
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    body = null;
  }
  return new ApiError((body && body.error) || `${r.status} ${r.statusText}`, r.status);
}

export async function api(path, opts) {
  const r = await request(path, opts, "application/json");
  if (!r.ok) throw await failure(r);
  try {
    return await r.json();
  } catch (e) {
    return null;
  }
}

/** The text of an answer that is not JSON (a report's HTML), fetched with the token like every API call. */
export async function apiText(path) {
  const r = await request(path, undefined, "text/html, */*");
  if (!r.ok) throw await failure(r);
  return r.text();
}

let infoPromise = null;
export function info() {
  if (!infoPromise) {
    infoPromise = api("/api/info").catch(() => ({ source: "local", title: "", can_abort: false, version: "" }));
  }
  return infoPromise;
}

/** A loop that calls fn every POLL_MS until stopped; skips ticks while the tab is hidden. */
export function poller(fn) {
  let timer = null;
  let stopped = false;
  const loop = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        if ((await fn()) === false) stopped = true;
      } catch (e) {
        // shown in the connection status; keep trying
      }
    }
    if (!stopped) timer = setTimeout(loop, POLL_MS);
  };
  timer = setTimeout(loop, POLL_MS);
  return { stop() { stopped = true; clearTimeout(timer); } };
}

// ---------------------------------------------------------------- tooltip

export const tip = (() => {
  let el = null;
  return {
    show(x, y, text) {
      if (!el) {
        el = h("div", { class: "tip", role: "tooltip" });
        document.body.append(el);
      }
      el.textContent = shown(text);
      el.hidden = false;
      const r = el.getBoundingClientRect();
      el.style.left = `${Math.min(x + 14, window.innerWidth - r.width - 4)}px`;
      el.style.top = `${Math.min(y + 14, window.innerHeight - r.height - 4)}px`;
    },
    hide() {
      if (el) el.hidden = true;
    },
  };
})();


export function countsEl(counts) {
  const el = h("span", { class: "counts" });
  if (!counts) return el;
  el.append(h("span", { class: "c", title: "actions" }, String(counts.total ?? 0)));
  for (const p of PHASES) {
    if (counts[p]) el.append(h("span", { class: "c", title: `${counts[p]} ${p}` }, dot(p), String(counts[p])));
  }
  return el;
}


export const main = () => document.getElementById("main");
