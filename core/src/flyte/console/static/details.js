// Flyte console: the selected action of a run page: summary, attempts, error and traceback, inputs and
// outputs, the log (tailed while the action runs) and its flyte.report in a sandboxed iframe.

import {
  TERMINAL, FAILED, POLL_MS, h, actionPath, apiAction, phaseOf, actionPhase, badge, fmtDur, fmtTime, now, elapsed, api,
  apiText, countsEl, info,
} from "./util.js";
import { AnsiText } from "./ansi.js";

// Reports on a devbox with --auth: an <iframe src> cannot carry the bearer token, so the page fetches the report
// and hands it to report-frame.html, loaded in the same <iframe sandbox="allow-scripts"> (an opaque origin), which
// writes it into its own document. (srcdoc would keep the sandbox too, but a srcdoc document inherits this page's
// Content-Security-Policy, which stops every inline script of the report.) Each frame gets its report once.
const hosted = new Map(); // iframe -> Promise of the report's HTML
window.addEventListener("message", (ev) => {
  if (!ev.data || ev.data.flyteReportFrame !== "ready") return;
  for (const [frame, html] of hosted) {
    if (!frame.isConnected) {
      hosted.delete(frame);
      continue;
    }
    if (frame.contentWindow !== ev.source) continue;
    hosted.delete(frame);
    html.then((text) => {
      if (frame.contentWindow) frame.contentWindow.postMessage({ flyteReport: text }, "*");
    }, (e) => {
      frame.replaceWith(h("div", { class: "notice bad", role: "alert" }, `Could not load the report: ${e.message}`));
    });
  }
});

/** Puts `parts` into `el` in order, leaving in place the nodes that already are (a moved <pre> loses its scroll
 * position, a moved <iframe> reloads). */
function place(el, parts) {
  const keep = new Set(parts);
  for (const child of [...el.childNodes]) if (!keep.has(child)) child.remove();
  parts.forEach((p, i) => {
    if (el.childNodes[i] !== p) el.insertBefore(p, el.childNodes[i] || null);
  });
}

