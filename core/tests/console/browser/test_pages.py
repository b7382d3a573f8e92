"""The console's pages in headless Chromium, over `flyte console`'s real server and real local runs.

Fixtures from ../conftest.py (C's: ``console_server`` over sample runs, ``make_console``) and ./conftest.py
(``browser``, ``page``, ``shoot``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
SAMPLE_TASKS = HERE.parent / "sample_tasks.py"
HOSTILE_TASKS = HERE / "hostile_tasks.py"
FLYTE = str(Path(sys.executable).with_name("flyte"))


def expect(x: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(x)


def flyte_run(base: Path, name: str, file: Path, task: str, *args: str, wait: bool = True,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`flyte run` in a process of its own, its record in ``base`` (as a user would start a run)."""
    cmd = [FLYTE, "run", "--no-progress", "--run-base-dir", str(base), "--name", name, str(file), task, *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    if wait:
        out, _ = proc.communicate(timeout=120)
        assert (base / name / "run.json").exists(), out.decode(errors="replace")
    return proc


def wait_for_record(base: Path, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not (base / name / "run.json").exists():
        assert time.monotonic() < deadline, f"run {name} wrote no record in {timeout} s"
        time.sleep(0.05)


def tree_row(page: Any, key: str) -> Any:
    return page.locator(f'.tree .row[data-key="{key}"]')


def loaded(page: Any) -> None:
    """Wait until the run page has its actions."""
    page.wait_for_function("() => window.flyteConsole.page && window.flyteConsole.page.state "
                           "&& window.flyteConsole.page.state.actions.size > 0")


def action_of_task(page: Any, task_suffix: str) -> str:
    """The name of the first action whose task ends with ``task_suffix`` (from the page's own state)."""
    loaded(page)
    name = page.evaluate(
        """(suffix) => { for (const a of window.flyteConsole.page.state.actions.values())
             if ((a.task || '').endsWith(suffix)) return a.name; return null; }""", task_suffix)
    assert name, f"no action of a task ending in {task_suffix!r}"
    return name


def phase_pixels(page: Any, css_var: str) -> int:
    """How many timeline pixels have the colour of a phase (bars are drawn in it)."""
    return page.evaluate(
        """(v) => {
          const c = document.querySelector('.tl-sticky canvas');
          const probe = document.createElement('canvas').getContext('2d');
          probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue(v).trim();
          probe.fillRect(0, 0, 1, 1);
          const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] === r && d[i + 1] === g && d[i + 2] === b) n++;
          return n;
        }""", css_var)


# ---------------------------------------------------------------- the runs list


def test_runs_list_shows_runs_newest_first_and_a_fresh_run_without_reload(make_console, page, shoot, tmp_path):
    base = tmp_path / "runs"
    base.mkdir()
    flyte_run(base, "first-run", SAMPLE_TASKS, "fanout", "--n", "3")
    flyte_run(base, "broken-run", SAMPLE_TASKS, "failing")
    console = make_console(base)
    page.goto(console.url + "/")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(2)
    # newest first
    assert rows.nth(0).get_attribute("data-run") == "broken-run"
    first = page.locator('tr[data-run="first-run"]')
    expect(first.locator(".phase")).to_have_text("SUCCEEDED")
    expect(first.locator("td").nth(1)).to_have_text("console_samples.fanout")
    # 3 map items + group extras (middle + 2 leaves) + report + root = 8 actions
    expect(first.locator(".counts .c").first).to_have_text("8")
    expect(page.locator('tr[data-run="broken-run"] .phase')).to_have_text("FAILED")
    expect(page.locator('tr[data-run="broken-run"] td.err')).to_contain_text("ValueError")

    # a run made while the page is open shows up by itself
    flyte_run(base, "fresh-run", SAMPLE_TASKS, "retried")
    fresh = page.locator('tr[data-run="fresh-run"]')
    expect(fresh.locator(".phase")).to_have_text("SUCCEEDED", timeout=10_000)
    assert rows.nth(0).get_attribute("data-run") == "fresh-run"

    # filters: by phase (server and page agree), by part of a task's name
    page.select_option("#f-phase", "FAILED")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("data-run", "broken-run")
    assert "phase=FAILED" in page.url
    page.select_option("#f-phase", "")
    page.fill("#f-task", "FANOUT")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("data-run", "first-run")
    page.fill("#f-task", "")
    expect(rows).to_have_count(3)
    page.locator("h1").click()  # no focus ring in the picture
    shoot(page, "runs-list", clip={"x": 0, "y": 0, "width": 1200, "height": 300})

    # a link opens the run page without a reload
    page.evaluate("window.__same_document = true")
    page.click('tr[data-run="first-run"] a')
    expect(page).to_have_url(console.url + "/runs/first-run")
    expect(page.locator(".runhead h1")).to_contain_text("first-run")
    assert page.evaluate("window.__same_document") is True


def test_runs_list_empty_store_says_how_to_start(make_console, page, tmp_path):
    console = make_console(tmp_path)
    page.goto(console.url + "/")
    expect(page.locator(".empty")).to_contain_text("flyte run")


# ---------------------------------------------------------------- the run page


def test_run_page_shows_tree_timeline_and_a_failed_actions_error(console_server, page, shoot):
    run = console_server.names["failing"]
    page.goto(f"{console_server.url}/runs/{run}")
    expect(page.locator(".runhead .phase")).to_have_text("FAILED")
    expect(page.locator(".runerr")).to_contain_text("ValueError")
    root = tree_row(page, "a0")
    expect(root).to_contain_text("console_samples.failing")
    failed = action_of_task(page, ".explode")
    row = tree_row(page, failed)
    expect(row).to_contain_text("console_samples.explode")
    assert row.get_attribute("aria-level") == "2"
    # bars in the failed colour are on the timeline (root and child both failed)
    page.wait_for_function("() => document.querySelector('.tl-sticky canvas').width > 0")
    assert phase_pixels(page, "--ph-failed") > 200

    row.click()
    expect(page).to_have_url(f"{console_server.url}/runs/{run}/actions/{failed}")
    box = page.locator(".details .error-box")
    expect(box.locator(".msg")).to_contain_text("ValueError: it broke <script>alert('x')</script>")
    expect(box.locator("h3")).to_contain_text("ValueError")
    expect(box.locator("pre.traceback")).to_contain_text("raise ValueError(message)")
    expect(page.locator(".details .inputs")).to_contain_text("message")
    # the error was shown as text: no element came out of it
    assert page.locator("main script").count() == 0
    shoot(page, "run-failed")


def test_run_page_tree_folds_map_items_and_shows_groups(console_server, page, shoot):
    run = console_server.names["fanout"]
    page.goto(f"{console_server.url}/runs/{run}")
    tree = page.locator(".tree")
    map_row = tree.locator('.row[data-kind="map"]')
    expect(map_row).to_have_count(1)
    expect(map_row).to_contain_text("square_map")
    expect(map_row.locator(".sub")).to_have_text("4 items")
    expect(map_row).to_have_attribute("aria-expanded", "false")
    expect(tree.locator('.row[data-kind="group"]')).to_contain_text("extras")
    # folded: the squares have no rows of their own; their bars are drawn on the map's row
    expect(tree.locator(".row", has_text="#0 ")).to_have_count(0)
    assert phase_pixels(page, "--ph-succeeded") > 200
    # nested children: middle -> leaf, two levels under the group
    middle = action_of_task(page, ".middle")
    leaf_levels = page.evaluate(
        "(m) => [...document.querySelectorAll('.tree .row')].filter(r => r.textContent.includes('.leaf'))"
        ".map(r => r.getAttribute('aria-level'))", middle)
    assert leaf_levels and set(leaf_levels) == {"4"}, leaf_levels

    map_row.locator(".tw").click()
    expect(map_row).to_have_attribute("aria-expanded", "true")
    expect(tree.locator(".row", has_text="#0 ")).to_have_count(1)
    expect(tree.locator(".row", has_text="#3 ")).to_have_count(1)
    shoot(page, "run-tree")


def test_deep_link_opens_a_folded_map_item_and_history_works(console_server, page):
    run = console_server.names["fanout"]
    page.goto(f"{console_server.url}/runs/{run}")
    loaded(page)
    item = page.evaluate(
        "() => [...window.flyteConsole.page.state.actions.values()].find(a => a.map && a.map.index === 2).name")
    page.goto(f"{console_server.url}/runs/{run}/actions/{item}")
    row = tree_row(page, item)
    expect(row).to_have_attribute("aria-selected", "true")
    expect(page.locator('.tree .row[data-kind="map"]')).to_have_attribute("aria-expanded", "true")
    expect(page.locator(".details h2")).to_have_text("console_samples.square")
    expect(page.locator(".details .kv")).to_contain_text("#2 of square_map")
    expect(page.locator(".details .inputs pre")).to_have_text("2")
    expect(page.locator(".details .outputs pre")).to_have_text("4")

    # selecting another action pushes its URL; Back returns to the item
    tree_row(page, "a0").click()
    expect(page).to_have_url(f"{console_server.url}/runs/{run}/actions/a0")
    page.go_back()
    expect(page).to_have_url(f"{console_server.url}/runs/{run}/actions/{item}")
    expect(tree_row(page, item)).to_have_attribute("aria-selected", "true")
    expect(page.locator(".details h2")).to_have_text("console_samples.square")

    # an unknown action says so
    page.goto(f"{console_server.url}/runs/{run}/actions/a999")
    expect(page.locator(".notice.bad")).to_contain_text('No action named "a999"')


def test_unknown_run_says_so(console_server, page):
    page.goto(f"{console_server.url}/runs/no-such-run")
    expect(page.locator(".notice.bad")).to_contain_text("no-such-run")


def test_report_is_shown_in_a_sandboxed_iframe(console_server, page, shoot):
    run = console_server.names["fanout"]
    page.goto(f"{console_server.url}/runs/{run}")
    reporting = action_of_task(page, ".reporting")
    tree_row(page, reporting).click()
    frame_el = page.locator(".details .report iframe")
    expect(frame_el).to_have_attribute("sandbox", "allow-scripts")
    assert frame_el.get_attribute("src") == f"/api/runs/{run}/actions/{reporting}/report"
    frame = page.frame_locator(".details .report iframe")
    # the report is the task's own HTML (its "<of>" is a tag there, as in any browser)
    expect(frame.locator("#r")).to_have_text("Report  fanout & co")
    inner = next(f for f in page.frames if f.url.endswith("/report"))
    # the report's own script ran, inside the frame only, in an opaque origin that cannot reach the console
    inner.wait_for_function("() => document.title === 'report ran'")
    assert page.title().endswith("Flyte console")
    assert inner.evaluate("window.origin") == "null"
    assert inner.evaluate("() => { try { return parent.document.title } catch (e) { return 'blocked' } }") == "blocked"
    link = page.locator(".details .report h3 a")
    assert link.get_attribute("href") == f"/api/runs/{run}/actions/{reporting}/report"
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    page.evaluate("document.querySelector('.details .report').scrollIntoView({block: 'end'})")
    shoot(page, "run-report")


def test_hostile_strings_are_shown_as_text_and_never_run(make_console, page, tmp_path):
    base = tmp_path / "runs"
    base.mkdir()
    flyte_run(base, "hostile-run", HOSTILE_TASKS, "hostile")
    console = make_console(base)
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("hostile_tasks_for_test", HOSTILE_TASKS)
    assert spec and spec.loader
    mod = module_from_spec(spec)
    spec.loader.exec_module(mod)
    hostile = mod.HOSTILE

    page.goto(console.url + "/")
    expect(page.locator('tr[data-run="hostile-run"] td.err')).to_contain_text(hostile)
    page.goto(console.url + "/runs/hostile-run")
    expect(page.locator(".runerr")).to_contain_text(hostile)
    # the group's name is the hostile string: a tree row shows it literally
    expect(page.locator('.tree .row[data-kind="group"] .label')).to_have_text(f"group {hostile}")
    boom = action_of_task(page, ".boom")
    tree_row(page, boom).click()
    expect(page.locator(".details .error-box .msg")).to_contain_text(hostile)
    expect(page.locator(".details .inputs pre")).to_have_text(hostile)
    # hover a bar: the tooltip is text too
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script, .tip img").count() == 0


# ---------------------------------------------------------------- live updates


def test_live_updates_without_reload(make_console, page, shoot, tmp_path):
    base = tmp_path / "runs"
    base.mkdir()
    console = make_console(base)
    page.goto(console.url + "/")
    expect(page.locator(".empty")).to_be_visible()
    page.evaluate("window.__same_document = true")
    proc = flyte_run(base, "live-run", SAMPLE_TASKS, "slow", "--seconds", "6", "--children", "3", wait=False)
    try:
        wait_for_record(base, "live-run")
        row = page.locator('tr[data-run="live-run"]')
        expect(row.locator(".phase")).to_have_text("RUNNING", timeout=15_000)
        # the run page, while it runs: children appear and the phase changes, without a reload
        row.locator("a").click()
        expect(page.locator(".runhead .phase")).to_have_text("RUNNING")
        naps = page.locator(".tree .row", has_text="console_samples.nap")
        expect(naps.first).to_be_visible(timeout=10_000)
        assert naps.count() < 3  # more come while we watch
        assert page.locator("#abort").count() == 0  # a local run has no abort button
        expect(page.locator(".details h2")).to_have_text("console_samples.slow")
        shoot(page, "run-live")
        # a deep link to the last child, opened before the record has it: it opens once it is there
        other = page.context.new_page()
        other.goto(console.url + "/runs/live-run/actions/a3")
        expect(tree_row(other, "a3")).to_have_attribute("aria-selected", "true", timeout=20_000)
        expect(other.locator(".details h2")).to_have_text("console_samples.nap")
        expect(other.locator(".notice")).to_be_hidden()
        other.close()
        expect(naps).to_have_count(3, timeout=20_000)
        expect(page.locator(".runhead .phase")).to_have_text("SUCCEEDED", timeout=20_000)
        expect(tree_row(page, "a0").locator(".dot")).to_have_class("dot SUCCEEDED")
        assert page.evaluate("window.__same_document") is True
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- timeline and keyboard


def test_timeline_zooms_pans_hovers_and_selects(console_server, page):
    run = console_server.names["fanout"]
    page.goto(f"{console_server.url}/runs/{run}")
    page.wait_for_function("() => window.flyteConsole.page.state.view !== null")
    span = "() => { const v = window.flyteConsole.page.state.view; return v.t1 - v.t0; }"
    full = page.evaluate(span)
    page.get_by_role("button", name="Zoom in").click()
    zoomed = page.evaluate(span)
    assert zoomed == pytest.approx(full / 1.6, rel=0.01)
    canvas = page.locator(".tl-sticky canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 100)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -400)
    page.keyboard.up("Control")
    page.wait_for_function(f"() => ({span})() < {zoomed * 0.9}")
    # drag pans: the window moves, its width stays
    before = page.evaluate("() => window.flyteConsole.page.state.view.t0")
    width = page.evaluate(span)
    page.mouse.move(box["x"] + 300, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + 100, steps=5)
    page.mouse.up()
    assert page.evaluate("() => window.flyteConsole.page.state.view.t0") > before
    assert page.evaluate(span) == pytest.approx(width)
    page.get_by_role("button", name="Fit the whole run").click()
    assert page.evaluate(span) == pytest.approx(full, rel=0.01)

    # hover over the middle of a bar shows what it is; a click selects its action
    reporting = action_of_task(page, ".reporting")
    x, y = page.evaluate(
        """(name) => { const p = window.flyteConsole.page, st = p.state, a = st.actions.get(name);
             const c = document.querySelector('.tl-sticky canvas').getBoundingClientRect();
             const i = st.rowIndex.get(name); const g = document.querySelector('.gantt');
             const mid = (a.start + a.end) / 2;
             return [c.left + (mid - st.view.t0) / (st.view.t1 - st.view.t0) * c.width,
                     c.top + 28 + i * 24 - g.scrollTop + 12]; }""", reporting)
    page.mouse.move(x, y)
    expect(page.locator(".tip")).to_contain_text("console_samples.reporting")
    page.mouse.click(x, y)
    expect(page).to_have_url(f"{console_server.url}/runs/{run}/actions/{reporting}")
    expect(page.locator(".details h2")).to_have_text("console_samples.reporting")
    # a double click zooms to the bar
    page.mouse.dblclick(x, y)
    bar = page.evaluate("(n) => { const a = window.flyteConsole.page.state.actions.get(n); return a.end - a.start; }",
                        reporting)
    assert page.evaluate(span) == pytest.approx(max(0.002, bar * 1.3), rel=0.01)


def test_keyboard_moves_through_the_tree_and_opens_a_map(console_server, page):
    run = console_server.names["fanout"]
    page.goto(f"{console_server.url}/runs/{run}")
    expect(tree_row(page, "a0")).to_have_attribute("aria-selected", "true")
    page.locator(".tree").focus()
    page.keyboard.press("ArrowDown")
    map_row = page.locator('.tree .row[data-kind="map"]')
    expect(map_row).to_have_attribute("aria-selected", "true")
    expect(page.locator(".details h2")).to_have_text("map square_map")
    page.keyboard.press("ArrowRight")
    expect(map_row).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    expect(page.locator(".details h2")).to_have_text("console_samples.square")
    page.keyboard.press("ArrowLeft")  # to the map
    page.keyboard.press("ArrowLeft")  # fold it
    expect(map_row).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("End")
    expect(page.locator(".details h2")).to_have_text("console_samples.reporting")
    # "/" finds; Enter goes on to the matches; Escape clears
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.type") == "search"
    page.keyboard.type("leaf")
    expect(page.locator(".tree .row")).to_have_count(2)
    page.keyboard.press("Enter")
    expect(page.locator(".details h2")).to_have_text("console_samples.leaf")
    page.locator(".toolbar input[type=search]").focus()
    page.keyboard.press("Escape")
    expect(page.locator(".tree .row", has_text="console_samples.reporting")).to_have_count(1)
    # the timeline takes keys too
    span = "() => { const v = window.flyteConsole.page.state.view; return v.t1 - v.t0; }"
    full = page.evaluate(span)
    page.locator(".tl-sticky canvas").focus()
    page.keyboard.press("+")
    assert page.evaluate(span) < full


def test_dark_scheme_uses_dark_colours(console_server, browser, shoot):
    context = browser.new_context(viewport={"width": 1200, "height": 800}, color_scheme="dark")
    try:
        pg = context.new_page()
        pg.goto(f"{console_server.url}/runs/{console_server.names['fanout']}")
        expect(pg.locator(".runhead .phase")).to_have_text("SUCCEEDED")
        bg = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(13, 17, 23)"
        shoot(pg, "run-dark")
    finally:
        context.close()


def test_thousands_of_actions_keep_the_page_small_and_reachable(make_console, page, tmp_path):
    base = tmp_path / "runs"
    base.mkdir()
    flyte_run(base, "wide-run", HERE / "wide_tasks.py", "wide", "--n", "5000")
    console = make_console(base)
    page.goto(console.url + "/runs/wide-run")
    loaded(page)
    assert page.evaluate("window.flyteConsole.page.state.rows.length") == 5001
    # only the rows on screen (and a few around them) exist in the page
    assert page.locator(".tree .row").count() < 80
    page.locator(".tree").focus()
    page.keyboard.press("End")
    last = page.evaluate("() => window.flyteConsole.page.state.rows.at(-1).node.key")
    expect(tree_row(page, last)).to_have_attribute("aria-selected", "true")
    expect(page.locator(".details h2")).to_have_text("console_wide.one")
    assert page.locator(".tree .row").count() < 80
    # the timeline drew the bars of the rows on screen
    assert phase_pixels(page, "--ph-succeeded") > 200
    # find narrows the 5,000 rows to the matching ones
    page.fill(".toolbar input[type=search]", last)
    page.wait_for_function("(k) => window.flyteConsole.page.state.rows.some(r => r.node.key === k) && "
                           "window.flyteConsole.page.state.rows.length < 50", arg=last)


def test_retried_action_shows_its_attempts(console_server, page):
    run = console_server.names["retried"]
    page.goto(f"{console_server.url}/runs/{run}")
    flaky = action_of_task(page, ".flaky")
    tree_row(page, flaky).click()
    rows = page.locator(".details table.attempts tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".phase")).to_have_text("FAILED")
    expect(rows.nth(1).locator(".phase")).to_have_text("SUCCEEDED")
    expect(page.locator(".details .outputs pre")).to_have_text("ok after 2")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phase_badges_are_readable(console_server, browser, scheme):
    """Every phase badge's text against its colour: WCAG AA contrast (4.5:1), in light and dark."""
    context = browser.new_context(color_scheme=scheme)
    try:
        pg = context.new_page()
        pg.goto(console_server.url + "/")
        expect(pg.locator("table.runs .phase").first).to_be_visible()
        ratios = pg.evaluate(
            """() => {
              const rgb = (c) => c.match(/\\d+/g).slice(0, 3).map(Number);
              const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255;
                return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
                .reduce((acc, v, i) => acc + v * [0.2126, 0.7152, 0.0722][i], 0);
              const out = {};
              for (const p of ["QUEUED", "WAITING_FOR_RESOURCES", "INITIALIZING", "RUNNING", "SUCCEEDED", "CACHED",
                               "FAILED", "TIMED_OUT", "ABORTED", "UNKNOWN"]) {
                const el = document.createElement("span");
                el.className = `phase ${p}`;
                el.textContent = p;
                document.body.append(el);
                const cs = getComputedStyle(el);
                const [a, b] = [lum(rgb(cs.color)), lum(rgb(cs.backgroundColor))].sort((x, y) => y - x);
                out[p] = (a + 0.05) / (b + 0.05);
                el.remove();
              }
              return out;
            }""")
        low = {p: round(r, 2) for p, r in ratios.items() if r < 4.5}
        assert not low, f"phase badges under 4.5:1 contrast in the {scheme} scheme: {low}"
    finally:
        context.close()


def test_a_folded_map_says_which_items_failed(make_console, page, tmp_path):
    base = tmp_path / "runs"
    base.mkdir()
    flyte_run(base, "some-fail", HERE / "wide_tasks.py", "some_fail", "--n", "7")
    console = make_console(base)
    page.goto(console.url + "/runs/some-fail")
    map_row = page.locator('.tree .row[data-kind="map"]')
    expect(map_row.locator(".sub")).to_have_text("7 items · 3 failed")
    expect(map_row.locator(".dot")).to_have_class("dot FAILED")
    map_row.click()
    failed = page.locator(".details li a")
    expect(failed).to_have_count(3)
    expect(page.locator(".details li")).to_contain_text(["item 0 fails", "item 3 fails", "item 6 fails"])
    # a link opens the item, its map unfolded
    failed.nth(1).click()
    expect(page.locator(".details h2")).to_have_text("console_wide.maybe")
    expect(page.locator(".details .error-box .msg")).to_contain_text("item 3 fails")
    expect(map_row).to_have_attribute("aria-expanded", "true")


def test_cache_hits_are_drawn_in_the_cached_colour(make_console, page, tmp_path):
    base = tmp_path / "runs"
    base.mkdir()
    cache = {"FLYTE_LOCAL_CACHE_DB": str(tmp_path / "cache.db")}
    flyte_run(base, "cold-run", HERE / "cached_tasks.py", "main", "--key", "k", env=cache)
    flyte_run(base, "warm-run", HERE / "cached_tasks.py", "main", "--key", "k", env=cache)
    console = make_console(base)
    page.goto(console.url + "/runs/warm-run")
    hit = action_of_task(page, ".expensive")
    assert page.evaluate("(n) => window.flyteConsole.page.state.actions.get(n).cache_hit", hit) is True
    row = tree_row(page, hit)
    expect(row.locator(".dot")).to_have_class("dot CACHED")
    expect(row).to_have_attribute("data-phase", "CACHED")
    # the run header counts it under the cached dot, the tree and the timeline agree
    expect(page.locator(".runhead .counts .c[title='1 CACHED']")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('.tl-sticky canvas').width > 0")
    assert phase_pixels(page, "--ph-cached") > 8  # a cache hit takes no time: a 2 px bar
    # the phase menu finds it under CACHED
    page.select_option(".toolbar select", "CACHED")
    expect(page.locator(".tree .row")).to_have_count(1)
    expect(page.locator(".tree .row")).to_have_attribute("data-key", hit)
    tree_row(page, hit).click()
    expect(page.locator(".details .dhead .phase")).to_have_text("CACHED")
    # the cold run's call really ran: succeeded, green
    page.goto(console.url + "/runs/cold-run")
    cold = action_of_task(page, ".expensive")
    expect(tree_row(page, cold).locator(".dot")).to_have_class("dot SUCCEEDED")


def test_cached_and_running_dots_differ_in_shape_not_only_in_hue(console_server, page):
    page.goto(console_server.url + "/")
    expect(page.locator("table.runs .phase").first).to_be_visible()
    looks = page.evaluate(
        """() => Object.fromEntries(["CACHED", "RUNNING"].map((p) => {
             const el = document.createElement("span");
             el.className = `dot ${p}`;
             document.body.append(el);
             const cs = getComputedStyle(el);
             const out = [p, {bg: cs.backgroundColor, shadow: cs.boxShadow}];
             el.remove();
             return out;
           }))""")
    # a running dot is a filled disc; a cached one a ring (told apart at 9 px, and without colour vision)
    assert looks["RUNNING"]["bg"] != "rgba(0, 0, 0, 0)"
    assert looks["CACHED"]["bg"] == "rgba(0, 0, 0, 0)" and looks["CACHED"]["shadow"] != "none", looks


def test_the_token_field_is_in_a_form_and_chromium_has_nothing_to_say(console_server, page):
    said: list[str] = []
    page.on("console", lambda m: said.append(m.text))
    page.goto(console_server.url + "/")
    expect(page.locator("table.runs .phase").first).to_be_visible()
    page.wait_for_timeout(500)
    assert page.evaluate("document.getElementById('token-input').form !== null")
    assert not [m for m in said if m.startswith("[DOM]")], said


def test_ansi_colours_in_logs_become_styled_text(console_server, page):
    page.goto(console_server.url + "/")
    expect(page.locator("table.runs .phase").first).to_be_visible()
    out = page.evaluate(
        r"""async () => {
             const { AnsiText } = await import("/static/ansi.js");
             const pre = document.createElement("pre");
             const t = new AnsiText(pre);
             // a colour, bold, a reset, an escape split across two chunks, a 256-colour, cursor and OSC noise
             t.append("\x1b[31mred\x1b[0m plain \x1b[1;32mbold green\x1b[0m <b>x</b> \x1b[3");
             t.append("4mblue\x1b[39m \x1b[38;5;208mpalette\x1b[0m\x1b[2K\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n");
             t.flush();
             return { text: pre.textContent,
                      spans: [...pre.querySelectorAll("span")].map((s) => [s.className, s.textContent]),
                      elements: pre.querySelectorAll("b, a, script").length };
           }""")
    assert out["text"] == "red plain bold green <b>x</b> blue palettelink\n"
    assert "\x1b" not in out["text"] and "[31m" not in out["text"]
    assert ["ansi-fg1", "red"] in out["spans"]
    assert ["ansi-bold ansi-fg2", "bold green"] in out["spans"]
    assert ["ansi-fg4", "blue"] in out["spans"]
    assert out["elements"] == 0


def test_bidi_controls_are_shown_and_a_chained_error_shows_its_cause(make_console, page, tmp_path):
    base = tmp_path / "runs"
    base.mkdir()
    flyte_run(base, "spoof-run", HOSTILE_TASKS, "spoof")
    console = make_console(base)
    page.goto(console.url + "/")
    cell = page.locator('tr[data-run="spoof-run"] td.err')
    # the list shows the error's cause, not the chain of tasks that failed because of it (the tooltip has it all)
    expect(cell).to_have_text("RuntimeError: all is well ⟨U+202E⟩desrever")
    assert cell.get_attribute("title").startswith("task 'console_hostile.spoof'")
    page.goto(console.url + "/runs/spoof-run")
    expect(page.locator(".runerr")).to_contain_text("all is well ⟨U+202E⟩desrever")
    boom = action_of_task(page, ".boom")
    tree_row(page, boom).click()
    expect(page.locator(".details .error-box .msg")).to_contain_text("⟨U+202E⟩desrever")
    expect(page.locator(".details .inputs pre")).to_have_text("all is well ⟨U+202E⟩desrever")
    # nowhere on the page is the override itself
    assert page.evaluate("document.body.textContent.includes('\\u202e')") is False


def test_durations_and_names_read_well(console_server, page):
    page.goto(console_server.url + "/")
    expect(page.locator("table.runs .phase").first).to_be_visible()
    out = page.evaluate(
        """async () => {
             const u = await import("/static/util.js");
             return { durs: [0, 0.00004, 0.0004, 0.0061, 0.5, 2.25].map(u.fmtDur),
                      causes: ["task 'm' (action a0) failed: task 'x' (action a3) failed: ValueError: bad",
                               "ValueError: bad", "task 'm' failed: "].map(u.causeOf) };
           }""")
    assert out["durs"] == ["0 ms", "<0.1 ms", "0.4 ms", "6.1 ms", "500 ms", "2.3 s"]
    assert out["causes"] == ["ValueError: bad", "ValueError: bad", "task 'm' failed: "]


def test_the_report_frame_writes_nothing_outside_a_sandbox(console_server, page):
    """report-frame.html opened in a tab (the console's own origin) must not write posted HTML: it would run there."""
    page.goto(console_server.url + "/static/report-frame.html")
    expect(page.locator("body")).to_have_text("This page shows a report inside the Flyte console only.")
    page.evaluate("window.postMessage({flyteReport: '<p id=x>written</p><script>window.__ran = 1</script>'}, '*')")
    page.wait_for_timeout(300)
    assert page.locator("#x").count() == 0
    assert page.evaluate("window.__ran") is None


def test_a_folded_maps_failures_stay_visible_under_its_siblings(make_console, page, tmp_path):
    base = tmp_path / "runs"
    base.mkdir()
    flyte_run(base, "late-fail", HERE / "wide_tasks.py", "late_fail", "--n", "4")
    console = make_console(base)
    page.goto(console.url + "/runs/late-fail")
    map_row = page.locator('.tree .row[data-kind="map"]')
    expect(map_row.locator(".sub")).to_have_text("4 items · 1 failed")
    loaded(page)
    # the failed item's bar overlaps the others' (they ran at the same time)
    spans = page.evaluate("() => [...window.flyteConsole.page.state.actions.values()].filter(a => a.map)"
                          ".sort((a, b) => a.map.index - b.map.index).map(a => [a.start, a.end])")
    assert all(s < spans[0][1] and e > spans[0][0] for s, e in spans[1:]), spans
    page.wait_for_function("() => document.querySelector('.tl-sticky canvas').width > 0")
    page.wait_for_timeout(200)
    # red-ish pixels on the map's row of the timeline: the failure is drawn over its siblings, not under
    reds = page.evaluate(
        """() => {
          const st = window.flyteConsole.page.state;
          const i = st.rows.findIndex(r => r.node.kind === 'map');
          const c = document.querySelector('.tl-sticky canvas');
          const dpr = c.width / c.clientWidth;
          const y0 = Math.round((28 + i * 24 - document.querySelector('.gantt').scrollTop) * dpr);
          const d = c.getContext('2d').getImageData(0, y0, c.width, Math.round(24 * dpr)).data;
          let n = 0;
          for (let k = 0; k < d.length; k += 4) if (d[k] > d[k + 1] + 80 && d[k] > d[k + 2] + 80) n++;
          return n;
        }""")
    assert reds > 200, reds


def test_a_deleted_run_leaves_the_live_list(make_console, page, tmp_path):
    import shutil

    base = tmp_path / "runs"
    base.mkdir()
    flyte_run(base, "keep-run", SAMPLE_TASKS, "retried")
    flyte_run(base, "pruned-run", SAMPLE_TASKS, "retried")
    console = make_console(base)
    page.goto(console.url + "/")
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(2)
    shutil.rmtree(base / "pruned-run")
    expect(page.locator('tr[data-run="pruned-run"]')).to_have_count(0, timeout=10_000)
    expect(rows).to_have_count(1)
    expect(page.locator(".filters")).to_contain_text("1 run")
