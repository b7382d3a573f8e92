#!/usr/bin/env python3
"""First render of a 10,000-action run page in headless Chromium (target: under 2 s).

    .venv/bin/python benchmarks/console/bench_run_page.py               # 10,000 actions, 5 loads per shape
    .venv/bin/python benchmarks/console/bench_run_page.py --actions 1000 --reps 3 --json out.json

Two real local runs are made first (the local runtime does 10,000 tasks in well under a second):
``fanout`` (a parent gathers N child tasks: N rows in the tree, the virtualized list at work) and
``map`` (``flyte.map`` over N items: folded under one node, N bars drawn on its row). Then
``flyte console``'s server serves them and Debian's chromium (Playwright, headless) opens each run page
``--reps`` times, each load in a fresh browser context (no cache). Measured per load: milliseconds from
the start of navigation to the page's ``flyte-console:first-render`` performance mark (set after the
first paint of the tree and the timeline with the run's data: HTML, JS, the run's JSON, the tree and
the canvas all included); then the timeline's redraw on zooming (the page's own draw time, median of 9)
and one keyboard step (End: jump to the last row, select it, redraw) as "scroll to end". Reported:
median, min and max; the run JSON's size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("FLYTE_HOME", tempfile.mkdtemp(prefix="flyte-bench-console-"))

import flyte

env = flyte.TaskEnvironment(name="bench_console")

CHROMIUM = os.environ.get("FLYTE_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TARGET_MS = 2000.0


@env.task
async def noop(x: int) -> int:
    return x


@env.task
async def fanout(n: int) -> int:
    out = await asyncio.gather(*(noop(i) for i in range(n)))
    return len(out)


@env.task
def mapped(n: int) -> int:
    return len(list(flyte.map(noop, range(n))))


async def _run(task: Any, name: str, base: Path, n: int) -> None:
    run = await flyte.with_runcontext(mode="local", name=name, run_base_dir=str(base)).submit(task, n=n)
    await run.wait.aio()


def make_runs(base: Path, n: int) -> dict[str, str]:
    names = {}
    for shape, task in (("fanout", fanout), ("map", mapped)):
        name = f"{shape}-{n}"
        t = time.perf_counter()
        asyncio.run(_run(task, name, base, n))
        print(f"made run {name} ({n + 1} actions) in {time.perf_counter() - t:.2f} s", file=sys.stderr)
        names[shape] = name
    return names


def load_once(browser: Any, url: str) -> tuple[float, float, float]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    try:
        page = context.new_page()
        page.goto(url, wait_until="commit")
        page.wait_for_function("() => performance.getEntriesByName('flyte-console:first-render').length > 0",
                               timeout=60_000)
        first = page.evaluate("performance.getEntriesByName('flyte-console:first-render')[0].startTime")
        rows = page.evaluate("window.flyteConsole.page.state.rows.length")
        assert rows >= 2, f"the page shows {rows} rows"
        redraws = []
        for i in range(9):
            page.get_by_role("button", name="Zoom in" if i % 2 else "Zoom out").click()
            redraws.append(page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
                "() => r(window.flyteConsole.page.state.lastDrawMs))))"))
        page.locator(".tree").focus()
        t0 = page.evaluate("performance.now()")
        page.keyboard.press("End")
        page.wait_for_function(
            "() => { const st = window.flyteConsole.page.state; return st.active === st.rows.length - 1 && "
            "document.querySelector('.tree .row.active') !== null; }")
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        end = page.evaluate("performance.now()") - t0
        return float(first), float(end), statistics.median(redraws)
    finally:
        context.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actions", type=int, default=10_000, help="child actions per run (default 10,000)")
    ap.add_argument("--reps", type=int, default=5, help="page loads per run (default 5)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"chromium not found at {CHROMIUM}: `python3 dev.py setup` installs Debian's chromium", file=sys.stderr)
        return 2
    from flyte.console.api import ConsoleApp
    from flyte.console.local import LocalRunStore
    from flyte.console.server import serving
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="flyte-bench-console-runs-"))
    names = make_runs(base, args.actions)
    results: dict[str, Any] = {"actions": args.actions, "reps": args.reps, "target_ms": TARGET_MS, "shapes": {}}
    with serving(ConsoleApp(LocalRunStore(base))) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for shape, name in names.items():
                url = f"{server.url}/runs/{name}"
                size = len(server.app.handle("GET", f"/api/runs/{name}", "", {}).body)
                load_once(browser, url)  # warm-up: the server's first read of the records, chromium's start
                firsts, ends, draws = [], [], []
                for _ in range(args.reps):
                    f, e, d = load_once(browser, url)
                    firsts.append(f)
                    ends.append(e)
                    draws.append(d)
                results["shapes"][shape] = {
                    "run": name, "json_bytes": size,
                    "first_render_ms": {"median": statistics.median(firsts), "min": min(firsts), "max": max(firsts)},
                    "end_key_ms": {"median": statistics.median(ends), "min": min(ends), "max": max(ends)},
                    "timeline_redraw_ms": {"median": statistics.median(draws), "max": max(draws)},
                }
        finally:
            browser.close()
    ok = True
    print(f"console run page, {args.actions:,} child actions, {args.reps} loads each (median [min-max]):")
    for shape, r in results["shapes"].items():
        f = r["first_render_ms"]
        e = r["end_key_ms"]
        verdict = "ok" if f["median"] < TARGET_MS else "OVER TARGET"
        ok = ok and f["median"] < TARGET_MS
        print(f"  {shape:7s} first render {f['median']:7.0f} ms [{f['min']:.0f}-{f['max']:.0f}]  "
              f"End key {e['median']:4.0f} ms  timeline redraw {r['timeline_redraw_ms']['median']:4.1f} ms  "
              f"run JSON {r['json_bytes'] / 1e6:.1f} MB  ({verdict}, target < 2 s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
