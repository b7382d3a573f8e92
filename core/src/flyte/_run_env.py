"""Per-task environment variables inside one process.

On a cluster every task runs in its own container and reads its own environment. In one
process, concurrent tasks whose environments set the same variable would overwrite each
other in ``os.environ``. While a run that sets variables is active, ``os.environ`` is an
:class:`EnvOverlay`: reads and writes go to the *layer* of the task running in the current
context (a :mod:`contextvars` value the controller sets per action; sync bodies on threads
carry it in their copied context), falling back to the process environment. ``os.getenv``
reads ``os.environ``, and ``subprocess.Popen(..., env=None)`` started by a body gets the
task's view, because the overlay fills ``env`` while a layer is active.

What one process cannot isolate: C code reading the process environment (``getenv(3)`` in
native extensions), ``os.system`` and ``os.exec*``. For those the variables are also set in
the process environment (the task that started last wins) and restored when the run ends;
when two environments set the same key to different values at the same time, a
:class:`flyte.errors.EnvironmentIsolationWarning` names both, once per run.

Tasks without environment variables, in runs without any, pay nothing: no overlay is
installed and no layer is set.
"""

from __future__ import annotations

import contextvars
import os
import subprocess
import threading
import warnings
from collections.abc import Iterator, MutableMapping
from typing import Any

from flyte import _context
from flyte.errors import EnvironmentIsolationWarning

# The layer of the task running in this context: name -> value (None: deleted in this task).
_layer: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar("flyte_env_layer",
                                                                                    default=None)
_MISSING: Any = object()


def current_layer() -> dict[str, str | None] | None:
    return _layer.get()


def set_layer(layer: dict[str, str | None] | None) -> contextvars.Token[dict[str, str | None] | None]:
    return _layer.set(layer)


def reset_layer(token: contextvars.Token[dict[str, str | None] | None]) -> None:
    _layer.reset(token)


