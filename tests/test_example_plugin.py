"""The third-party example plugin, installed through its entry point, extends every kind of hook."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOOKSPECS = ROOT / "core" / "src" / "flyte" / "plugins" / "hookspecs.py"


def hook_names() -> list[str]:
    tree = ast.parse(HOOKSPECS.read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("flyte_")]


@pytest.fixture
def example_only() -> object:
    """Only the built-in plugin and the example plugin, loaded through the real entry-point machinery."""
    import flyte_example_plugin.hooks as hooks
    from flyte.plugins.manager import isolated_plugins

    with isolated_plugins(("example", hooks)) as pm:
        yield pm


def flyte_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ, **env)
    e["FLYTE_DISABLE_PLUGINS"] = "gcs,azure,s3,docker,podman,sandbox"
    return subprocess.run([sys.executable, "-m", "flyte.cli.main", *args], capture_output=True, text=True, env=e,
                          cwd=ROOT, timeout=120)


def test_every_hook_is_documented_and_exercised_by_the_example() -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text()
    example = (ROOT / "examples/plugins/flyte-example-plugin/src/flyte_example_plugin/hooks.py").read_text()
    names = hook_names()
    assert len(names) == 6
    for name in names:
        assert f"## `{name}(" in docs, f"{name} has no heading in docs/plugins.md"
        assert f"def {name}(" in example, f"the example plugin does not implement {name}"


def test_entry_point_is_discovered_and_listed() -> None:
    p = flyte_cli("plugins", "-o", "json")
    assert p.returncode == 0, p.stderr
    rows = {r["name"]: r for r in json.loads(p.stdout)}
    ex = rows["example"]
    assert ex["distribution"] == "flyte-example-plugin"
    assert ex["registers"] == {
        "admin transport": ["example"],
        "cli command": ["example-hello"],
        "image builder": ["manifest"],
        "runtime": ["inline"],
        "storage backend": ["memory"],
        "type transformer": ["uuid"],
    }


def test_cli_command_from_plugin() -> None:
    p = flyte_cli("example-hello", "reader")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "hello reader from flyte-example-plugin"
    assert "example-hello" in flyte_cli("--help").stdout


def test_memory_storage_backend(example_only: object, tmp_path: Path) -> None:
    import flyte.storage

    src = tmp_path / "a.txt"
    src.write_text("payload")
    asyncio.run(flyte.storage.put(src, "memory://bucket/a.txt"))
    assert asyncio.run(flyte.storage.exists("memory://bucket/a.txt"))
    dst = tmp_path / "b.txt"
    asyncio.run(flyte.storage.get("memory://bucket/a.txt", dst))
    assert dst.read_text() == "payload"


def test_runtime_from_plugin(tmp_path: Path) -> None:
    wf = tmp_path / "wf.py"
    wf.write_text("import flyte\nenv = flyte.TaskEnvironment(name='p')\n"
                  "@env.task\nasync def t(x: int) -> int:\n    return x + 100\n")
    p = flyte_cli("run", "--runtime", "inline", str(wf), "t", "--x", "1")
    assert p.returncode == 0, p.stderr
    assert "o0 = 101" in p.stdout


def test_builder_and_transport_from_plugin(example_only: object, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import flyte

    pm = example_only
    builder_cls = pm.builders.get("manifest")  # type: ignore[attr-defined]
    builder = builder_cls()
    assert "FLYTE_EXAMPLE_MANIFEST_DIR" in (builder.check_available() or "")
    monkeypatch.setenv("FLYTE_EXAMPLE_MANIFEST_DIR", str(tmp_path))
    assert builder.check_available() is None
    lines: list[str] = []
    uri = builder.build(flyte.Image.from_debian_base(python_version=(3, 11)), on_output=lines.append)
    assert builder.exists(uri) and lines
    import asyncio

    from flyte.admin import AdminSettings

    transport = pm.admin.get("example")()  # type: ignore[attr-defined]
    client = asyncio.run(transport.connect(AdminSettings(endpoint="dns:///example:443")))
    assert client.ping() == "pong from example:443"


def test_type_transformer_from_plugin_in_a_local_run(example_only: object) -> None:
    import flyte

    env = flyte.TaskEnvironment(name="uuids")

    @env.task
    async def bump(u: uuid.UUID) -> uuid.UUID:
        return uuid.UUID(int=u.int + 1)

    u = uuid.UUID(int=41)
    assert flyte.run(bump, u=u).outputs()[0] == uuid.UUID(int=42)
