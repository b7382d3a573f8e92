// Flyte console: a run's page (/runs/<run>, /runs/<run>/actions/<action>): header, action tree (virtualized:
// only the rows on screen exist), the timeline beside it row for row, the selected action below; live updates
// while the run goes; abort on a devbox.

import {
  TERMINAL, PHASES, ROW, HEAD, h, enc, runPath, actionPath, apiRun, phaseOf, actionPhase, badge, dot, fmtDur, fmtTime,
  now, elapsed, api, info, poller, countsEl, main, shown,
} from "./util.js";
import { buildTree, nodePhase } from "./tree.js";
import { makeDetails } from "./details.js";
import { makeTimeline } from "./timeline.js";


export function runPage(runName, wantAction) {
  document.title = shown(`${runName} · Flyte console`);
  const st = {
    pending: wantAction, // an action asked for by the URL, selected once the run's record has it
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
  const search = h("input", { type: "search", placeholder: "Find task or action… (/)", "aria-label": "Find task or action",
    "aria-keyshortcuts": "/" });
  const phaseSel = h("select", { "aria-label": "Show actions in phase" },
    h("option", { value: "" }, "All phases"), PHASES.map((p) => h("option", { value: p }, p)));
  const btn = (label, aria, fn) => h("button", { type: "button", "aria-label": aria, title: aria, onclick: fn }, label);
  const toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Timeline" },
    btn("−", "Zoom out", () => tl.zoom(1.6)), btn("+", "Zoom in", () => tl.zoom(1 / 1.6)),
    btn("Fit", "Fit the whole run", () => tl.fitView()),
    btn("Expand all", "Expand all groups and maps", () => setAllOpen(true)),
    btn("Collapse all", "Collapse all", () => setAllOpen(false)),
    search, phaseSel,
    h("span", { class: "hint" }, "Ctrl+wheel or wheel over the time axis zooms; double-click a bar zooms to it; drag pans"));
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

  // the timeline and the details panel are made below, once the tree's functions exist
  let tl = null;
  const scheduleDraw = () => tl && tl.scheduleDraw();
  const draw = () => tl && tl.draw();
  const panel = makeDetails({ details, st, runName });
  const showDetails = panel.show;
  const stopLogs = panel.stopLogs;

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
    const live = !TERMINAL.has(phaseOf(st.run));
    if (st.pending != null) {
      // a deep link (or the first row) may name an action the record does not hold yet while the run goes
      if (st.tree.byKey.has(st.pending) || !live) {
        const want = st.pending;
        st.pending = null;
        selectFromUrl(want);
      } else if (first) {
        notice.classList.remove("bad");
        notice.textContent = shown(`Action "${st.pending}" is not in the run's record yet; it opens here when it is.`);
        notice.hidden = false;
      }
    } else if (!st.selected && st.rows.length) {
      select(st.rows[0].node.key, { history: "none", focus: false });
    } else if (st.selected && changed.has(st.selected)) {
      showDetails(st.selected, true);
    }
    return live;
  }

  function renderHead() {
    const r = st.run;
    // only when something shown changed: a poll must not take the focus off the abort button
    const key = JSON.stringify([r.name, r.task, r.phase, r.start, r.end, r.actions, r.error, st.canAbort]);
    if (key === st.headKey) return;
    st.headKey = key;
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
    runErr.textContent = shown(r.error || "");
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
    if (st.filterPhase && actionPhase(n.a) !== st.filterPhase) return false;
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
    if (n.kind !== "action") {
      // what is folded in, and what in it needs a look: failures first, then what still runs
      const c = n.counts;
      const failed = (c.FAILED || 0) + (c.TIMED_OUT || 0);
      const going = n.total - failed - (c.SUCCEEDED || 0) - (c.CACHED || 0) - (c.ABORTED || 0);
      const what = n.kind === "map" ? "item" : "action";
      const sub = [`${n.total.toLocaleString("en")} ${what}${n.total === 1 ? "" : "s"}`,
        failed ? `${failed.toLocaleString("en")} failed` : "", going > 0 ? `${going.toLocaleString("en")} going` : ""];
      return [`${n.kind} ${n.label}`, sub.filter(Boolean).join(" · ")];
    }
    const a = n.a;
    const label = a.map ? `#${a.map.index} ${a.task || a.name}` : a.task || a.name;
    const d = elapsed(a);
    // short names (a0, a12: local runs) in full; a devbox's long generated ids by their start, enough to tell
    // rows apart and find them in logs (the details show the whole name)
    const name = a.name.length <= 8 ? a.name : `${a.name.slice(0, 6)}…`;
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
      el.title = shown(`${label} (${phase})`);
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
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && search.value) {
      search.value = "";
      st.filterText = "";
      flatten();
    } else if (ev.key === "ArrowDown" || ev.key === "Enter") {
      ev.preventDefault();
      tree.focus(); // on to the matches
      if (st.rows.length) moveActive(st.active, "push");
    }
  });
  // "/" finds, as on many sites (not while typing in a field)
  const onSlash = (ev) => {
    if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
    ev.preventDefault();
    search.focus();
  };
  document.addEventListener("keydown", onSlash);
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
      notice.textContent = shown(`No action named "${actionName}" in run ${runName}.`);
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

  tl = makeTimeline({ canvas, gantt, tlCol, st, runName, isOpen, renderRows, select, selectFromUrl, keyNav });

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
      const ddur = details.querySelector(".kv .dur[data-going]");
      if (ddur) ddur.textContent = fmtDur(now() - Number(ddur.dataset.start));
      // running actions' durations, in place (rows are not re-made: a click in progress stays on its row)
      for (const el of treeBody.children) {
        const n = st.tree.byKey.get(el.dataset.key);
        const sub = el.querySelector(".sub");
        if (!n || !sub) continue;
        const text = rowLabel(n)[1];
        if (sub.textContent !== text) sub.textContent = text;
      }
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
      tl.stop();
      document.removeEventListener("keydown", onSlash);
    },
    state: st, // read by the browser tests and the benchmark
  };
}
