"""The plugin manager: lazy loading, duplicate and unknown names, broken plugins, blocking."""

from __future__ import annotations

import types
import warnings
from typing import Any, ClassVar

import pytest
from flyte.errors import PluginError, PluginLoadError, PluginWarning, UnknownPluginError
from flyte.plugins import hookimpl
from flyte.plugins.manager import PluginManager, get_plugin_manager, isolated_plugins
from flyte.runtime import Runtime


def _runtime(name: str) -> type[Runtime]:
    class R(Runtime):
        async def submit(self, task: Any, args: Any, kwargs: Any, options: Any) -> Any:
            raise NotImplementedError

    R.name = name
    return R


def _plugin(**hooks: Any) -> types.SimpleNamespace:
    ns = types.SimpleNamespace()
    for hook, value in hooks.items():

        def impl(_v: Any = value) -> Any:
            return _v

        impl.__name__ = hook
        setattr(ns, hook, hookimpl(impl))
    return ns


def test_builtins_register_like_plugins() -> None:
    pm = PluginManager(load_entry_points=False)
    assert "local" in pm.runtimes.names()
    assert pm.storage.get("file").name == "local"
    assert pm.plugins["local"].distribution == "flyte-core"


def test_nothing_loaded_until_first_lookup() -> None:
    pm = PluginManager(load_entry_points=False)
    assert pm.plugins == {}
    pm.runtimes.names()
    assert "local" in pm.plugins


def test_unknown_name_lists_available_and_names_distribution() -> None:
    pm = PluginManager(load_entry_points=False)
    with pytest.raises(UnknownPluginError) as e:
        pm.runtimes.get("sandbox")
    msg = str(e.value)
    assert "Unknown runtime 'sandbox'" in msg
    assert "Available: local" in msg
    assert "flyte-sandbox" in msg
    with pytest.raises(UnknownPluginError, match="Install flyte-gcs"):
        pm.storage.get("gs")


def test_duplicate_name_names_both_owners() -> None:
    pm = PluginManager(load_entry_points=False)
    pm.register(_plugin(flyte_runtimes=[_runtime("twin")]), "first", distribution="dist-a")
    pm.register(_plugin(flyte_runtimes=[_runtime("twin")]), "second", distribution="dist-b")
    with pytest.raises(PluginError) as e:
        pm.runtimes.get("twin")
    assert "'first' (dist-a)" in str(e.value)
    assert "'second' (dist-b)" in str(e.value)


def test_duplicate_with_builtin_is_an_error() -> None:
    pm = PluginManager(load_entry_points=False)
    pm.register(_plugin(flyte_runtimes=[_runtime("local")]), "impostor")
    with pytest.raises(PluginError, match="Duplicate runtime 'local'"):
        pm.runtimes.names()


def test_item_without_name_is_rejected() -> None:
    pm = PluginManager(load_entry_points=False)
    pm.register(_plugin(flyte_runtimes=[object]), "nameless")
    with pytest.raises(PluginError, match="no 'name' attribute"):
        pm.runtimes.names()


def test_broken_hook_warns_once_and_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        @hookimpl
        def flyte_runtimes(self) -> Any:
            raise ImportError("No module named 'heavy_dependency'")

    pm = PluginManager(load_entry_points=False)
    pm.register(Broken(), "broken", distribution="flyte-broken")
    with pytest.warns(PluginWarning, match="'broken' \\(flyte-broken\\).*heavy_dependency"):
        names = pm.runtimes.names()
    assert names == ["local"]
    monkeypatch.setenv("FLYTE_PLUGINS_STRICT", "1")
    pm.runtimes.reset()
    with pytest.raises(PluginLoadError, match="heavy_dependency"):
        pm.runtimes.names()


def test_plugin_that_fails_to_import_is_skipped_with_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    pm = PluginManager(load_entry_points=False)

    def boom() -> Any:
        raise ModuleNotFoundError("No module named 'boto3'")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pm._load_one("s3", "flyte_s3.hooks", "flyte-s3", "9.9", boom)
    assert len(caught) == 1
    assert "'s3' from distribution flyte-s3 9.9" in str(caught[0].message)
    assert "s3" not in pm.plugins
    monkeypatch.setenv("FLYTE_PLUGINS_STRICT", "1")
    with pytest.raises(PluginLoadError, match="flyte-s3"):
        pm._load_one("s3", "flyte_s3.hooks", "flyte-s3", "9.9", boom)


def test_disable_plugins_blocks_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_DISABLE_PLUGINS", "local, other")
    pm = PluginManager(load_entry_points=False)
    assert pm.runtimes.names() == []


