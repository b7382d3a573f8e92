// Flyte console: the runs list and the run page, over the JSON API in /api (see docs/console.md).
// Plain JavaScript, no build step, no dependencies. Every string that comes from the API is data: it is put
// into the page with textContent / text nodes (the h() helper), never parsed as HTML.
"use strict";

(() => {
  const TERMINAL = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "CACHED"]);
  const PHASES = ["QUEUED", "WAITING_FOR_RESOURCES", "INITIALIZING", "RUNNING", "SUCCEEDED", "CACHED",
    "FAILED", "TIMED_OUT", "ABORTED"];
  const FAILED = new Set(["FAILED", "TIMED_OUT"]);
  const POLL_MS = 1000;
  const ROW = 24; // px, one tree row = one timeline row (keep in step with --row-h)
  const HEAD = 28; // px, the sticky header of the tree and the timeline's time axis

  // ---------------------------------------------------------------- small helpers

  /** Make an element. Children that are not Nodes become text nodes; props never set innerHTML. */
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v == null || v === false) continue;
        if (k === "class") el.className = v;
        else if (k === "text") el.textContent = String(v);
        else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
        else if (k === "dataset") Object.assign(el.dataset, v);
        else el.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }

  const enc = encodeURIComponent;
  const runPath = (run) => `/runs/${enc(run)}`;
  const actionPath = (run, a) => `/runs/${enc(run)}/actions/${enc(a)}`;
  const apiRun = (run) => `/api/runs/${enc(run)}`;
  const apiAction = (run, a) => `/api/runs/${enc(run)}/actions/${enc(a)}`;

  function phaseOf(x) {
    return (x && x.phase) || "UNKNOWN";
  }

  function badge(phase) {
    return h("span", { class: `phase ${phase}`, "data-phase": phase }, phase);
  }

  function dot(phase) {
    return h("span", { class: `dot ${phase}`, "aria-hidden": "true" });
  }

  function fmtDur(s) {
    if (s == null || !isFinite(s)) return "";
    if (s < 0) s = 0;
    if (s < 1) return `${Math.round(s * 1000)} ms`;
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${Math.floor(s % 60)}s`;
    return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  }

  function pad(n, w = 2) {
    return String(n).padStart(w, "0");
  }

  function fmtTime(ts) {
    if (ts == null) return "";
    const d = new Date(ts * 1000);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  const now = () => Date.now() / 1000;

  /** Seconds an item has run: end-or-now minus start. */
  function elapsed(x) {
    if (x.start == null) return null;
    const end = x.end != null ? x.end : (TERMINAL.has(phaseOf(x)) ? x.start : now());
    return end - x.start;
  }

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  const conn = () => document.getElementById("conn");

  // A devbox started with --auth wants a bearer token on /api (but /api/info): asked for once on a 401, kept in
  // sessionStorage (this tab only), sent as a header (no cookie, so no cross-site request can use it).
  const TOKEN_KEY = "flyte-console-token";
  let asking = null;
  function askToken() {
    if (asking) return asking;
    asking = new Promise((resolve) => {
      const dlg = document.getElementById("token");
      const input = document.getElementById("token-input");
      const done = (token) => {
        document.getElementById("token-ok").onclick = null;
        document.getElementById("token-cancel").onclick = null;
        if (dlg.open) dlg.close();
        if (token) sessionStorage.setItem(TOKEN_KEY, token);
        asking = null;
        resolve(token);
      };
      input.value = "";
      document.getElementById("token-ok").onclick = () => done(input.value.trim());
      document.getElementById("token-cancel").onclick = () => done("");
      input.onkeydown = (ev) => { if (ev.key === "Enter") done(input.value.trim()); };
      dlg.showModal();
    });
    return asking;
  }

  async function api(path, opts, retried) {
    let r;
    const headers = { Accept: "application/json" };
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
      if (await askToken()) return api(path, opts, true);
    }
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    if (!r.ok) throw new ApiError((body && body.error) || `${r.status} ${r.statusText}`, r.status);
    return body;
  }

  let infoPromise = null;
  function info() {
    if (!infoPromise) {
      infoPromise = api("/api/info").catch(() => ({ source: "local", title: "", can_abort: false, version: "" }));
    }
    return infoPromise;
  }

  /** A loop that calls fn every POLL_MS until stopped; skips ticks while the tab is hidden. */
  function poller(fn) {
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

  // ---------------------------------------------------------------- routing

  let page = null; // the current page: {kind, stop(), ...}
  const main = () => document.getElementById("main");

  function navigate(path, replace) {
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    route();
  }

  function parsePath() {
    try {
      return location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    } catch (e) {
      return null;
    }
  }

  function route() {
    const parts = parsePath();
    if (parts && parts[0] === "runs" && (parts.length === 2 || (parts.length === 4 && parts[2] === "actions"))) {
      const action = parts.length === 4 ? parts[3] : null;
      if (page && page.kind === "run" && page.run === parts[1]) {
        page.selectFromUrl(action);
        return;
      }
      swap(() => runPage(parts[1], action));
    } else if (parts && parts.length === 0) {
      swap(runsPage);
    } else {
      swap(() => {
        document.title = "Not found · Flyte console";
        main().replaceChildren(h("h1", null, "Not found"),
          h("p", null, "No page at ", h("code", null, location.pathname), ". ",
            h("a", { href: "/", "data-nav": "" }, "Back to the runs list")));
        return { kind: "notfound", stop() {} };
      });
    }
  }

  function swap(make) {
    if (page) page.stop();
    page = null;
    tip.hide();
    page = make();
  }

  document.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target.closest && ev.target.closest("a[data-nav]");
    if (!a) return;
    ev.preventDefault();
    navigate(a.getAttribute("href"));
  });
  window.addEventListener("popstate", route);

  // ---------------------------------------------------------------- tooltip

  const tip = (() => {
    let el = null;
    return {
      show(x, y, text) {
        if (!el) {
          el = h("div", { class: "tip", role: "tooltip" });
          document.body.append(el);
        }
        el.textContent = text;
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

  // ---------------------------------------------------------------- runs list

  function countsEl(counts) {
    const el = h("span", { class: "counts" });
    if (!counts) return el;
    el.append(h("span", { class: "c", title: "actions" }, String(counts.total ?? 0)));
    for (const p of PHASES) {
      if (counts[p]) el.append(h("span", { class: "c", title: `${counts[p]} ${p}` }, dot(p), String(counts[p])));
    }
    return el;
  }

  function runsPage() {
    document.title = "Runs · Flyte console";
    const q = new URLSearchParams(location.search);
    const filters = { phase: q.get("phase") || "", task: q.get("task") || "" };
    const runs = new Map();
    const rowsByName = new Map();
    const tasks = new Set();
    let cursor = null;
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
    const empty = h("div", { class: "empty", hidden: true });
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
        cell(tr, 1).textContent = r.task || "";
        cell(tr, 2).replaceChildren(badge(phaseOf(r)));
        cell(tr, 3).textContent = fmtTime(r.start);
        cell(tr, 5).replaceChildren(countsEl(r.actions));
        cell(tr, 6).textContent = r.error || "";
        cell(tr, 6).title = r.error || "";
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
      count.textContent = `${shown.length} run${shown.length === 1 ? "" : "s"}` + (running ? `, ${running} going` : "");
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
        p.set("limit", "1000");
        if (filters.phase) p.set("phase", filters.phase);
        if (filters.task) p.set("task", filters.task);
      }
      try {
        const body = await api(`/api/runs?${p}`);
        if (my !== gen) return;
        errBox.hidden = true;
        const fresh = loaded;
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

  // ---------------------------------------------------------------- run page: the action tree

  /** Phase of a folded node (a group or flyte.map items) from the phases of what it holds. */
  function summaryPhase(counts, total) {
    for (const p of ["FAILED", "TIMED_OUT", "ABORTED", "RUNNING", "INITIALIZING", "WAITING_FOR_RESOURCES"]) {
      if (counts[p]) return p;
    }
    if (counts.QUEUED) return counts.QUEUED === total ? "QUEUED" : "RUNNING";
    if (counts.CACHED === total) return "CACHED";
    return total ? "SUCCEEDED" : "UNKNOWN";
  }

  function byStart(a, b) {
    const sa = a.start ?? Infinity;
    const sb = b.start ?? Infinity;
    if (sa !== sb) return sa - sb;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  }

  /**
   * The tree of a run: action nodes under their parents; actions of one group under a group node; the items of
   * one flyte.map under one map node (folded by default). Returns {roots, byKey}.
   */
  function buildTree(actions) {
    const byParent = new Map();
    const roots = [];
    for (const a of actions.values()) {
      if (a.parent == null || !actions.has(a.parent)) roots.push(a);
      else {
        let list = byParent.get(a.parent);
        if (!list) byParent.set(a.parent, (list = []));
        list.push(a);
      }
    }
    const byKey = new Map();

    function synthetic(kind, key, label, parentNode) {
      const n = { kind, key, label, children: [], parent: parentNode, counts: {}, total: 0, start: null, end: null,
        open: false, actions: [] };
      byKey.set(key, n);
      return n;
    }

    function actionNode(a, parentNode) {
      const n = { kind: "action", key: a.name, a, children: [], parent: parentNode };
      byKey.set(a.name, n);
      n.children = childrenOf(a.name, n);
      return n;
    }

    function childrenOf(parentName, parentNode) {
      const kids = byParent.get(parentName);
      if (!kids) return [];
      kids.sort(byStart);
      const out = [];
      const groups = new Map();
      const maps = new Map();
      // a child inherits its parent's group (records repeat it); a flyte.map's items carry their map as group
      const parentGroup = actions.has(parentName) ? actions.get(parentName).group : null;
      for (const a of kids) {
        let container = out;
        let holder = parentNode;
        let mapsHere = maps;
        const folded = [];
        const grp = a.group && a.group !== parentGroup && !(a.map && String(a.map.of) === a.group) ? a.group : null;
        if (grp) {
          let g = groups.get(grp);
          if (!g) {
            g = synthetic("group", `${parentName}\u0000g\u0000${grp}`, grp, parentNode);
            g.maps = new Map();
            groups.set(grp, g);
            out.push(g);
          }
          container = g.children;
          holder = g;
          mapsHere = g.maps;
          folded.push(g);
        }
        if (a.map) {
          const of = String(a.map.of);
          let m = mapsHere.get(of);
          if (!m) {
            m = synthetic("map", `${holder.key}\u0000m\u0000${of}`, of, holder);
            mapsHere.set(of, m);
            container.push(m);
          }
          container = m.children;
          holder = m;
          folded.push(m);
        }
        container.push(actionNode(a, holder));
        for (const f of folded) {
          const p = phaseOf(a);
          f.counts[p] = (f.counts[p] || 0) + 1;
          f.total += 1;
          f.actions.push(a);
          if (a.start != null && (f.start == null || a.start < f.start)) f.start = a.start;
        }
      }
      for (const m of [...maps.values(), ...[...groups.values()].flatMap((g) => [...g.maps.values()])]) {
        m.children.sort((x, y) => (x.a.map.index ?? 0) - (y.a.map.index ?? 0));
      }
      for (const f of [...groups.values(), ...maps.values(), ...[...groups.values()].flatMap((g) => [...g.maps.values()])]) {
        f.phase = summaryPhase(f.counts, f.total);
        let end = null;
        let done = true;
        for (const a of f.actions) {
          if (a.end == null) done = false;
          else if (end == null || a.end > end) end = a.end;
        }
        f.end = done ? end : null;
      }
      return out;
    }

    // A deep chain of nested calls would overflow recursion one action per frame; build roots iteratively per
    // level is not needed below ~5,000 levels, which no real run has.
    const rootNodes = roots.sort(byStart).map((a) => actionNode(a, null));
    return { roots: rootNodes, byKey };
  }

  function nodePhase(n) {
    return n.kind === "action" ? phaseOf(n.a) : n.phase;
  }

  function nodeStart(n) {
    return n.kind === "action" ? n.a.start : n.start;
  }

  function nodeEnd(n) {
    return n.kind === "action" ? n.a.end : n.end;
  }

  // ---------------------------------------------------------------- run page

  function runPage(runName, wantAction) {
    document.title = `${runName} · Flyte console`;
    const st = {
      run: null,
      actions: new Map(),
      cursor: null,
      tree: { roots: [], byKey: new Map() },
      rows: [],
      toggled: new Set(), // keys whose open state differs from the default
      selected: null, // node key
      active: 0, // keyboard row
      hover: -1,
      view: null, // {t0, t1}
      fit: true, // follow the run's extent until the user zooms or pans
      filterText: "",
      filterPhase: "",
      stopped: false,
      detailGen: 0,
      logs: null,
      canAbort: false,
    };

    // ---- skeleton
    const head = h("div", { class: "runhead" });
    const runErr = h("div", { class: "runerr", role: "alert", hidden: true });
    const notice = h("div", { class: "notice", role: "status", hidden: true });
    const search = h("input", { type: "search", placeholder: "Find task or action…", "aria-label": "Find task or action" });
    const phaseSel = h("select", { "aria-label": "Show actions in phase" },
      h("option", { value: "" }, "All phases"), PHASES.map((p) => h("option", { value: p }, p)));
    const btn = (label, aria, fn) => h("button", { type: "button", "aria-label": aria, title: aria, onclick: fn }, label);
    const toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Timeline" },
      btn("−", "Zoom out", () => zoom(1.6)), btn("+", "Zoom in", () => zoom(1 / 1.6)), btn("Fit", "Fit the whole run", fitView),
      btn("Expand all", "Expand all groups and maps", () => setAllOpen(true)),
      btn("Collapse all", "Collapse all", () => setAllOpen(false)),
      search, phaseSel,
      h("span", { class: "hint" }, "Ctrl+wheel or wheel over the time axis zooms; drag pans; arrows move in the tree"));
    const treeBody = h("div", { class: "tree-rows" });
    const tree = h("div", { class: "tree", role: "tree", tabindex: "0", "aria-label": "Actions of the run" },
      h("div", { class: "tree-head" }, "Action"), treeBody);
    const canvas = h("canvas", { tabindex: "0", role: "img",
      "aria-label": "Timeline: one bar per action attempt, coloured by phase. + and - zoom, left and right pan, 0 fits." });
    const tlCol = h("div", { class: "tl-col" }, h("div", { class: "tl-sticky" }, canvas));
    const inner = h("div", { class: "gantt-inner" }, tree, tlCol);
    const gantt = h("div", { class: "gantt" }, inner);
    const details = h("section", { class: "details", "aria-label": "Selected action", "aria-live": "off" });
    main().replaceChildren(head, runErr, notice, toolbar, gantt, details);

    // ---- data
    async function load() {
      const since = st.cursor ? `?since=${enc(st.cursor)}` : "";
      let body;
      try {
        body = await api(`${apiRun(runName)}${since}`);
      } catch (e) {
        if (!st.run) {
          main().replaceChildren(h("h1", null, runName),
            h("div", { class: "notice bad", role: "alert" },
              e.status === 404 ? `No run named "${runName}" in this console's run store.` : `Could not load the run: ${e.message}`),
            h("p", null, h("a", { href: "/", "data-nav": "" }, "Back to the runs list")));
          return false;
        }
        throw e;
      }
      if (st.stopped) return false;
      const first = !st.run;
      if (first) performance.mark("flyte-console:run-data"); // the run's JSON is parsed (benchmarks/console)
      st.run = Object.assign(st.run || {}, body.run);
      st.cursor = body.cursor || st.cursor;
      let structural = first;
      const changed = new Set();
      for (const a of body.actions || []) {
        const old = st.actions.get(a.name);
        if (!old || old.parent !== a.parent || old.group !== a.group || JSON.stringify(old.map) !== JSON.stringify(a.map) ||
          old.start !== a.start || old.phase !== a.phase) structural = true;
        st.actions.set(a.name, a);
        changed.add(a.name);
      }
      renderHead();
      if (structural) rebuild();
      else scheduleDraw();
      if (first) {
        if (wantAction) selectFromUrl(wantAction);
        else if (st.rows.length) select(st.rows[0].node.key, { history: "none", focus: false });
      } else if (st.selected && changed.has(st.selected)) {
        showDetails(st.selected, true);
      }
      return !TERMINAL.has(phaseOf(st.run));
    }

    function renderHead() {
      const r = st.run;
      const meta = h("span", { class: "meta" },
        h("span", null, "task ", h("code", null, r.task || "")),
        r.start != null ? h("span", null, "started ", fmtTime(r.start)) : null,
        h("span", { class: "dur" }, fmtDur(r.end != null ? r.duration : elapsed(r) ?? r.duration)),
        countsEl(r.actions));
      const abort = st.canAbort && !TERMINAL.has(phaseOf(r))
        ? h("button", { type: "button", class: "danger", id: "abort", onclick: confirmAbort }, "Abort run…") : null;
      head.replaceChildren(
        h("h1", null, h("a", { href: "/", "data-nav": "", class: "muted", "aria-label": "Runs" }, "Runs"), " / ", r.name || runName),
        ...[badge(phaseOf(r)), meta, h("span", { class: "spacer" }), abort].filter(Boolean));
      runErr.textContent = r.error || "";
      runErr.hidden = !r.error;
    }

    // ---- tree
    function defaultOpen(n) {
      return n.kind !== "map";
    }

    function isOpen(n) {
      return n.children.length > 0 && defaultOpen(n) !== st.toggled.has(n.key);
    }

    function setOpen(n, open) {
      if (isOpen(n) === open || !n.children.length) return;
      if (st.toggled.has(n.key)) st.toggled.delete(n.key);
      else st.toggled.add(n.key);
      flatten();
    }

    function setAllOpen(open) {
      for (const n of st.tree.byKey.values()) {
        if (!n.children.length) continue;
        const d = defaultOpen(n);
        if (d === open) st.toggled.delete(n.key);
        else st.toggled.add(n.key);
      }
      flatten();
    }

    function rebuild() {
      const t = performance.now();
      st.tree = buildTree(st.actions);
      flatten();
      st.lastRebuildMs = performance.now() - t;
    }

    function nodeMatches(n) {
      if (n.kind !== "action") return false;
      if (st.filterPhase && phaseOf(n.a) !== st.filterPhase) return false;
      if (st.filterText) {
        const t = st.filterText;
        return (n.a.task || "").toLowerCase().includes(t) || n.a.name.toLowerCase().includes(t);
      }
      return true;
    }

    function flatten() {
      const selKey = st.selected;
      const rows = [];
      if (st.filterText || st.filterPhase) {
        // a flat list of the matching actions, in tree order
        const walk = (nodes) => {
          for (const n of nodes) {
            if (nodeMatches(n)) rows.push({ node: n, depth: 0 });
            walk(n.children);
          }
        };
        walk(st.tree.roots);
      } else {
        const stack = [];
        for (let i = st.tree.roots.length - 1; i >= 0; i--) stack.push([st.tree.roots[i], 0]);
        while (stack.length) {
          const [n, d] = stack.pop();
          rows.push({ node: n, depth: d });
          if (isOpen(n)) for (let i = n.children.length - 1; i >= 0; i--) stack.push([n.children[i], d + 1]);
        }
      }
      st.rows = rows;
      st.rowIndex = new Map(rows.map((r, i) => [r.node.key, i]));
      if (selKey != null && st.rowIndex.has(selKey)) st.active = st.rowIndex.get(selKey);
      st.active = Math.max(0, Math.min(st.active, rows.length - 1));
      inner.style.height = `${HEAD + rows.length * ROW}px`;
      tree.style.height = `${HEAD + rows.length * ROW}px`;
      renderRows();
      scheduleDraw();
    }

    function rowLabel(n) {
      if (n.kind === "map") return [`map ${n.label}`, `${n.total} item${n.total === 1 ? "" : "s"}`];
      if (n.kind === "group") return [`group ${n.label}`, `${n.total} action${n.total === 1 ? "" : "s"}`];
      const a = n.a;
      const label = a.map ? `#${a.map.index} ${a.task || a.name}` : a.task || a.name;
      const d = elapsed(a);
      // short names (a0, a12: local runs) help; a devbox's long generated ids only crowd the label out
      const name = a.name.length <= 8 ? a.name : "";
      return [label, [name, d != null ? fmtDur(d) : "", a.cache_hit ? "cached" : ""].filter(Boolean).join(" · ")];
    }

    function renderRows() {
      const top = gantt.scrollTop;
      const vh = gantt.clientHeight || 400;
      const first = Math.max(0, Math.floor((top - HEAD) / ROW) - 8);
      const last = Math.min(st.rows.length, Math.ceil((top + vh - HEAD) / ROW) + 8);
      const els = [];
      for (let i = first; i < last; i++) {
        const { node: n, depth } = st.rows[i];
        const [label, sub] = rowLabel(n);
        const open = isOpen(n);
        const phase = nodePhase(n);
        const el = h("div", {
          class: `row${n.kind !== "action" ? " synthetic" : ""}${n.key === st.selected ? " sel" : ""}` +
            `${i === st.active ? " active" : ""}${i === st.hover ? " hover" : ""}`,
          id: `row-${i}`, role: "treeitem", "aria-level": depth + 1, "aria-selected": n.key === st.selected ? "true" : "false",
          "aria-expanded": n.children.length ? String(open) : null, "data-key": n.key, "data-phase": phase,
          "data-kind": n.kind,
        },
        h("span", { class: "tw", "aria-hidden": "true" }, n.children.length ? (open ? "▾" : "▸") : ""),
        dot(phase), h("span", { class: "label" }, label), h("span", { class: "sub" }, sub));
        el.style.top = `${HEAD + i * ROW}px`;
        el.style.paddingLeft = `${6 + depth * 16}px`;
        el.title = `${label} (${phase})`;
        els.push(el);
      }
      treeBody.replaceChildren(...els);
      if (st.rows.length) tree.setAttribute("aria-activedescendant", `row-${st.active}`);
      else tree.removeAttribute("aria-activedescendant");
    }

    treeBody.addEventListener("click", (ev) => {
      const el = ev.target.closest(".row");
      if (!el) return;
      const i = Number(el.id.slice(4));
      const n = st.rows[i] && st.rows[i].node;
      if (!n) return;
      st.active = i;
      if (ev.target.closest(".tw") && n.children.length) setOpen(n, !isOpen(n));
      select(n.key, { history: "push", focus: false });
    });
    treeBody.addEventListener("dblclick", (ev) => {
      const el = ev.target.closest(".row");
      const n = el && st.rows[Number(el.id.slice(4))];
      if (n && n.node.children.length) setOpen(n.node, !isOpen(n.node));
    });

    function moveActive(i, how) {
      if (!st.rows.length) return;
      st.active = Math.max(0, Math.min(st.rows.length - 1, i));
      ensureVisible(st.active);
      select(st.rows[st.active].node.key, { history: how || "replace", focus: false, debounce: true });
    }

    function keyNav(ev) {
      const n = st.rows[st.active] && st.rows[st.active].node;
      const pg = Math.max(1, Math.floor((gantt.clientHeight - HEAD) / ROW) - 1);
      switch (ev.key) {
        case "ArrowDown": moveActive(st.active + 1); break;
        case "ArrowUp": moveActive(st.active - 1); break;
        case "PageDown": moveActive(st.active + pg); break;
        case "PageUp": moveActive(st.active - pg); break;
        case "Home": moveActive(0); break;
        case "End": moveActive(st.rows.length - 1); break;
        case "ArrowRight":
          if (!n) return;
          if (n.children.length && !isOpen(n)) setOpen(n, true);
          else if (n.children.length) moveActive(st.active + 1);
          break;
        case "ArrowLeft": {
          if (!n) return;
          if (n.children.length && isOpen(n)) setOpen(n, false);
          else {
            const d = st.rows[st.active].depth;
            for (let i = st.active - 1; i >= 0; i--) if (st.rows[i].depth < d) { moveActive(i); break; }
          }
          break;
        }
        case "Enter":
        case " ":
          if (!n) return;
          if (n.children.length && n.kind !== "action") setOpen(n, !isOpen(n));
          select(n.key, { history: "push", focus: false });
          break;
        default:
          return false;
      }
      ev.preventDefault();
      return true;
    }
    tree.addEventListener("keydown", keyNav);

    function ensureVisible(i) {
      const y = HEAD + i * ROW;
      const vh = gantt.clientHeight;
      if (y - HEAD < gantt.scrollTop) gantt.scrollTop = y - HEAD;
      else if (y + ROW > gantt.scrollTop + vh) gantt.scrollTop = y + ROW - vh;
      renderRows();
      scheduleDraw();
    }

    let scrollQueued = false;
    gantt.addEventListener("scroll", () => {
      if (scrollQueued) return;
      scrollQueued = true;
      requestAnimationFrame(() => {
        scrollQueued = false;
        renderRows();
        draw();
      });
    }, { passive: true });

    search.addEventListener("input", () => {
      st.filterText = search.value.trim().toLowerCase();
      flatten();
    });
    phaseSel.addEventListener("change", () => {
      st.filterPhase = phaseSel.value;
      flatten();
    });

    // ---- selection, deep links
    let detailTimer = null;
    function select(key, { history: how = "push", focus = false, debounce = false } = {}) {
      const changed = st.selected !== key;
      st.selected = key;
      if (st.rowIndex && st.rowIndex.has(key)) st.active = st.rowIndex.get(key);
      renderRows();
      scheduleDraw();
      const n = st.tree.byKey.get(key);
      const path = n && n.kind === "action" ? actionPath(runName, key) : runPath(runName);
      if (how === "push" && location.pathname !== path) history.pushState(null, "", path);
      else if (how === "replace" && location.pathname !== path) history.replaceState(null, "", path);
      if (focus) tree.focus();
      if (!changed && details.dataset.key === key) return;
      clearTimeout(detailTimer);
      if (debounce) detailTimer = setTimeout(() => showDetails(key, false), 120);
      else showDetails(key, false);
    }

    function selectFromUrl(actionName) {
      if (!st.run) return;
      if (actionName == null) {
        if (st.rows.length && !st.selected) select(st.rows[0].node.key, { history: "none" });
        return;
      }
      const n = st.tree.byKey.get(actionName);
      if (!n || n.kind !== "action") {
        notice.textContent = `No action named "${actionName}" in run ${runName}.`;
        notice.classList.add("bad");
        notice.hidden = false;
        return;
      }
      notice.hidden = true;
      // open everything above it, so its row exists
      let opened = false;
      for (let p = n.parent; p; p = p.parent) {
        if (!isOpen(p)) {
          st.toggled.has(p.key) ? st.toggled.delete(p.key) : st.toggled.add(p.key);
          opened = true;
        }
      }
      if (st.filterText || st.filterPhase) {
        st.filterText = "";
        st.filterPhase = "";
        search.value = "";
        phaseSel.value = "";
        opened = true;
      }
      if (opened) flatten();
      select(actionName, { history: "none" });
      if (st.rowIndex.has(actionName)) {
        const i = st.rowIndex.get(actionName);
        gantt.scrollTop = Math.max(0, HEAD + i * ROW - gantt.clientHeight / 2);
        renderRows();
        scheduleDraw();
      }
    }

    // ---- details of the selected node
    function kv(pairs) {
      return h("dl", { class: "kv" }, pairs.filter((p) => p && p[1] != null && p[1] !== "").map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
    }

    function valuesTable(title, vals, cls) {
      if (!vals || !vals.length) return h("div", { class: cls }, h("h3", null, title), h("p", { class: "muted" }, "None."));
      return h("div", { class: cls }, h("h3", null, title),
        h("table", { class: "vals" },
          h("thead", null, h("tr", null, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Value"))),
          h("tbody", null, vals.map((v) => h("tr", null,
            h("td", null, h("code", null, v.name)), h("td", null, h("code", null, v.type || "")),
            h("td", { class: "v" }, h("pre", null, v.value ?? ""), v.uri ? h("div", { class: "muted" }, h("code", null, v.uri)) : null))))));
    }

    function errorBox(err) {
      if (!err) return null;
      return h("div", { class: "error-box", role: "region", "aria-label": "Error" },
        h("h3", null, "Error", err.kind ? h("span", { class: "muted" }, ` (${err.kind})`) : null),
        h("div", { class: "msg" }, err.message || ""),
        err.traceback ? h("details", { open: true }, h("summary", null, "Traceback"), h("pre", { class: "traceback" }, err.traceback)) : null);
    }

    function stopLogs() {
      if (st.logs) st.logs.stop();
      st.logs = null;
    }

    function logsSection(actionName) {
      const pre = h("pre", { class: "logtext", tabindex: "0", "aria-label": "Logs" });
      const status = h("div", { class: "muted", role: "status" }, "Loading logs…");
      const sec = h("div", { class: "logs" }, h("h3", null, "Logs"), pre, status);
      let offset = 0;
      let total = 0;
      const MAX = 2_000_000; // characters kept in the page; older text is dropped from the top
      let stopped = false;
      let timer = null;
      const step = async () => {
        if (stopped) return;
        let more = false;
        try {
          const body = await api(`${apiAction(runName, actionName)}/logs?offset=${offset}`);
          if (stopped) return;
          const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          if (body.text) {
            pre.append(document.createTextNode(body.text));
            total += body.text.length;
            if (total > MAX) {
              pre.textContent = pre.textContent.slice(-MAX / 2);
              total = pre.textContent.length;
            }
            if (atBottom) pre.scrollTop = pre.scrollHeight;
          }
          more = body.offset > offset;
          offset = body.offset ?? offset;
          if (body.done && !more) {
            status.textContent = total ? "End of log." : "No log output.";
            return;
          }
          status.textContent = "Live: following the log…";
        } catch (e) {
          status.textContent = `Could not read the logs: ${e.message}`;
          if (e.status && e.status !== 0) return;
        }
        timer = setTimeout(step, more ? 50 : POLL_MS);
      };
      step();
      return { el: sec, stop() { stopped = true; clearTimeout(timer); } };
    }

    async function showDetails(key, refresh) {
      const n = st.tree.byKey.get(key);
      const my = ++st.detailGen;
      if (!n) {
        stopLogs();
        details.replaceChildren();
        return;
      }
      if (n.kind !== "action") {
        stopLogs();
        details.dataset.key = key;
        const failed = n.actions.filter((a) => FAILED.has(phaseOf(a))).slice(0, 50);
        details.replaceChildren(...[
          h("div", { class: "dhead" }, h("h2", null, n.kind === "map" ? `map ${n.label}` : `group ${n.label}`), badge(n.phase)),
          kv([["Holds", `${n.total} action${n.total === 1 ? "" : "s"}`],
            ["Started", fmtTime(n.start)], ["Ended", fmtTime(n.end)],
            ["Duration", n.start != null ? fmtDur((n.end ?? now()) - n.start) : null]]),
          countsEl(Object.assign({ total: n.total }, n.counts)),
          failed.length ? h("div", null, h("h3", null, "Failed"),
            h("ul", null, failed.map((a) => h("li", null,
              h("a", { href: actionPath(runName, a.name), "data-nav": "" }, a.map ? `#${a.map.index} ${a.name}` : a.name),
              a.error ? h("span", { class: "muted" }, ` ${a.error}`) : null)))) : null].filter(Boolean));
        return;
      }
      let d;
      try {
        d = await api(apiAction(runName, key));
      } catch (e) {
        if (my !== st.detailGen || st.stopped) return;
        if (!refresh) {
          stopLogs();
          details.dataset.key = key;
          details.replaceChildren(h("div", { class: "notice bad", role: "alert" }, `Could not load action ${key}: ${e.message}`));
        }
        return;
      }
      if (my !== st.detailGen || st.stopped) return;
      const keepLogs = refresh && details.dataset.key === key && st.logs && d.has_logs;
      const attempts = d.attempts || [];
      const parts = [
        h("div", { class: "dhead" }, h("h2", null, d.task || d.name), badge(phaseOf(d)),
          d.cache_hit ? h("span", { class: "muted" }, "cache hit") : null),
        kv([
          ["Action", h("code", null, d.name)],
          ["Parent", d.parent ? h("a", { href: actionPath(runName, d.parent), "data-nav": "" }, d.parent) : null],
          ["Group", d.group],
          ["Map item", d.map ? `#${d.map.index} of ${d.map.of}` : null],
          ["Started", fmtTime(d.start)], ["Ended", fmtTime(d.end)],
          ["Duration", d.start != null ? fmtDur(elapsed(d)) : null],
          ["Attempts", attempts.length > 1 ? String(attempts.length) : null],
        ]),
        attempts.length > 1 ? h("table", { class: "attempts", "aria-label": "Attempts" },
          h("thead", null, h("tr", null, ["Attempt", "Phase", "Started", "Duration"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, attempts.map((t) => h("tr", null, h("td", null, String(t.n)), h("td", null, badge(phaseOf(t))),
            h("td", null, fmtTime(t.start)), h("td", null, fmtDur(elapsed(t))))))) : null,
        errorBox(d.error),
        valuesTable("Inputs", d.inputs, "inputs"),
        valuesTable("Outputs", d.outputs, "outputs"),
      ];
      let logsEl = null;
      if (keepLogs) logsEl = details.querySelector(".logs");
      else {
        stopLogs();
        if (d.has_logs) {
          st.logs = logsSection(key);
          logsEl = st.logs.el;
        }
      }
      parts.push(logsEl || h("div", { class: "logs" }, h("h3", null, "Logs"), h("p", { class: "muted" },
        st.source === "local" ? "Local runs keep no logs: the output went to the terminal that ran the run."
          : "No logs for this action.")));
      if (d.has_report) {
        const old = refresh && details.querySelector(".report");
        parts.push(old || h("div", { class: "report" }, h("h3", null, "Report"),
          h("iframe", { sandbox: "allow-scripts", src: `${apiAction(runName, key)}/report`, title: `Report of ${d.task || d.name}`,
            referrerpolicy: "no-referrer", loading: "lazy" })));
      }
      details.dataset.key = key;
      details.replaceChildren(...parts.filter(Boolean));
    }

    // ---- abort
    function confirmAbort() {
      const dlg = document.getElementById("confirm");
      document.getElementById("confirm-text").textContent =
        `Abort run ${runName}? Its running actions are stopped and it ends as ABORTED.`;
      const ok = document.getElementById("confirm-ok");
      const cancel = document.getElementById("confirm-cancel");
      const close = () => {
        ok.onclick = null;
        cancel.onclick = null;
        if (dlg.open) dlg.close();
      };
      cancel.onclick = close;
      ok.onclick = async () => {
        close();
        notice.classList.remove("bad");
        notice.textContent = "Aborting…";
        notice.hidden = false;
        try {
          const body = await api(`${apiRun(runName)}/abort`, { method: "POST" });
          notice.textContent = `Abort requested (run is ${body && body.phase ? body.phase : "stopping"}).`;
          if (st.run && body && body.phase) {
            st.run.phase = body.phase;
            renderHead();
          }
        } catch (e) {
          notice.textContent = e.status === 403 ? `Not allowed to abort: ${e.message}` : `Abort failed: ${e.message}`;
          notice.classList.add("bad");
        }
      };
      if (typeof dlg.showModal === "function") dlg.showModal();
      else if (window.confirm(`Abort run ${runName}?`)) ok.onclick();
    }

    // ---- timeline
    const ctx = canvas.getContext("2d");
    let colors = {};
    function readColors() {
      const cs = getComputedStyle(document.documentElement);
      const v = (n) => cs.getPropertyValue(n).trim();
      colors = {
        bg: v("--bg"), bg2: v("--bg-2"), fg: v("--fg"), fg2: v("--fg-2"), border: v("--border"), sel: v("--select"),
        hover: v("--hover"), focus: v("--focus"), mono: v("--mono"),
        phase: {
          QUEUED: v("--ph-queued"), WAITING_FOR_RESOURCES: v("--ph-waiting"), INITIALIZING: v("--ph-initializing"),
          RUNNING: v("--ph-running"), SUCCEEDED: v("--ph-succeeded"), CACHED: v("--ph-cached"), FAILED: v("--ph-failed"),
          TIMED_OUT: v("--ph-timed-out"), ABORTED: v("--ph-aborted"), UNKNOWN: v("--ph-unknown"),
        },
      };
    }
    readColors();
    const mq = window.matchMedia("(prefers-color-scheme: dark)");
    const onScheme = () => { readColors(); scheduleDraw(); };
    mq.addEventListener("change", onScheme);

    function extent() {
      let t0 = st.run && st.run.start != null ? st.run.start : Infinity;
      let t1 = -Infinity;
      const live = st.run && !TERMINAL.has(phaseOf(st.run));
      for (const a of st.actions.values()) {
        if (a.start != null && a.start < t0) t0 = a.start;
        const e = a.end != null ? a.end : a.start;
        if (e != null && e > t1) t1 = e;
      }
      if (st.run && st.run.end != null && st.run.end > t1) t1 = st.run.end;
      if (live) t1 = Math.max(t1, now());
      if (!isFinite(t0)) return { t0: now() - 1, t1: now() };
      if (!isFinite(t1) || t1 <= t0) t1 = t0 + 1;
      return { t0, t1 };
    }

    function fitView() {
      st.fit = true;
      const e = extent();
      const padding = (e.t1 - e.t0) * 0.02;
      st.view = { t0: e.t0 - padding, t1: e.t1 + padding };
      scheduleDraw();
    }

    function zoom(f, anchorX) {
      if (!st.view) fitView();
      const w = canvas.clientWidth || 1;
      const { t0, t1 } = st.view;
      const span = t1 - t0;
      const e = extent();
      const full = (e.t1 - e.t0) * 1.5 + 1;
      const ns = Math.min(full * 4, Math.max(0.001, span * f));
      const ax = anchorX == null ? w / 2 : anchorX;
      const at = t0 + (ax / w) * span;
      st.view = { t0: at - (ax / w) * ns, t1: at + (1 - ax / w) * ns };
      st.fit = false;
      scheduleDraw();
    }

    function pan(dt) {
      if (!st.view) fitView();
      st.view = { t0: st.view.t0 + dt, t1: st.view.t1 + dt };
      st.fit = false;
      scheduleDraw();
    }

    let drawQueued = false;
    function scheduleDraw() {
      if (drawQueued) return;
      drawQueued = true;
      requestAnimationFrame(() => {
        drawQueued = false;
        draw();
      });
    }

    const STEPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900,
      1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400];

    function fmtOffset(s, step) {
      if (s < 0) return `-${fmtOffset(-s, step)}`;
      if (step < 0.1) return `${Math.round(s * 1000)} ms`;
      if (step < 1) return `${s.toFixed(1)} s`;
      if (s < 60 && step < 60) return `${Math.round(s)} s`;
      if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${Math.round(s % 60)}s` : ""}`;
      return `${Math.floor(s / 3600)}h${s % 3600 ? ` ${Math.round((s % 3600) / 60)}m` : ""}`;
    }

    function sizeCanvas() {
      const dpr = window.devicePixelRatio || 1;
      const w = tlCol.clientWidth;
      const hh = gantt.clientHeight;
      if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hh * dpr)) {
        canvas.width = Math.round(w * dpr);
        canvas.height = Math.round(hh * dpr);
        canvas.style.width = `${w}px`;
        canvas.style.height = `${hh}px`;
      }
      return { w, hh, dpr };
    }

    function barsOf(a, live) {
      // one bar per attempt; an action without attempts is one bar of its own times
      const out = [];
      const atts = a.attempts && a.attempts.length ? a.attempts : [{ n: 1, phase: a.phase, start: a.start, end: a.end }];
      for (const t of atts) {
        if (t.start == null) continue;
        let end = t.end;
        if (end == null) end = live && !TERMINAL.has(phaseOf(t)) ? now() : (a.end ?? t.start);
        out.push({ t0: t.start, t1: end, phase: phaseOf(t), n: t.n, a });
      }
      return out;
    }

    function draw() {
      if (st.stopped || !st.run) return;
      const { w, hh, dpr } = sizeCanvas();
      if (!w || !hh) return;
      if (st.fit || !st.view) {
        const e = extent();
        const padding = (e.t1 - e.t0) * 0.02;
        st.view = { t0: e.t0 - padding, t1: e.t1 + padding };
      }
      const { t0, t1 } = st.view;
      const span = t1 - t0;
      const X = (t) => ((t - t0) / span) * w;
      const live = !TERMINAL.has(phaseOf(st.run));
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, hh);
      ctx.fillStyle = colors.bg;
      ctx.fillRect(0, 0, w, hh);
      const top = gantt.scrollTop;
      const first = Math.max(0, Math.floor((top - HEAD) / ROW));
      const last = Math.min(st.rows.length, Math.ceil((top + hh - HEAD) / ROW) + 1);
      const origin = st.run.start != null ? st.run.start : extent().t0;

      // grid and axis ticks
      const pxPerS = w / span;
      let step = STEPS[STEPS.length - 1];
      for (const s of STEPS) if (s * pxPerS >= 90) { step = s; break; }
      const firstTick = Math.ceil((t0 - origin) / step) * step;
      ctx.strokeStyle = colors.border;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let s = firstTick; origin + s <= t1; s += step) {
        const x = Math.round(X(origin + s)) + 0.5;
        ctx.moveTo(x, HEAD);
        ctx.lineTo(x, hh);
      }
      ctx.globalAlpha = 0.5;
      ctx.stroke();
      ctx.globalAlpha = 1;

      // rows
      for (let i = first; i < last; i++) {
        const y = HEAD + i * ROW - top;
        const n = st.rows[i].node;
        if (n.key === st.selected) {
          ctx.fillStyle = colors.sel;
          ctx.fillRect(0, y, w, ROW);
        } else if (i === st.hover) {
          ctx.fillStyle = colors.hover;
          ctx.fillRect(0, y, w, ROW);
        }
        if (n.kind === "action") {
          drawBars(barsOf(n.a, live), X, y + 4, ROW - 8, w, 1);
        } else {
          // a folded node: a thin span of everything it holds, and the items' bars when folded
          const s = n.start;
          const e = n.end ?? (live ? now() : s);
          if (s != null) {
            ctx.fillStyle = colors.phase[n.phase] || colors.phase.UNKNOWN;
            ctx.globalAlpha = 0.35;
            ctx.fillRect(X(s), y + ROW - 7, Math.max(2, X(e) - X(s)), 3);
            ctx.globalAlpha = 1;
          }
          if (!isOpen(n)) {
            const bars = [];
            for (const a of n.actions) for (const b of barsOf(a, live)) bars.push(b);
            drawBars(bars, X, y + 4, ROW - 12, w, 0.75);
          }
        }
      }

      // now line
      if (live) {
        const x = Math.round(X(now())) + 0.5;
        if (x >= 0 && x <= w) {
          ctx.strokeStyle = colors.focus;
          ctx.setLineDash([4, 3]);
          ctx.beginPath();
          ctx.moveTo(x, HEAD);
          ctx.lineTo(x, hh);
          ctx.stroke();
          ctx.setLineDash([]);
        }
      }

      // axis band on top (drawn last so rows scroll under it)
      ctx.fillStyle = colors.bg2;
      ctx.fillRect(0, 0, w, HEAD);
      ctx.strokeStyle = colors.border;
      ctx.beginPath();
      ctx.moveTo(0, HEAD - 0.5);
      ctx.lineTo(w, HEAD - 0.5);
      ctx.stroke();
      ctx.fillStyle = colors.fg2;
      ctx.font = `11px ${colors.mono || "monospace"}`;
      ctx.textBaseline = "middle";
      for (let s = firstTick; origin + s <= t1; s += step) {
        const x = X(origin + s);
        ctx.fillRect(Math.round(x), HEAD - 6, 1, 6);
        ctx.fillText(fmtOffset(s, step), x + 3, HEAD / 2);
      }
      if (!st.firstDrawn) {
        // the run's tree and timeline are on screen: what benchmarks/console measures
        st.firstDrawn = true;
        performance.mark("flyte-console:first-render");
      }
    }

    function drawBars(bars, X, y, barH, w, alpha) {
      ctx.globalAlpha = alpha;
      let last = null;
      for (const b of bars) {
        const x0 = X(b.t0);
        const x1 = X(b.t1);
        if (x1 < -2 || x0 > w + 2) continue;
        const c = colors.phase[b.phase] || colors.phase.UNKNOWN;
        if (c !== last) {
          ctx.fillStyle = c;
          last = c;
        }
        ctx.fillRect(Math.max(-2, x0), y, Math.max(2, Math.min(w + 2, x1) - Math.max(-2, x0) - (b.n > 1 ? 0 : 0)), barH);
        if (b.n > 1) {
          // a gap before a retry, so attempts read as separate bars
          ctx.clearRect(x0, y, 1, barH);
        }
      }
      ctx.globalAlpha = 1;
    }

    function hitTest(x, y) {
      const i = Math.floor((y - HEAD + gantt.scrollTop) / ROW);
      if (y < HEAD || i < 0 || i >= st.rows.length) return null;
      const n = st.rows[i].node;
      const { t0, t1 } = st.view;
      const t = t0 + (x / (canvas.clientWidth || 1)) * (t1 - t0);
      const slack = (3 / (canvas.clientWidth || 1)) * (t1 - t0);
      const live = !TERMINAL.has(phaseOf(st.run));
      const cands = n.kind === "action" ? [n.a] : (isOpen(n) ? [] : n.actions);
      for (const a of cands) {
        for (const b of barsOf(a, live)) {
          if (t >= b.t0 - slack && t <= b.t1 + slack) return { i, node: n, bar: b };
        }
      }
      return { i, node: n, bar: null };
    }

    function tipText(hit) {
      const b = hit.bar;
      const a = b.a;
      const lines = [`${a.task || ""} (${a.name})${a.map ? ` #${a.map.index}` : ""}`,
        `${b.phase}${(a.attempts || []).length > 1 ? ` · attempt ${b.n}` : ""}`,
        `+${fmtDur(b.t0 - (st.run.start ?? b.t0))} · ${fmtDur(b.t1 - b.t0)}`];
      if (a.error) lines.push(a.error);
      return lines.join("\n");
    }

    let drag = null;
    canvas.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      if (!st.view) fitView();
      drag = { x: ev.clientX, t0: st.view.t0, t1: st.view.t1, moved: false };
      canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener("pointermove", (ev) => {
      const r = canvas.getBoundingClientRect();
      if (drag) {
        const dx = ev.clientX - drag.x;
        if (Math.abs(dx) > 3) drag.moved = true;
        if (drag.moved) {
          canvas.classList.add("dragging");
          const dt = (-dx / (canvas.clientWidth || 1)) * (drag.t1 - drag.t0);
          st.view = { t0: drag.t0 + dt, t1: drag.t1 + dt };
          st.fit = false;
          tip.hide();
          scheduleDraw();
          return;
        }
      }
      if (!st.view) return;
      const hit = hitTest(ev.clientX - r.left, ev.clientY - r.top);
      const hi = hit ? hit.i : -1;
      if (hi !== st.hover) {
        st.hover = hi;
        renderRows();
        scheduleDraw();
      }
      if (hit && hit.bar) tip.show(ev.clientX, ev.clientY, tipText(hit));
      else tip.hide();
    });
    canvas.addEventListener("pointerup", (ev) => {
      const d = drag;
      drag = null;
      canvas.classList.remove("dragging");
      if (!d || d.moved) return;
      const r = canvas.getBoundingClientRect();
      const hit = hitTest(ev.clientX - r.left, ev.clientY - r.top);
      if (!hit) return;
      const key = hit.bar ? hit.bar.a.name : hit.node.key;
      if (hit.bar && hit.node.kind !== "action") {
        // an item of a folded map: open the map so the item's row is there
        selectFromUrl(key);
        history.pushState(null, "", actionPath(runName, key));
      } else {
        select(key, { history: "push" });
      }
    });
    canvas.addEventListener("pointerleave", () => {
      tip.hide();
      if (st.hover !== -1) {
        st.hover = -1;
        renderRows();
        scheduleDraw();
      }
    });
    canvas.addEventListener("wheel", (ev) => {
      const r = canvas.getBoundingClientRect();
      const x = ev.clientX - r.left;
      const y = ev.clientY - r.top;
      if (ev.ctrlKey || ev.metaKey || ev.altKey || y < HEAD) {
        ev.preventDefault();
        zoom(Math.exp(ev.deltaY * 0.002), x);
      } else if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
        ev.preventDefault();
        const d = ev.shiftKey && !ev.deltaX ? ev.deltaY : ev.deltaX;
        pan((d / (canvas.clientWidth || 1)) * (st.view.t1 - st.view.t0));
      }
    }, { passive: false });
    canvas.addEventListener("keydown", (ev) => {
      const span = st.view ? st.view.t1 - st.view.t0 : 1;
      switch (ev.key) {
        case "+": case "=": zoom(1 / 1.6); break;
        case "-": case "_": zoom(1.6); break;
        case "0": fitView(); break;
        case "ArrowLeft": pan(-span * 0.1); break;
        case "ArrowRight": pan(span * 0.1); break;
        default:
          if (ev.key === "ArrowUp" || ev.key === "ArrowDown" || ev.key === "Enter") keyNav(ev);
          return;
      }
      ev.preventDefault();
    });

    const ro = new ResizeObserver(() => {
      renderRows();
      draw();
    });
    ro.observe(gantt);

    // live redraw of running bars and durations
    const tick = setInterval(() => {
      if (st.run && !TERMINAL.has(phaseOf(st.run))) {
        scheduleDraw();
        const dur = head.querySelector(".dur");
        if (dur) dur.textContent = fmtDur(elapsed(st.run));
      }
    }, 500);

    let poll = null;
    info().then((inf) => {
      if (st.stopped) return;
      st.canAbort = !!(inf && inf.can_abort);
      st.source = inf && inf.source;
      if (st.run) renderHead();
    });
    load().then((going) => {
      if (going && !st.stopped) poll = poller(load);
    }).catch((e) => {
      if (!st.stopped && !st.run) {
        main().replaceChildren(h("div", { class: "notice bad", role: "alert" }, `Could not load the run: ${e.message}`));
      }
    });

    return {
      kind: "run",
      run: runName,
      selectFromUrl(a) {
        if (a == null) {
          if (st.rows.length) select(st.rows[0].node.key, { history: "none" });
        } else selectFromUrl(a);
      },
      stop() {
        st.stopped = true;
        if (poll) poll.stop();
        stopLogs();
        clearInterval(tick);
        clearTimeout(detailTimer);
        ro.disconnect();
        mq.removeEventListener("change", onScheme);
      },
      state: st, // read by the browser tests and the benchmark
    };
  }

  // ---------------------------------------------------------------- start

  async function start() {
    const inf = await info();
    const src = document.getElementById("source");
    src.textContent = [inf.title, inf.source === "devbox" ? "devbox" : "local runs", inf.version ? `v${inf.version}` : ""]
      .filter(Boolean).join(" · ");
  }
  start();
  route();
  window.flyteConsole = { get page() { return page; } };
})();
