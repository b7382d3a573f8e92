"""An HTML report per action: tabs of HTML fragments, written next to the run's record.

A task declared with ``report=True`` gets its report saved when its body ends (also when it
fails); any task may call :func:`flush` to write what it has so far. Locally the file is
``<run directory>/reports/<action>.html``; ``flyte get run NAME`` lists them.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, ParamSpec, TypeVar

from flyte._context import current as _current_context

P = ParamSpec("P")
R = TypeVar("R")

MAIN_TAB = "main"
_DATA_KEY = "report"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; color: #222; }}
nav {{ display: flex; gap: 4px; border-bottom: 1px solid #ddd; padding: 0 1rem; }}
nav label {{ padding: 8px 14px; cursor: pointer; font-weight: 600; color: #666; }}
section {{ display: none; padding: 1.5rem 2rem; }}
input[name=flyte-tab] {{ display: none; }}
{rules}
</style>
</head>
<body>
{inputs}
<nav>{labels}</nav>
{sections}
</body>
</html>
"""


@dataclass
class Tab:
    """One tab of a report: HTML fragments shown in the order they were logged."""

    name: str
    content: list[str] = field(default_factory=list, init=False)

    def log(self, content: str) -> None:
        """Append an HTML fragment (not a whole document) to this tab."""
        self.content.append(str(content))

    def replace(self, content: str) -> None:
        """Replace everything in this tab with one HTML fragment."""
        self.content = [str(content)]

    def get_html(self) -> str:
        return "\n".join(self.content)


@dataclass
class Report:
    """The report of one action. ``main`` always exists; other tabs appear when first used."""

    name: str
    tabs: dict[str, Tab] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tabs.setdefault(MAIN_TAB, Tab(MAIN_TAB))

    def has_content(self) -> bool:
        return any(t.content for t in self.tabs.values())

    def get_tab(self, name: str, create_if_missing: bool = True) -> Tab:
        tab = self.tabs.get(name)
        if tab is None:
            if not create_if_missing:
                raise ValueError(f"Report '{self.name}' has no tab {name!r}; it has {sorted(self.tabs)}")
            tab = self.tabs[name] = Tab(name)
        return tab

    def get_final_report(self) -> str:
        """The whole report as one self-contained HTML page (no scripts, no external resources)."""
        shown = [t for n, t in self.tabs.items() if t.content or n != MAIN_TAB]
        inputs, labels, sections, rules = [], [], [], []
        for i, tab in enumerate(shown):
            tid = f"flyte-tab-{i}"
            checked = " checked" if i == 0 else ""
            inputs.append(f'<input type="radio" name="flyte-tab" id="{tid}"{checked}>')
            labels.append(f'<label for="{tid}">{html.escape(tab.name)}</label>')
            sections.append(f'<section class="{tid}">\n{tab.get_html()}\n</section>')
            rules.append(f"#{tid}:checked ~ section.{tid} {{ display: block; }} "
                         f"#{tid}:checked ~ nav label[for={tid}] {{ color: #222; border-bottom: 3px solid #7b2ff7; }}")
        return _PAGE.format(title=html.escape(self.name), rules="\n".join(rules), inputs="\n".join(inputs),
                            labels="".join(labels), sections="\n".join(sections))


class _Both(Generic[P, R]):
    """``f(...)`` from sync code, ``await f.aio(...)`` from async code (the official SDK's calling style)."""

    def __init__(self, sync: Callable[P, R], doc_from: Callable[..., Any]) -> None:
        self._sync = sync
        self.__doc__ = doc_from.__doc__
        self.__name__ = doc_from.__name__.lstrip("_")

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._sync(*args, **kwargs)

    async def aio(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._sync(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<flyte.report.{self.__name__}>"


def _both(fn: Callable[P, R]) -> _Both[P, R]:
    return _Both(fn, fn)


def _context() -> Any:
    return _current_context()


def current_report() -> Report:
    """The report of the action running now; outside a task, a throw-away report (nothing is saved)."""
    tc = _context()
    if tc is None:
        return Report("dummy")
    report = tc.data.get(_DATA_KEY)
    if report is None:
        report = tc.data[_DATA_KEY] = Report(tc.action.name)
    return report


def get_tab(name: str, /, create_if_missing: bool = True) -> Tab:
    """A tab of the current report, e.g. ``flyte.report.get_tab("Plots").log("<img ...>")``."""
    return current_report().get_tab(name, create_if_missing=create_if_missing)


def report_path(run_base_dir: str | os.PathLike[str], action_name: str) -> Path:
    """Where an action's report is kept in a local run directory."""
    return Path(run_base_dir) / "reports" / f"{action_name}.html"


def save(tc: Any) -> Path | str | None:
    """Write the report of the action whose context is ``tc``; ``None`` when it has none.

    A run directory in object storage (a remote worker's) gets ``<dir>/reports/<action>.html`` there.
    """
    report = tc.data.get(_DATA_KEY)
    if report is None or not tc.run_base_dir:
        return None
    base = str(tc.run_base_dir)
    if "://" in base and not base.startswith("file://"):
        import flyte.storage as storage

        uri = f"{base.rstrip('/')}/reports/{tc.action.name}.html"
        with storage.open_sync(uri, "wb") as f:
            f.write(report.get_final_report().encode("utf-8"))
        return uri
    path = report_path(base.removeprefix("file://"), tc.action.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".html.{os.getpid()}.tmp")
    tmp.write_text(report.get_final_report(), encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a page
    return path


def _flush() -> None:
    """Write the current action's report now (it is also written when a ``report=True`` task ends)."""
    tc = _context()
    if tc is not None:
        current_report()
        save(tc)


def _log(content: str, do_flush: bool = False) -> None:
    """Append an HTML fragment to the ``main`` tab; ``do_flush=True`` also writes the report."""
    get_tab(MAIN_TAB).log(content)
    if do_flush:
        _flush()


def _replace(content: str, do_flush: bool = False) -> None:
    """Replace the ``main`` tab's content with one HTML fragment; ``do_flush=True`` also writes the report."""
    get_tab(MAIN_TAB).replace(content)
    if do_flush:
        _flush()


flush = _both(_flush)
log = _both(_log)
replace = _both(_replace)