class EnvOverlay(MutableMapping[str, str]):
    """``os.environ`` while a run with environment variables is active (see the module docstring)."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base

    def __getitem__(self, key: str) -> str:
        layer = _layer.get()
        if layer is not None:
            v = layer.get(key, _MISSING)
            if v is not _MISSING:
                if v.__class__ is str:
                    return v
                if v is None:
                    raise KeyError(key)
                raise v.error()  # a declared secret nothing provides (flyte._secret.MissingSecret)
        elif _process_values and _context._current.get() is None:
            v = _process_values.get(key)
            if v is not None:
                return v
        return self.base[key]

    def get(self, key: str, default: Any = None) -> Any:
        layer = _layer.get()
        if layer is not None:
            v = layer.get(key, _MISSING)
            if v is not _MISSING:
                return v if v.__class__ is str else default  # None (deleted) or a missing secret
        elif _process_values and _context._current.get() is None:
            v = _process_values.get(key)
            if v is not None:
                return v
        return self.base.get(key, default)

    def __contains__(self, key: object) -> bool:
        layer = _layer.get()
        if layer is not None and key in layer:
            return layer[key].__class__ is str
        if layer is None and key in _process_values and _context._current.get() is None:
            return True
        return key in self.base

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"str expected, not {type(value if isinstance(key, str) else key).__name__}")
        layer = _layer.get()
        if layer is None:
            self.base[key] = value
            return
        # Copy on write: the layer dict may be shared by other actions of the same task.
        new = dict(layer)
        new[key] = value
        _layer.set(new)

    def __delitem__(self, key: str) -> None:
        layer = _layer.get()
        if layer is None:
            del self.base[key]
            return
        if key not in self:
            raise KeyError(key)
        new = dict(layer)
        new[key] = None
        _layer.set(new)

    def _view(self) -> dict[str, str]:
        out = dict(self.base)
        layer = _layer.get()
        if layer is None:
            if _context._current.get() is None:  # outside any task: what runs set, as C code sees it
                out.update(_process_values)
        else:
            for k, v in layer.items():
                if v.__class__ is not str:  # deleted, or a missing secret
                    out.pop(k, None)
                else:
                    out[k] = v
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self._view())

    def __len__(self) -> int:
        return len(self._view())

    def copy(self) -> dict[str, str]:
        return self._view()

    def __or__(self, other: Any) -> dict[str, str]:
        out = self._view()
        out.update(other)
        return out

    def __ior__(self, other: Any) -> EnvOverlay:
        self.update(other)
        return self

    def __repr__(self) -> str:
        return f"environ({self._view()!r})"


# -- installation (reference counted: concurrent runs share one overlay) ---------------------

_lock = threading.Lock()
_installs = 0
_overlay: EnvOverlay | None = None
_popen_init: Any = None
_c_touched: dict[str, str | None] = {}  # key -> process value before a run set it
# What runs set in the process environment (the task that started last wins): what code outside any task's
# context sees (threads a body starts itself, library threads), as C code does.
_process_values: dict[str, str] = {}


def _popen_init_with_env(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
    # env is Popen's 10th parameter after args; a positional env is left as given.
    # Filled whenever a layer is active or a run has set process values another task should not inherit.
    if len(rest) < 10 and kwargs.get("env") is None and _overlay is not None and (
            _layer.get() is not None or _c_touched):
        kwargs["env"] = _overlay._view()
    _popen_init(self, args, *rest, **kwargs)


def install() -> None:
    """Make ``os.environ`` the overlay (idempotent per caller: pair with :func:`uninstall`)."""
    global _installs, _overlay, _popen_init
    with _lock:
        _installs += 1
        if _installs > 1:
            return
        if not isinstance(os.environ, EnvOverlay):
            _overlay = EnvOverlay(os.environ)
            os.environ = _overlay  # type: ignore[assignment]  # noqa: B003 - replaced, not cleared: intended
        else:
            _overlay = os.environ
        _popen_init = subprocess.Popen.__init__
        subprocess.Popen.__init__ = _popen_init_with_env  # type: ignore[method-assign]


def uninstall() -> None:
    """Undo :func:`install`; the last one restores ``os.environ`` and the process environment."""
    global _installs, _overlay, _popen_init
    with _lock:
        _installs -= 1
        if _installs > 0:
            return
        overlay = _overlay
        if overlay is not None and os.environ is overlay:
            os.environ = overlay.base  # type: ignore[assignment]  # noqa: B003 - the original mapping back
        base = overlay.base if overlay is not None else os.environ
        for k, old in _c_touched.items():
            current = base.get(k)
            if current is not None:
                os.putenv(k, current)
            elif old is None:
                os.unsetenv(k)
        _c_touched.clear()
        _process_values.clear()
        _overlay = None
        if _popen_init is not None:
            subprocess.Popen.__init__ = _popen_init  # type: ignore[method-assign]
            _popen_init = None


def set_process_value(key: str, value: str) -> None:
    """Also set ``key`` for C code in this process (see the module docstring); restored on uninstall."""
    if key not in _c_touched:
        base = _overlay.base if _overlay is not None else os.environ
        _c_touched[key] = base.get(key)
    _process_values[key] = value
    os.putenv(key, value)


class ConflictTracker:
    """Which environments' values are active now, to warn once when two set a key differently."""

    def __init__(self) -> None:
        self.active: dict[str, dict[tuple[str, str], int]] = {}
        self.warned: set[tuple[str, frozenset[str]]] = set()

    def enter(self, owner: str, values: dict[str, str]) -> None:
        for k, v in values.items():
            holders = self.active.setdefault(k, {})
            for (other, other_v), n in holders.items():
                if n and other_v != v and other != owner:
                    self._warn(k, owner, other)
            holders[(owner, v)] = holders.get((owner, v), 0) + 1

    def exit(self, owner: str, values: dict[str, str]) -> None:
        for k, v in values.items():
            holders = self.active.get(k)
            if holders is not None:
                n = holders.get((owner, v), 0) - 1
                if n > 0:
                    holders[(owner, v)] = n
                else:
                    holders.pop((owner, v), None)

    def _warn(self, key: str, a: str, b: str) -> None:
        mark = (key, frozenset((a, b)))
        if mark in self.warned:
            return
        self.warned.add(mark)
        first, second = sorted((a, b))
        # Not attributed to a line of flyte's (or of the body that happened to start second): it is about the run.
        warnings.warn_explicit(
            f"Environments '{first}' and '{second}' both set {key} (to different values) and their tasks run at "
            "the same time. Each task sees its own value through os.environ, os.getenv and subprocesses, but C "
            "code reading the process environment (native extensions), os.system and os.exec* see whichever "
            "task set it last. Run them in separate runs, or read the value in Python, if that matters.",
            EnvironmentIsolationWarning,
            "<flyte environments>",
            0,
        )