/** The details panel of one run page: `details` (the element), `st` (the page state), `runName`. */
export function makeDetails(env) {
  const { details, st, runName } = env;
    function kv(pairs) {
      return h("dl", { class: "kv" }, pairs.filter((p) => p && p[1] != null && p[1] !== "").map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
    }

    function valuesTable(title, vals, cls, going) {
      if (!vals || !vals.length) {
        // null: the store has none recorded (yet, while the action runs); []: the task has none
        const why = vals ? "None." : going ? "Not recorded yet." : "None recorded.";
        return h("div", { class: cls }, h("h3", null, title), h("p", { class: "muted" }, why));
      }
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
      // no box until there is something in it (an action that printed nothing says so, below)
      const pre = h("pre", { class: "logtext", tabindex: "0", "aria-label": "Logs", hidden: true });
      const status = h("div", { class: "muted", role: "status" }, "Loading logs…");
      const sec = h("div", { class: "logs" }, h("h3", null, "Logs"), pre, status);
      let offset = "0"; // opaque: whatever the last answer gave, passed back as is (a devbox packs two positions)
      let total = 0;
      const MAX = 2_000_000; // characters kept in the page; older text is dropped from the top
      const text = new AnsiText(pre); // colours as colours, other escape codes dropped, the rest as text
      // Follow the end unless the reader scrolled up (and again once they scroll back down). Kept as a flag set
      // by scrolling, not measured when a chunk comes: a <pre> without layout yet measures as "not at the end".
      // A scroll event comes a frame after the scroll: a chunk may have grown the log in between, so "at the end"
      // also counts the end as it was before the last chunk, and only a scroll upwards stops the following.
      let follow = true;
      let lastTop = 0;
      let grownFrom = 0; // the log's height before the last chunk
      pre.addEventListener("scroll", () => {
        const bottom = pre.scrollTop + pre.clientHeight;
        if (bottom >= pre.scrollHeight - 8) follow = true;
        else if (pre.scrollTop < lastTop) follow = false;
        else if (bottom >= grownFrom - 8) follow = true;
        lastTop = pre.scrollTop;
      }, { passive: true });
      let stopped = false;
      let timer = null;
      const step = async () => {
        if (stopped) return;
        let more = false;
        try {
          const body = await api(`${apiAction(runName, actionName)}/logs?offset=${encodeURIComponent(String(offset))}`);
          if (stopped) return;
          if (body.text) {
            pre.hidden = false;
            grownFrom = pre.scrollHeight;
            total += text.append(body.text);
            while (total > MAX && pre.firstChild) {
              total -= pre.firstChild.textContent.length;
              pre.firstChild.remove();
            }
            if (follow) pre.scrollTop = pre.scrollHeight;
          }
          more = !!body.text;
          offset = body.offset ?? offset;
          if (body.done && !more) {
            text.flush();
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

    function reportSection(key, d, auth) {
      const url = `${apiAction(runName, key)}/report`;
      const title = `Report of ${d.task || d.name}`;
      if (!auth) {
        // a tab of its own is sandboxed too: the report is served with `Content-Security-Policy: sandbox`
        return h("div", { class: "report" },
          h("h3", null, "Report ", h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "muted" },
            "(open in a new tab)")),
          h("iframe", { sandbox: "allow-scripts", src: url, title, referrerpolicy: "no-referrer", loading: "lazy" }));
      }
      // the token goes with a fetch only (no new-tab link: a tab could not carry it)
      const frame = h("iframe", { sandbox: "allow-scripts", src: "/static/report-frame.html", title,
        referrerpolicy: "no-referrer" });
      hosted.set(frame, apiText(url));
      return h("div", { class: "report" }, h("h3", null, "Report"), frame);
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
      if (!refresh && details.dataset.key !== key) {
        stopLogs();
        details.dataset.key = "";
        details.replaceChildren(h("p", { class: "muted", role: "status" }, `Loading action ${key}…`));
      }
      let d;
      try {
        d = await api(apiAction(runName, key));
      } catch (e) {
        if (my !== st.detailGen || st.stopped) return;
        if (details.dataset.key !== key) { // nothing of this action shown yet: say why
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
        h("div", { class: "dhead" }, h("h2", null, d.task || d.name), badge(actionPhase(d)),
          d.cache_hit ? h("span", { class: "muted" }, "cache hit") : null),
        kv([
          ["Action", h("code", null, d.name)],
          ["Parent", d.parent ? h("a", { href: actionPath(runName, d.parent), "data-nav": "" }, d.parent) : null],
          ["Group", d.group],
          ["Map item", d.map ? `#${d.map.index} of ${d.map.of}` : null],
          ["Started", fmtTime(d.start)], ["Ended", fmtTime(d.end)],
          ["Duration", d.start != null ? h("span", { class: "dur", "data-start": d.start, "data-going":
            TERMINAL.has(phaseOf(d)) || d.end != null ? null : "1" }, fmtDur(elapsed(d))) : null],
          ["Attempts", attempts.length > 1 ? String(attempts.length) : null],
        ]),
        attempts.length > 1 ? h("table", { class: "attempts", "aria-label": "Attempts" },
          h("thead", null, h("tr", null, ["Attempt", "Phase", "Started", "Duration"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, attempts.map((t) => h("tr", null, h("td", null, String(t.n)), h("td", null, badge(phaseOf(t))),
            h("td", null, t.start != null ? fmtTime(t.start) : h("span", { class: "muted" }, "not recorded")),
            h("td", null, fmtDur(elapsed(t))))))) : null,
        errorBox(d.error),
        valuesTable("Inputs", d.inputs, "inputs", !TERMINAL.has(phaseOf(d))),
        valuesTable("Outputs", d.outputs, "outputs", !TERMINAL.has(phaseOf(d))),
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
        if (old) parts.push(old);
        else {
          const inf = await info();
          if (my !== st.detailGen || st.stopped) return;
          parts.push(reportSection(key, d, inf && inf.auth));
        }
      }
      details.dataset.key = key;
      place(details, parts.filter(Boolean));
    }

  return { show: showDetails, stopLogs };
}
