// Flyte console: the entry point (loaded as a module by index.html): routing between the pages with
// history.pushState, and the header. Plain JavaScript modules, no build step, no dependencies.

import { h, info, tip, main } from "./util.js";
import { runsPage } from "./runs.js";
import { runPage } from "./run.js";

// ---------------------------------------------------------------- routing

let page = null; // the current page: {kind, stop(), ...}

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
