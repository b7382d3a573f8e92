"""The console's static files: no HTML sinks for data, nothing fetched from elsewhere, every module present."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[3] / "src" / "flyte" / "console" / "static"


def sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(STATIC.iterdir()) if p.suffix in (".js", ".html", ".css")}


def test_no_html_sinks_in_the_scripts():
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function"
                       r"|setTimeout\(\s*[\"'`]")
    for name, text in sources().items():
        if name.endswith(".js"):
            code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("//", "/*", "*")))
            if name == "report-frame.js":
                # the one place HTML is written: a report, into the sandboxed frame made to show it
                code = code.replace("document.write(ev.data.flyteReport);", "", 1)
            assert not sinks.search(code), f"{name}: {sinks.search(code).group(0)}"


def test_the_report_frame_refuses_to_run_outside_an_opaque_origin():
    code = sources()["report-frame.js"]
    guard = code.index('if (window.origin !== "null" || window.parent === window)')
    assert guard < code.index("document.write(")
    assert "ev.source !== window.parent" in code


def test_nothing_is_loaded_from_elsewhere():
    remote = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//"""
                        r"""|from\s+["'](https?:)?//|import\(\s*["'](https?:)?//""")
    for name, text in sources().items():
        assert not remote.search(text), f"{name} loads {remote.search(text).group(0)!r}"


def test_every_imported_module_is_shipped():
    names = set(sources())
    for name, text in sources().items():
        for mod in re.findall(r"""from\s+["']\./([\w.-]+)["']""", text):
            assert mod in names, f"{name} imports ./{mod}, which is not in {STATIC}"
    html = sources()["index.html"]
    for ref in re.findall(r"""(?:src|href)="/static/([\w.-]+)\"""", html):
        assert ref in names, ref
