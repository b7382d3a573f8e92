// Flyte console: the run page's timeline, drawn on a <canvas> so that 10,000 actions stay cheap: one bar
// per action attempt, coloured by phase; zoom (buttons, Ctrl+wheel, wheel over the axis, keys), pan (drag,
// Shift+wheel, keys), hover for a tooltip, click to select.

import { TERMINAL, ROW, HEAD, actionPath, phaseOf, fmtDur, now, tip } from "./util.js";

/**
 * The timeline of one run page. `env` gives the page's elements and state (`st`: rows, view, selection)
 * and its callbacks: isOpen(node), renderRows(), select(key, opts), selectFromUrl(key), keyNav(ev).
 */
export function makeTimeline(env) {
  const { canvas, gantt, tlCol, st, runName, isOpen, renderRows, select, selectFromUrl, keyNav } = env;
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

    const LOOK = new Set(["FAILED", "TIMED_OUT", "RUNNING"]);

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
      const hit = a.cache_hit; // a cache hit is drawn in the cached colour, as it is counted
      let untimed = 0; // earlier attempts whose times the store did not keep (local records): a marker, not a bar
      for (const t of atts) {
        if (t.start == null) {
          untimed += 1;
          continue;
        }
        let end = t.end;
        if (end == null) end = live && !TERMINAL.has(phaseOf(t)) ? now() : (a.end ?? t.start);
        const p = phaseOf(t);
        out.push({ t0: t.start, t1: end, phase: hit && p === "SUCCEEDED" ? "CACHED" : p, n: t.n, a, untimed });
        untimed = 0;
      }
      return out;
    }

    function draw() {
      if (st.stopped || !st.run) return;
      const began = performance.now();
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
            // the bars of everything folded in: kept on the node once the run has ended (a new tree drops them)
            // what needs a look (failed, timed out, still running) goes on top, in the row's lower half: drawn
            // in turn with the rest, one long failure would hide under its siblings' bars
            let bars = n.bars;
            if (!bars || live) {
              const rest = [];
              const look = [];
              for (const a of n.actions) for (const b of barsOf(a, live)) (LOOK.has(b.phase) ? look : rest).push(b);
              bars = { rest, look };
              if (!live) n.bars = bars;
            }
            drawBars(bars.rest, X, y + 4, ROW - 12, w, 0.75);
            drawBars(bars.look, X, y + 4 + (ROW - 12) / 2, (ROW - 12) / 2, w, 1);
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
      st.lastDrawMs = performance.now() - began;
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
        ctx.fillRect(Math.max(-2, x0), y, Math.max(2, Math.min(w + 2, x1) - Math.max(-2, x0)), barH);
        if (b.n > 1) {
          // a gap before a retry, so attempts read as separate bars
          ctx.clearRect(x0, y, 1, barH);
        }
        if (b.untimed) {
          // earlier failed attempts without times: a failed-coloured notch before the bar
          ctx.fillStyle = colors.phase.FAILED;
          ctx.fillRect(x0 - 5, y, 3, barH);
          last = null;
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
      let found = null;
      for (const a of cands) {
        for (const b of barsOf(a, live)) {
          if (t >= b.t0 - slack && t <= b.t1 + slack) {
            // in a folded row a failed (or running) bar is drawn on top: it is what the pointer is on
            if (n.kind === "action" || LOOK.has(b.phase)) return { i, node: n, bar: b };
            if (!found) found = b;
          }
        }
      }
      return { i, node: n, bar: found };
    }

    function tipText(hit) {
      const b = hit.bar;
      const a = b.a;
      const lines = [`${a.task || ""} (${a.name})${a.map ? ` #${a.map.index}` : ""}`,
        `${b.phase}${(a.attempts || []).length > 1 ? ` · attempt ${b.n}` : ""}` +
          (b.untimed ? ` (after ${b.untimed} failed attempt${b.untimed > 1 ? "s" : ""} without recorded times)` : ""),
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
    canvas.addEventListener("dblclick", (ev) => {
      // zoom to the bar (an attempt) under the pointer, with a margin either side
      const r = canvas.getBoundingClientRect();
      const hit = hitTest(ev.clientX - r.left, ev.clientY - r.top);
      if (!hit || !hit.bar) return;
      const span = Math.max(0.002, (hit.bar.t1 - hit.bar.t0) * 1.3);
      const mid = (hit.bar.t0 + hit.bar.t1) / 2;
      st.view = { t0: mid - span / 2, t1: mid + span / 2 };
      st.fit = false;
      scheduleDraw();
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

  return { draw, scheduleDraw, zoom, pan, fitView, stop() { mq.removeEventListener("change", onScheme); } };
}
