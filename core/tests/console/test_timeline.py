"""`flyte get run NAME --timeline FILE`: one bar per action attempt, coloured by phase, names escaped."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from flyte.console.timeline import PHASE_COLORS, find_chromium, timeline_svg

FLYTE = str(Path(sys.executable).with_name("flyte"))
NS = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)  # well-formed: every name was escaped
    return [e for e in root.iter(f"{NS}rect") if e.get("class") == "bar"]


def test_one_bar_per_attempt_coloured_by_phase_and_escaped() -> None:
    run = {"name": "r<1>", "task": "t&co", "phase": "FAILED", "start": 100.0, "end": 112.0, "duration": 12.0}
    actions = [
        {"name": "a0", "parent": None, "task": "env.main", "phase": "FAILED", "start": 100.0, "end": 112.0,
         "attempts": [{"n": 1, "phase": "FAILED", "start": 100.0, "end": 112.0}], "cache_hit": False,
         "error": "boom <script>alert(1)</script>"},
        {"name": "a1", "parent": "a0", "task": "env.<flaky>", "phase": "SUCCEEDED", "start": 101.0, "end": 106.0,
         "attempts": [{"n": 1, "phase": "FAILED", "start": 101.0, "end": 103.0},
                      {"n": 2, "phase": "SUCCEEDED", "start": 103.5, "end": 106.0}], "cache_hit": False, "error": None},
        {"name": "a2", "parent": "a0", "task": "env.cached", "phase": "SUCCEEDED", "start": 107.0, "end": 107.1,
         "attempts": [{"n": 1, "phase": "SUCCEEDED", "start": 107.0, "end": 107.1}], "cache_hit": True, "error": None},
        {"name": "a3", "parent": "a0", "task": "env.waiting", "phase": "QUEUED", "start": None, "end": None,
         "attempts": [], "cache_hit": False, "error": None},
    ]
    svg = timeline_svg(run, actions, width=1000)
    found = bars(svg)
    assert [b.get("data-phase") for b in found] == ["FAILED", "FAILED", "SUCCEEDED", "CACHED"]
    assert [b.get("fill") for b in found] == [PHASE_COLORS[p] for p in ("FAILED", "FAILED", "SUCCEEDED", "CACHED")]
    # bars sit on a shared time axis: the retry starts after the first attempt ends
    x = [float(b.get("x", 0)) for b in found]
    w = [float(b.get("width", 0)) for b in found]
    assert x[1] + w[1] <= x[2]
    assert w[0] > w[1] > 0
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;flaky&gt; #2/2" in svg
    assert "r&lt;1&gt;" in svg and "t&amp;co" in svg
    labels = [t.text for t in ET.fromstring(svg).iter(f"{NS}text")]
    assert "0s" in labels and any(lbl and re.fullmatch(r"\d+s", lbl) and lbl != "0s" for lbl in labels)
    assert "a3 waiting" in labels  # an action without times still has its row


def test_cli_writes_the_svg_of_a_local_run(sample_runs: Any, tmp_path: Path) -> None:
    out = tmp_path / "t.svg"
    r = subprocess.run([FLYTE, "get", "run", sample_runs.names["fanout"], "--run-base-dir", str(sample_runs.base),
                        "--timeline", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"Timeline of run {sample_runs.names['fanout']} (9 actions): {out}" in r.stdout
    assert len(bars(out.read_text())) == 9
    retried = tmp_path / "r.svg"
    r = subprocess.run([FLYTE, "get", "run", sample_runs.names["retried"], "--run-base-dir", str(sample_runs.base),
                        "--timeline", str(retried)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    svg = retried.read_text()
    assert "flaky #1/2" in svg and "flaky #2/2" in svg  # one bar per attempt (their tooltips)
    labels = [t.text for t in ET.fromstring(svg).iter(f"{NS}text")]
    assert any(lbl and lbl.endswith("flaky · 2 attempts") for lbl in labels)  # on one row, as on the page
    assert [b.get("data-phase") for b in bars(svg)] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]


def test_cli_errors_say_what_to_do(sample_runs: Any, tmp_path: Path) -> None:
    base = ["--run-base-dir", str(sample_runs.base), "--timeline"]
    r = subprocess.run([FLYTE, "get", "run", "nope", *base, str(tmp_path / "x.svg")], capture_output=True, text=True)
    assert r.returncode == 1 and "No run named 'nope'" in r.stderr
    name = sample_runs.names["fanout"]
    r = subprocess.run([FLYTE, "get", "run", name, *base, str(tmp_path / "x.jpg")], capture_output=True, text=True)
    assert r.returncode == 1 and ".svg or .png" in r.stderr
    r = subprocess.run([FLYTE, "get", "run", name, *base, str(tmp_path / "x.png")], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "FLYTE_CHROMIUM": str(tmp_path / "no-such-browser"),
                            "HOME": str(tmp_path)})
    assert r.returncode == 1 and "install the 'chromium' package" in r.stderr and "--timeline run.svg" in r.stderr


@pytest.mark.slow
@pytest.mark.skipif(find_chromium() is None, reason="needs chromium (the PNG is drawn by headless Chromium)")
def test_cli_writes_a_png_with_chromium(sample_runs: Any, tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    r = subprocess.run([FLYTE, "get", "run", sample_runs.names["failing"], "--run-base-dir", str(sample_runs.base),
                        "--timeline", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1200 and height > 100


def _item(i: int, parent: str, task: str, group: str | None, mapped: bool, phase: str = "SUCCEEDED") -> dict[str, Any]:
    start = 100.0 + i * 0.001
    return {"name": f"a{i + 1}", "parent": parent, "task": task, "group": group, "phase": phase, "start": start,
            "end": start + 0.5, "attempts": [{"n": 1, "phase": phase, "start": start, "end": start + 0.5}],
            "map": {"of": group, "index": i} if mapped else None, "cache_hit": False, "error": None}


def test_a_10000_item_map_is_one_row_with_all_its_bars() -> None:
    """A map's items fold into one row (as on the page): 10,000 rows made a 200,000 px picture Chromium
    could not draw in a minute (`--timeline run.png` failed)."""
    run = {"name": "big", "task": "env.main", "phase": "SUCCEEDED", "start": 99.0, "end": 112.0, "duration": 13.0}
    root = {"name": "a0", "parent": None, "task": "env.main", "group": None, "phase": "SUCCEEDED", "start": 99.5,
            "end": 112.0, "attempts": [{"n": 1, "phase": "SUCCEEDED", "start": 99.5, "end": 112.0}], "map": None,
            "cache_hit": False, "error": None}
    items = [_item(i, "a0", "env.tiny", "tiny_map", True, "FAILED" if i % 1000 == 7 else "SUCCEEDED")
             for i in range(10_000)]
    svg = timeline_svg(run, [root, *items])
    root_el = ET.fromstring(svg)
    assert len(bars(svg)) == 10_001  # still one bar per attempt
    assert int(root_el.get("height", "0")) < 400  # two rows, not 10,001
    labels = [t.text or "" for t in root_el.iter(f"{NS}text")]
    assert any(lbl.startswith("map tiny_map · 10,000 items") for lbl in labels)
    assert "<title>map tiny_map · 10,000 items · 10 failed</title>" in svg  # the whole label, where it is clipped
    assert not any(lbl.startswith("a5 ") for lbl in labels)


def test_a_wide_fan_out_of_one_task_folds_but_a_small_one_does_not() -> None:
    run = {"name": "wide", "task": "env.main", "phase": "SUCCEEDED", "start": 99.0, "end": 112.0, "duration": 13.0}
    root = {"name": "a0", "parent": None, "task": "env.main", "group": None, "phase": "SUCCEEDED", "start": 99.5,
            "end": 112.0, "attempts": [{"n": 1, "phase": "SUCCEEDED", "start": 99.5, "end": 112.0}], "map": None,
            "cache_hit": False, "error": None}
    wide = [_item(i, "a0", "env.square", None, False) for i in range(2_000)]
    svg = timeline_svg(run, [root, *wide])
    assert len(bars(svg)) == 2_001 and int(ET.fromstring(svg).get("height", "0")) < 400
    assert "square · 2,000 calls" in svg
    few = timeline_svg(run, [root, *wide[:5]])
    labels = [t.text for t in ET.fromstring(few).iter(f"{NS}text")]
    assert "a1 square" in labels and "a5 square" in labels  # a handful keep their own rows


@pytest.mark.slow
@pytest.mark.skipif(find_chromium() is None, reason="needs chromium (the PNG is drawn by headless Chromium)")
def test_png_of_a_10000_item_map(tmp_path: Path) -> None:
    from flyte.console.timeline import write_timeline

    run = {"name": "big", "task": "env.main", "phase": "SUCCEEDED", "start": 99.0, "end": 112.0, "duration": 13.0}
    items = [_item(i, "a0", "env.tiny", "tiny_map", True) for i in range(10_000)]
    out = write_timeline(run, items, tmp_path / "big.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[20:24], "big") < 400


def test_folded_failures_are_drawn_on_top_and_short_runs_read_in_ms() -> None:
    from flyte.console.timeline import fmt_seconds

    run = {"name": "m", "task": "env.main", "phase": "FAILED", "start": 99.0, "end": 100.5, "duration": 0.00601}
    items = [_item(i, "a0", "env.tiny", "tiny_map", True, "FAILED" if i == 3 else "SUCCEEDED") for i in range(60)]
    svg = timeline_svg(run, items)
    phases = [b.get("data-phase") for b in bars(svg)]
    assert phases[-1] == "FAILED" and phases.count("FAILED") == 1  # not hidden under its overlapping siblings
    heights = {b.get("data-phase"): float(b.get("height", 0)) for b in bars(svg)}
    assert heights["FAILED"] == heights["SUCCEEDED"] / 2  # nor hiding them: it takes the lower half of the row
    assert "· 6.01ms</text>" in svg
    assert [fmt_seconds(s) for s in (0.0, 0.001, 0.048, 0.25, 2.5, 12, 185)] == [
        "0s", "1ms", "48ms", "250ms", "2.5s", "12s", "3m05s"]
    # legend entries do not overlap: each starts after the previous one's text (~8 px a capital letter)
    xs = [float(e.get("x", 0)) for e in ET.fromstring(svg).iter(f"{NS}rect") if e.get("class") == "legend"]
    assert len(xs) == 2 and xs[1] - xs[0] >= 14 + 8 * len("SUCCEEDED")


def test_control_characters_leave_the_svg_well_formed() -> None:
    """XML forbids most control characters even escaped: an error holding a NUL or an ANSI escape made a timeline that
    browsers refused to open (the PNG, drawn from inline SVG in HTML, hid it)."""
    run = {"name": "r", "task": "env.main\x1b[31m", "phase": "FAILED", "start": 100.0, "end": 101.0, "duration": 1.0}
    actions = [{"name": "a0", "parent": None, "task": "env.\x07main", "phase": "FAILED", "start": 100.0, "end": 101.0,
                "attempts": [{"n": 1, "phase": "FAILED", "start": 100.0, "end": 101.0}], "cache_hit": False,
                "error": "bad \x00 byte \x1b[0m and \ud800 and \uffff"}]
    svg = timeline_svg(run, actions)
    ET.fromstring(svg)  # well-formed
    assert "bad \ufffd byte \ufffd[0m" in svg and "\x1b" not in svg and "\x00" not in svg
