"""What flyte-core ships for plugin tests: the conformance suites, with pytest declared; no service launchers."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import flyte.testing
import pytest

CORE = Path(__file__).resolve().parents[2]


def test_testing_extra_declares_what_the_suites_import() -> None:
    extras = tomllib.loads((CORE / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {req.split(">")[0].split("=")[0].split("[")[0].strip() for req in extras["testing"]}
    assert {"pytest", "pytest-asyncio"} <= names


def test_suites_import_without_flyte_testing() -> None:
    # the suites are flyte-core's; the launchers (flyte-testing) are another distribution
    code = (
        "import sys\n"
        "sys.modules['flyte_testing'] = None  # any import of it fails\n"
        "import flyte.testing.storage, flyte.testing.builders, flyte.testing.runtime, flyte.testing.hermetic\n"
        "print('ok')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"


def test_no_service_launchers_in_flyte_core() -> None:
    shipped = {f.stem for f in Path(flyte.testing.__file__).parent.glob("*.py")}
    assert shipped == {"__init__", "storage", "builders", "runtime", "hermetic"}


def test_hermetic_isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from flyte.config import find_config_file, get_config
    from flyte.testing.hermetic import isolate

    monkeypatch.setenv("FLYTE_IMAGE_REGISTRY", "leaked.example.com")
    monkeypatch.setenv("FLYTECTL_CONFIG", str(tmp_path / "flytectl.yaml"))
    monkeypatch.setenv("FLYTE_DEV_TOOLS", "/kept")
    isolate(monkeypatch, tmp_path / "home")
    (tmp_path / "home" / ".flyte").mkdir(parents=True)
    (tmp_path / "home" / ".flyte" / "config.yaml").write_text("image: {registry: from-home}\n")
    assert Path.home() == tmp_path / "home"
    assert os.environ["FLYTE_HOME"] == str(tmp_path / "home" / ".flyte")
    assert "FLYTE_IMAGE_REGISTRY" not in os.environ and "FLYTECTL_CONFIG" not in os.environ
    assert os.environ["FLYTE_DEV_TOOLS"] == "/kept"
    assert find_config_file() is None  # FLYTE_CONFIG="" even though ~/.flyte/config.yaml exists
    assert get_config().get("image.registry") is None
