"""Finds, loads and indexes plugins.

Nothing here runs at ``import flyte``: the entry-point scan and the plugin
imports happen the first time a registry is asked for something, and each
registry calls its hook once and caches the answer until the set of
registered plugins changes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pluggy

from flyte import __version__
from flyte.errors import PluginError, PluginLoadError, PluginWarning, UnknownPluginError
from flyte.plugins import hookspecs

logger = logging.getLogger("flyte.plugins")

ENTRY_POINT_GROUP = "flyte.plugins"
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (("local", "flyte._builtin.hooks"),)

# Which distribution provides a well-known name, so that a lookup miss can say what to install.
# Only distributions that exist (a test checks each against the workspace and what it registers);
# a name is added here when its distribution is written, not before.
KNOWN_PROVIDERS: dict[str, dict[str, str]] = {
    "storage backend": {
        "s3": "flyte-s3",
        "s3a": "flyte-s3",
        "gs": "flyte-gcs",
        "gcs": "flyte-gcs",
        "abfs": "flyte-azure",
        "abfss": "flyte-azure",
        "az": "flyte-azure",
    },
    "image builder": {"docker": "flyte-docker", "podman": "flyte-podman"},
    "runtime": {"sandbox": "flyte-sandbox", "remote": "flyte-remote"},
    "admin transport": {"grpc": "flyte-grpc"},
}

T = TypeVar("T")


@dataclass
class PluginInfo:
    """One loaded plugin: where it came from and what it registered."""

    name: str
    distribution: str
    version: str
    module: str
    registers: dict[str, list[str]] = field(default_factory=dict)


def _strict() -> bool:
    return os.environ.get("FLYTE_PLUGINS_STRICT", "").strip().lower() in {"1", "true", "yes", "on"}


def _disabled() -> set[str]:
    raw = os.environ.get("FLYTE_DISABLE_PLUGINS", "")
    return {p.strip() for p in raw.split(",") if p.strip()}


class PluginManager:
    """A pluggy manager for the ``flyte`` project plus the registries built on it."""

    def __init__(self, *, load_entry_points: bool = True, builtins: bool = True) -> None:
        self._pm = pluggy.PluginManager("flyte")
        self._pm.add_hookspecs(hookspecs)
        self._load_entry_points = load_entry_points
        self._builtins = builtins
        self._loaded = False
        self._builtins_loaded = False
        self._lock = threading.RLock()
        self.plugins: dict[str, PluginInfo] = {}
        self._registries: list[Registry[Any]] = []
        self.storage: Registry[type] = Registry(self, "flyte_storage_backends", "storage backend", keys=_protocols)
        self.builders: Registry[type] = Registry(self, "flyte_image_builders", "image builder")
        self.runtimes: Registry[type] = Registry(self, "flyte_runtimes", "runtime")
        self.admin: Registry[type] = Registry(self, "flyte_admin_transports", "admin transport")
        self.transformers: Registry[Any] = Registry(self, "flyte_type_transformers", "type transformer")

    # -- loading ------------------------------------------------------------------

    @property
    def fully_loaded(self) -> bool:
        return self._loaded

    def load_builtins(self) -> None:
        """Register the built-in plugin only (cheap: no entry-point scan)."""
        if self._builtins_loaded:
            return
        with self._lock:
            if self._builtins_loaded:
                return
            disabled = _disabled()
            if self._builtins:
                for name, module in BUILTIN_PLUGINS:
                    if name not in disabled:
                        self._load_one(name, module, "flyte-core", __version__, functools.partial(_import, module))
            self._builtins_loaded = True

    def load(self) -> None:
        """Import built-in and installed plugins once (thread-safe)."""
        if self._loaded:
            return
        self.load_builtins()
        with self._lock:
            if self._loaded:
                return
            if self._load_entry_points:
                from importlib.metadata import entry_points

                disabled = _disabled()
                seen: dict[str, str] = {name: "flyte-core" for name, _ in BUILTIN_PLUGINS}
                for ep in entry_points(group=ENTRY_POINT_GROUP):
                    dist = ep.dist.name if ep.dist is not None else "unknown"
                    if ep.name in disabled or (ep.name in seen and seen[ep.name] == dist):
                        continue
                    if ep.name in seen:
                        self._skip(
                            f"Two distributions register a flyte plugin named '{ep.name}': {seen[ep.name]} and "
                            f"{dist}; the one from {dist} was skipped. Uninstall one of them or block one with "
                            "FLYTE_DISABLE_PLUGINS."
                        )
                        continue
                    seen[ep.name] = dist
                    version = ep.dist.version if ep.dist is not None else "unknown"
                    self._load_one(ep.name, ep.value, dist, version, ep.load)
            self._loaded = True
            self._invalidate()

    @staticmethod
    def _skip(msg: str, cause: BaseException | None = None) -> None:
        """Warn about a plugin problem (a broken plugin must not break the CLI), or raise under strict mode."""
        if _strict():
            strict_msg = msg.replace("was skipped", "was not loaded")
            raise PluginLoadError(strict_msg + " (FLYTE_PLUGINS_STRICT is set)") from cause
        warnings.warn(msg + " Set FLYTE_PLUGINS_STRICT=1 to make this an error.", PluginWarning, stacklevel=3)

    def _load_one(self, name: str, module: str, dist: str, version: str, loader: Callable[[], Any]) -> None:
        try:
            obj = loader()
        except Exception as e:  # a broken plugin must not break the CLI
            self._skip(
                f"flyte plugin '{name}' from distribution {dist} {version} failed to import "
                f"({type(e).__name__}: {e}); it was skipped.",
                e,
            )
            return
        self._register(obj, PluginInfo(name=name, distribution=dist, version=version, module=module))

    def _register(self, obj: Any, info: PluginInfo) -> None:
        if info.name in self.plugins:
            raise PluginError(
                f"Two plugins are named '{info.name}': {self.plugins[info.name].distribution} and {info.distribution}."
            )
        try:
            self._pm.register(obj, name=info.name)
        except pluggy.PluginValidationError as e:
            raise PluginError(f"flyte plugin '{info.name}' ({info.distribution}) is invalid: {e}") from e
        self.plugins[info.name] = info

    def register(self, obj: Any, name: str, *, distribution: str = "(registered in process)") -> None:
        """Register a plugin object by hand (tests, notebooks). Undo with :meth:`unregister`."""
        self.load_builtins()
        with self._lock:
            self._register(obj, PluginInfo(name=name, distribution=distribution, version="", module=repr(obj)))
            self._invalidate()

    def unregister(self, name: str) -> None:
        with self._lock:
            plugin = self._pm.get_plugin(name)
            if plugin is not None:
                self._pm.unregister(plugin, name=name)
            self.plugins.pop(name, None)
            self._invalidate()

    def _invalidate(self) -> None:
        for r in self._registries:
            r.reset()

    # -- calling hooks --------------------------------------------------------------

    def call_each(self, hook_name: str, *, full: bool = True, **kwargs: Any) -> Iterator[tuple[PluginInfo, Any]]:
        """Call one hook on every plugin, yielding (plugin, result), oldest plugin first.

        ``full=False`` calls only the plugins loaded so far (at least the built-in one).
        A hook that raises is reported naming the plugin and the hook, then skipped
        (an error under ``FLYTE_PLUGINS_STRICT=1``).
        """
        if full:
            self.load()
        else:
            self.load_builtins()
        hook = getattr(self._pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order: built-ins, then installed plugins
            info = self.plugins.get(impl.plugin_name) or PluginInfo(impl.plugin_name, "unknown", "", "")
            try:
                result = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as e:
                self._skip(
                    f"flyte plugin '{info.name}' ({info.distribution}) failed in {hook_name}: "
                    f"{type(e).__name__}: {e}; it was skipped.",
                    e,
                )
                continue
            yield info, result

    def describe(self) -> list[PluginInfo]:
        """Every loaded plugin with what it registers, per kind (used by ``flyte plugins``)."""
        self.load()
        for info in self.plugins.values():
            info.registers = {}
        for r in self._registries:
            for owner, item_name in r.owners():
                if owner in self.plugins:
                    self.plugins[owner].registers.setdefault(r.kind, []).append(item_name)
        return list(self.plugins.values())


def _protocols(item: Any) -> Iterable[str]:
    return tuple(getattr(item, "protocols", ()) or (item.name,))


def _import(module: str) -> Any:
    import importlib

    return importlib.import_module(module)


def _name_of(item: Any) -> str:
    name = getattr(item, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"{item!r} has no 'name' attribute; every registered item must carry a unique name")
    return name


class Registry(Generic[T]):
    """Everything one hook registered, indexed by name (or, for storage, by protocol)."""

    def __init__(
        self,
        manager: PluginManager,
        hook_name: str,
        kind: str,
        keys: Callable[[Any], Iterable[str]] | None = None,
    ) -> None:
        self.manager = manager
        self.hook_name = hook_name
        self.kind = kind
        self._keys = keys or (lambda item: (_name_of(item),))
        self._items: dict[str, tuple[str, T]] | None = None
        manager._registries.append(self)

    def reset(self) -> None:
        self._items = None

    def _collect(self, full: bool = True) -> dict[str, tuple[str, T]]:
        """Index what the loaded plugins register; ``full`` loads installed plugins first."""
        if full and not self.manager.fully_loaded:
            self.manager.load()
        items = self._items
        if items is not None:
            return items
        with self.manager._lock:
            if self._items is not None:
                return self._items
            found: dict[str, tuple[str, T]] = {}
            for info, result in self.manager.call_each(self.hook_name, full=False):
                for item in result or ():
                    _name_of(item)
                    for key in self._keys(item):
                        if key in found:
                            other = self.manager.plugins.get(found[key][0])
                            other_desc = f"'{found[key][0]}' ({other.distribution if other else 'unknown'})"
                            raise PluginError(
                                f"Duplicate {self.kind} '{key}': registered by plugin {other_desc} "
                                f"and by plugin '{info.name}' ({info.distribution}). "
                                f"Uninstall one of them or block it with FLYTE_DISABLE_PLUGINS."
                            )
                        found[key] = (info.name, item)
            self._items = found
            return found

    def get(self, name: str) -> T:
        """Return the item registered under ``name``, or raise :class:`UnknownPluginError`.

        Like hatchling, installed plugins are imported only on a miss: a name the built-in
        plugin answers (``local``, ``file``) costs no entry-point scan.
        """
        hit = self._collect(full=False).get(name)
        if hit is not None:
            return hit[1]
        items = self._collect()
        hit = items.get(name)
        if hit is not None:
            return hit[1]
        available = ", ".join(sorted(items)) or "none"
        msg = f"Unknown {self.kind} '{name}'. Available: {available}."
        provider = KNOWN_PROVIDERS.get(self.kind, {}).get(name)
        disabled = _disabled()
        if name in ("local", "file") and "local" in disabled:
            msg += " The built-in plugin 'local' is blocked by FLYTE_DISABLE_PLUGINS."
        elif provider and provider.removeprefix("flyte-") in disabled:
            msg += f" {provider} is blocked by FLYTE_DISABLE_PLUGINS."
        elif provider:
            msg += f" Install {provider} (pip install {provider})."
        raise UnknownPluginError(msg)

    def find(self, name: str) -> T | None:
        hit = self._collect(full=False).get(name) or self._collect().get(name)
        return hit[1] if hit else None

    def snapshot(self, full: bool = True) -> dict[str, tuple[str, T]]:
        """Everything registered (installed plugins loaded), as ``key -> (plugin name, item)``.

        ``full=False``: only what the plugins loaded so far register (at least the built-in one),
        without importing installed plugins. The same object is returned until plugins change, so
        callers may cache against its identity.
        """
        return self._collect(full)

    def names(self) -> list[str]:
        return sorted(self._collect())

    def items(self) -> list[T]:
        seen: list[T] = []
        for _, item in self._collect().values():
            if not any(item is s for s in seen):
                seen.append(item)
        return seen

    def owners(self) -> list[tuple[str, str]]:
        """(plugin name, item key) pairs."""
        return [(owner, key) for key, (owner, _) in self._collect().items()]


_manager: PluginManager | None = None
_manager_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager (created on first use; loads nothing until asked)."""
    global _manager
    m = _manager
    if m is None:
        with _manager_lock:
            if _manager is None:
                _manager = PluginManager()
            m = _manager
    return m


@contextlib.contextmanager
def isolated_plugins(*plugins: tuple[str, Any], builtins: bool = True) -> Iterator[PluginManager]:
    """Swap in a plugin manager that sees only the built-ins and the given plugins.

    For tests: installed third-party plugins do not leak in, and nothing leaks out::

        with isolated_plugins(("mine", my_hooks_module)) as pm:
            assert "mine" in pm.runtimes.names()
    """
    global _manager
    previous = _manager
    pm = PluginManager(load_entry_points=False, builtins=builtins)
    for name, obj in plugins:
        pm.register(obj, name)
    _manager = pm
    try:
        yield pm
    finally:
        _manager = previous
