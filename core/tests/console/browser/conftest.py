"""Headless Chromium for the console's browser tests (Playwright's sync API pointed at Debian's chromium).

- ``browser``: one Chromium per test module (``/usr/bin/chromium``, or ``$FLYTE_TEST_CHROMIUM``). Missing chromium
  or playwright skips the tests, saying how to install them; under ``FLYTE_TESTING_REQUIRE_SERVICES=1`` (CI) it
  fails them instead. Playwright never downloads a browser here: it only drives the one given.
- ``page``: a fresh 1200x800 page in its own context; a JavaScript error on the page fails the test.
- ``shoot(page, name)``: a screenshot into the test's tmp dir, and into docs/images/console/ when
  ``FLYTE_CONSOLE_SCREENSHOTS=1`` (how the pictures of docs/console.md are made).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DOC_IMAGES = Path(__file__).resolve().parents[4] / "docs" / "images" / "console"
REQUIRE_ENV = "FLYTE_TESTING_REQUIRE_SERVICES"
# read once at import: every test runs with the machine's FLYTE_* variables removed (core/tests/conftest.py)
SCREENSHOTS = os.environ.get("FLYTE_CONSOLE_SCREENSHOTS") == "1"
CHROMIUM_ENV = os.environ.get("FLYTE_TEST_CHROMIUM")


def chromium_path() -> str | None:
    explicit = CHROMIUM_ENV
    if explicit:
        return explicit if os.path.exists(explicit) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV, "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(reason)


def launch(playwright: Any) -> Any:
    """Chromium from Debian's package, headless, with no network of its own (this machine has none)."""
    exe = chromium_path()
    if exe is None:
        where = f"FLYTE_TEST_CHROMIUM={CHROMIUM_ENV}" if CHROMIUM_ENV else "/usr/bin/chromium, or chromium on PATH"
        unavailable(f"chromium not found ({where}): `python3 dev.py setup` installs Debian's chromium "
                    "(core/pyproject.toml [tool.flyte-dev] apt), or set FLYTE_TEST_CHROMIUM to a Chromium binary")
    return playwright.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)


@pytest.fixture(scope="module")
def browser(sample_runs: Any) -> Iterator[Any]:
    # Module scope, not session: while Playwright's sync API is started it holds an event loop on this thread,
    # and every later test that runs asyncio (pytest-asyncio, asyncio.run) would fail with "another loop is
    # running". sample_runs first for the same reason: it runs flows with asyncio.run().
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e 'core[test]'")
    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 800}, color_scheme="light")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shoot(tmp_path: Path) -> Callable[..., Path]:
    def take(pg: Any, name: str, **kw: Any) -> Path:
        out = tmp_path / f"{name}.png"
        pg.screenshot(path=str(out), **kw)
        assert out.stat().st_size > 1000
        if SCREENSHOTS:
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out, DOC_IMAGES / out.name)
        return out

    return take