def test_entry_points_are_loaded_from_installed_distributions() -> None:
    pm = PluginManager()
    pm.load()
    # The example plugin is installed editable by the workspace set-up.
    assert "example" in pm.plugins, sorted(pm.plugins)
    assert pm.plugins["example"].distribution == "flyte-example-plugin"


def test_isolated_plugins_hides_installed_and_restores() -> None:
    outer = get_plugin_manager()
    with isolated_plugins(("mine", _plugin(flyte_runtimes=[_runtime("mine-rt")]))) as pm:
        assert get_plugin_manager() is pm
        assert pm.runtimes.names() == ["local", "mine-rt"]
        assert "example" not in pm.plugins
    assert get_plugin_manager() is outer


def test_register_and_unregister_invalidate_registries() -> None:
    pm = PluginManager(load_entry_points=False)
    assert pm.runtimes.names() == ["local"]
    pm.register(_plugin(flyte_runtimes=[_runtime("extra")]), "extra")
    assert pm.runtimes.names() == ["extra", "local"]
    pm.unregister("extra")
    assert pm.runtimes.names() == ["local"]


def test_storage_registry_is_keyed_by_protocol() -> None:
    from flyte.storage.backend import StorageBackend

    class Mem(StorageBackend):
        name = "mem"
        protocols: ClassVar[tuple[str, ...]] = ("memory", "mem")

        def create_filesystem(self) -> Any:
            import fsspec

            return fsspec.filesystem("memory")

    pm = PluginManager(load_entry_points=False)
    pm.register(_plugin(flyte_storage_backends=[Mem]), "mem")
    assert pm.storage.get("memory") is Mem
    assert pm.storage.get("mem") is Mem
    described = {i.name: i.registers for i in pm.describe()}
    assert described["mem"] == {"storage backend": ["memory", "mem"]}


class _FakeDist:
    def __init__(self, name: str) -> None:
        self.name = name
        self.version = "1.0"


class _FakeEP:
    def __init__(self, name: str, dist: str, obj: Any) -> None:
        self.name = name
        self.value = f"{dist}.hooks"
        self.dist = _FakeDist(dist)
        self._obj = obj

    def load(self) -> Any:
        return self._obj


def test_two_distributions_with_one_entry_point_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    eps = [
        _FakeEP("s3", "flyte-s3", _plugin(flyte_runtimes=[_runtime("from-s3")])),
        _FakeEP("s3", "flyte-dup", _plugin(flyte_runtimes=[_runtime("from-dup")])),
        _FakeEP("local", "flyte-impostor", _plugin(flyte_runtimes=[_runtime("impostor")])),
    ]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: eps)
    pm = PluginManager()
    with pytest.warns(PluginWarning) as caught:
        names = pm.runtimes.names()
    messages = [str(w.message) for w in caught]
    assert any("'s3': flyte-s3 and flyte-dup" in m for m in messages)
    assert any("'local': flyte-core and flyte-impostor" in m for m in messages)
    assert names == ["from-s3", "local"]
    monkeypatch.setenv("FLYTE_PLUGINS_STRICT", "1")
    with pytest.raises(PluginLoadError, match="flyte-dup"):
        PluginManager().load()


def test_plugin_cli_command_collisions_warn_and_keep_the_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    import click
    from flyte.cli.main import RootGroup

    def adds(name: str, text: str) -> Any:
        class P:
            @hookimpl
            def flyte_cli_commands(self, cli: Any) -> None:
                cli.add_command(click.Command(name, callback=lambda: click.echo(text)))

        return P()

    with isolated_plugins(("clix", adds("run", "hijacked")), ("first", adds("hello", "one")),
                          ("second", adds("hello", "two"))):
        root = RootGroup(name="flyte")
        with pytest.warns(PluginWarning) as caught:
            names = root.list_commands(click.Context(root))
        text = " ".join(str(w.message) for w in caught)
        assert "tried to replace the built-in command 'flyte run'" in text
        assert "'flyte hello', which plugin 'first' already added" in text
        assert "run" in names and "hello" in names
        assert root.command_owners == {"hello": "first"}
        assert root.get_command(click.Context(root), "run").name == "run"  # the built-in
        assert root.get_command(click.Context(root), "hello").callback() is None  # first plugin's


def test_unknown_name_says_when_it_is_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_DISABLE_PLUGINS", "local")
    with pytest.raises(UnknownPluginError, match="blocked by FLYTE_DISABLE_PLUGINS"):
        PluginManager(load_entry_points=False).runtimes.get("local")
