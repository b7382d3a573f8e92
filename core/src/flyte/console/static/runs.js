// Flyte console: the runs list (/), newest first, filtered, updated live.

import {
  TERMINAL, PHASES, h, runPath, phaseOf, badge, fmtDur, fmtTime, elapsed, api, poller, countsEl, main, shown, causeOf,
} from "./util.js";

const LIMIT = 1000; // runs asked for on the first load (newer ones come through the live updates)

export function runsPage() {
  document.title = "Runs · Flyte console";
  const q = new URLSearchParams(location.search);
  const filters = { phase: q.get("phase") || "", task: q.get("task") || "" };
  const runs = new Map();
  const rowsByName = new Map();
  const tasks = new Set();
  let cursor = null;
  let capped = false; // the first answer was cut at LIMIT runs
  let loaded = false;
  let gen = 0;

  const phaseSel = h("select", { id: "f-phase", "aria-label": "Filter by phase" },
    h("option", { value: "" }, "All phases"), PHASES.map((p) => h("option", { value: p }, p)));
  phaseSel.value = filters.phase;
  const taskList = h("datalist", { id: "f-task-list" });
  const taskSel = h("input", { id: "f-task", type: "search", list: "f-task-list", placeholder: "any task",
    "aria-label": "Filter by task (part of its name)" });
  taskSel.value = filters.task;
  const count = h("span", { class: "muted", role: "status", "aria-live": "polite" });
  const tbody = h("tbody");
  const table = h("table", { class: "runs", "aria-label": "Runs, newest first" },
    h("thead", null, h("tr", null, ["Run", "Task", "Phase", "Started", "Duration", "Actions", "Error"].map(
      (c) => h("th", { scope: "col", class: c === "Duration" ? "num" : null }, c)))),
    tbody);
  table.hidden = true; // until the first answer
  const empty = h("div", { class: "empty" }, "Loading runs…");
  const errBox = h("div", { class: "notice bad", role: "alert", hidden: true });
  main().replaceChildren(
    h("h1", null, "Runs"),
    h("div", { class: "filters" },
      h("label", null, "Phase", phaseSel), h("label", null, "Task", taskSel, taskList), count),
    errBox, table, empty);

  function syncUrl() {
    const p = new URLSearchParams();
    if (filters.phase) p.set("phase", filters.phase);
    if (filters.task) p.set("task", filters.task);
    const qs = p.toString();
    history.replaceState(null, "", qs ? `/?${qs}` : "/");
  }

  function onFilter() {
    filters.phase = phaseSel.value;
    filters.task = taskSel.value.trim();
    syncUrl();
    runs.clear();
    cursor = null;
    loaded = false;
    load();
  }
  phaseSel.addEventListener("change", onFilter);
  let typing = null;
  taskSel.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(onFilter, 250);
  });

  function refreshTaskOptions() {
    const have = new Set([...taskList.options].map((o) => o.value));
    for (const t of [...tasks].sort()) {
      if (!have.has(t)) {
        taskList.append(h("option", { value: t }));
        have.add(t);
      }
    }
  }

  function matches(r) {
    // the server's meaning: the task filter is a case-insensitive part of the task's name
    return (!filters.phase || phaseOf(r) === filters.phase) &&
      (!filters.task || (r.task || "").toLowerCase().includes(filters.task.toLowerCase()));
  }

  function cell(tr, i) {
    return tr.children[i];
  }

  function makeRow(name) {
    const tr = h("tr", { "data-run": name },
      h("td", null, h("a", { href: runPath(name), "data-nav": "" }, name)),
      h("td"), h("td"), h("td"), h("td", { class: "num" }), h("td"), h("td", { class: "err" }));
    return tr;
  }

  function fillRow(tr, r) {
    const key = JSON.stringify([r.task, r.phase, r.start, r.end, r.actions, r.error]);
    if (tr.dataset.key !== key) {
      tr.dataset.key = key;
      tr.dataset.phase = phaseOf(r);
      cell(tr, 1).textContent = shown(r.task || "");
      cell(tr, 2).replaceChildren(badge(phaseOf(r)));
      cell(tr, 3).textContent = fmtTime(r.start);
      cell(tr, 5).replaceChildren(countsEl(r.actions));
      // a chained error ("task 'main' (action a0) failed: task 'x' (action a3) failed: ValueError: msg") is cut
      // to its cause here, which an ellipsis at the end would hide; the tooltip has all of it
      cell(tr, 6).textContent = shown(causeOf(r.error || ""));
      cell(tr, 6).title = shown(r.error || "");
    }
    cell(tr, 4).textContent = fmtDur(r.end != null || TERMINAL.has(phaseOf(r)) ? r.duration : elapsed(r) ?? r.duration);
  }

  function render(fresh) {
    const shown = [...runs.values()].filter(matches)
      .sort((a, b) => (b.start ?? Infinity) - (a.start ?? Infinity) || (a.name < b.name ? 1 : -1));
    const keep = new Set(shown.map((r) => r.name));
    for (const [name, tr] of rowsByName) {
      if (!keep.has(name)) {
        tr.remove();
        rowsByName.delete(name);
      }
    }
    shown.forEach((r, i) => {
      let tr = rowsByName.get(r.name);
      if (!tr) {
        tr = makeRow(r.name);
        rowsByName.set(r.name, tr);
        if (fresh) tr.classList.add("fresh");
      }
      fillRow(tr, r);
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
    const running = shown.filter((r) => !TERMINAL.has(phaseOf(r))).length;
    count.textContent = `${shown.length} run${shown.length === 1 ? "" : "s"}` + (running ? `, ${running} going` : "") +
      (capped ? ` (the newest ${LIMIT.toLocaleString("en")}; filter to find older ones)` : "");
    table.hidden = shown.length === 0;
    empty.hidden = shown.length !== 0;
    if (shown.length === 0) {
      empty.replaceChildren(filters.phase || filters.task
        ? "No runs match these filters."
        : h("span", null, "No runs yet. Start one with ", h("code", null, "flyte run FILE.py TASK"),
          "; it appears here by itself."));
    }
  }

  async function load() {
    const my = ++gen;
    const p = new URLSearchParams();
    if (cursor) {
      p.set("since", cursor);
    } else {
      p.set("limit", String(LIMIT));
      if (filters.phase) p.set("phase", filters.phase);
      if (filters.task) p.set("task", filters.task);
    }
    try {
      const body = await api(`/api/runs?${p}`);
      if (my !== gen) return;
      errBox.hidden = true;
      const fresh = loaded;
      if (!loaded) capped = (body.runs || []).length >= LIMIT;
      for (const name of body.gone || []) runs.delete(name); // its folder was deleted: its row goes
      for (const r of body.runs || []) {
        runs.set(r.name, r);
        if (r.task) tasks.add(r.task);
      }
      cursor = body.cursor || cursor;
      loaded = true;
      refreshTaskOptions();
      render(fresh);
    } catch (e) {
      if (my !== gen) return;
      errBox.textContent = `Could not load the runs: ${e.message}`;
      errBox.hidden = false;
      throw e;
    }
  }

  load().catch(() => {});
  const poll = poller(async () => {
    if (!loaded) return load();
    return load();
  });
  const tick = setInterval(() => {
    for (const [name, tr] of rowsByName) {
      const r = runs.get(name);
      if (r && !TERMINAL.has(phaseOf(r))) fillRow(tr, r);
    }
  }, 1000);
  return { kind: "runs", stop() { poll.stop(); clearInterval(tick); clearTimeout(typing); gen++; } };
}
