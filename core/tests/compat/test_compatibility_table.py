"""docs/compatibility.md stays true: every name of the official SDK's public API is in its table, and a name is
either implemented here (supported / partly) or listed as not supported, with flyte._compat raising for it."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from flyte._compat import UNSUPPORTED, UNSUPPORTED_MODULES, reason

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[2] / "docs" / "compatibility.md"
SNAPSHOT = HERE / "official_api_2.12.1.json"
OFFICIAL_PYTHON = os.environ.get("FLYTE_OFFICIAL_PYTHON", "")
STATUSES = {"supported", "partly", "not"}


def _official_api() -> dict[str, dict[str, object]]:
    """The official API, read from the installed official SDK when there is one, else the snapshot."""
    if OFFICIAL_PYTHON:
        p = subprocess.run([OFFICIAL_PYTHON, str(HERE / "official_api.py")], capture_output=True, text=True,
                           timeout=300, env={**os.environ, "PYTHONPATH": ""})
        assert p.returncode == 0, p.stderr
        api: dict[str, dict[str, object]] = json.loads(p.stdout)
        return api
    return json.loads(SNAPSHOT.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def api() -> dict[str, dict[str, object]]:
    return _official_api()


def _table() -> dict[str, dict[str, tuple[str, str]]]:
    """module -> name -> (status, notes) from the doc's '### `module`' sections."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    module = None
    for line in DOC.read_text().splitlines():
        m = re.match(r"^### `([\w.]+)`", line)
        if m:
            module = m.group(1)
            out[module] = {}
            continue
        row = re.match(r"^\| `([^`]+)`( \(module\))? \| (\w+) \| (.*) \|$", line)
        if row and module is not None:
            name = "*" if row.group(2) else row.group(1)
            assert row.group(3) in STATUSES, f"docs/compatibility.md: {module}.{name}: unknown status {row.group(3)}"
            assert name not in out[module], f"docs/compatibility.md: {module}.{name} is listed twice"
            out[module][name] = (row.group(3), row.group(4))
    return out


def _resolve(dotted: str) -> object:
    """A module, or a class under one (``flyte.Image``)."""
    try:
        return importlib.import_module(dotted)
    except ImportError:
        parent, _, attr = dotted.rpartition(".")
        return getattr(importlib.import_module(parent), attr)


def _implemented(module: str, name: str) -> bool:
    try:
        mod = _resolve(module)
    except Exception:
        return False
    try:
        # a method kept only to raise NotSupportedError (flyte.Image's) is not an implementation
        return not getattr(getattr(mod, name), "not_supported", False)
    except Exception:
        pass
    try:
        importlib.import_module(f"{module}.{name}")
        return True
    except Exception:
        return False


def _modules(api: dict[str, dict[str, object]]) -> list[str]:
    return sorted(m for m in api if m != "__version__")


def test_the_snapshot_is_of_the_pinned_version_and_current(api: dict[str, dict[str, object]]) -> None:
    assert api["__version__"]["names"] == ["2.12.1"]
    if OFFICIAL_PYTHON:  # the snapshot (used where the official SDK is not installed) matches the real thing
        assert api == json.loads(SNAPSHOT.read_text()), "regenerate official_api_2.12.1.json with official_api.py"


def test_every_official_name_is_implemented_or_listed_as_not_supported(api: dict[str, dict[str, object]]) -> None:
    table = _table()
    problems = []
    for module in _modules(api):
        names = api[module].get("names", [])
        assert isinstance(names, list)
        if module in UNSUPPORTED_MODULES:
            if table.get(module, {}).get("*", ("", ""))[0] != "not":
                problems.append(f"{module}: not supported as a whole; the doc needs a '(module)' row with 'not'")
            # (flyte-core may have an internal package of the same name, e.g. flyte.remote for its remote
            # runtime; what counts is that none of the official names are there)
            problems += [f"{module}.{n}: implemented now; list {module}'s names one by one instead of the module"
                         for n in names if _implemented(module, str(n))]
            continue
        assert "error" not in api[module], f"{module} failed to import on the official SDK: {api[module]}"
        rows = table.get(module)
        if rows is None:
            problems.append(f"{module}: no '### `{module}`' section in docs/compatibility.md")
            continue
        for name in names:
            here = _implemented(module, name)
            status = rows.get(name, ("", ""))[0]
            if not here and reason(f"{module}.{name}") is None:
                problems.append(f"{module}.{name}: neither implemented nor listed as not supported (flyte._compat)")
            if not status:
                problems.append(f"{module}.{name}: missing from the table")
            elif here and status == "not":
                problems.append(f"{module}.{name}: implemented; the table says 'not'")
            elif not here and status != "not":
                problems.append(f"{module}.{name}: the table says {status!r} but it is not implemented")
        for name in set(rows) - set(names):
            problems.append(f"{module}.{name}: in the table but not in the official API")
    for module in set(table) - set(api):
        problems.append(f"{module}: a section for a module the official SDK does not have")
    assert not problems, "docs/compatibility.md is out of date:\n" + "\n".join(sorted(problems))


def test_flyte_compat_lists_only_official_names_we_lack(api: dict[str, dict[str, object]]) -> None:
    for module in UNSUPPORTED_MODULES:
        assert module in api, f"{module}: not an official module"
    for module, names in UNSUPPORTED.items():
        if module == "flyte.ctx()":
            continue  # TaskContext attributes: checked by test_context_logger
        official = api[module]["names"]
        assert isinstance(official, list)
        for name in names:
            assert name in official, f"flyte._compat lists {module}.{name}, which the official API does not have"
            assert not _implemented(module, name), f"flyte._compat lists {module}.{name}, but it is implemented"


def test_not_rows_carry_the_reason_the_error_gives() -> None:
    for module, rows in _table().items():
        for name, (status, notes) in rows.items():
            if status == "not":
                qualified = module if name == "*" else f"{module}.{name}"
                assert notes == reason(qualified), f"{qualified}: the doc's note differs from flyte._compat's"
