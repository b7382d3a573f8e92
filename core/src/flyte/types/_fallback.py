"""Types no transformer handles travel pickled, as on the official SDK, and say so once per type per run.

``types.pickle`` in the flyte config (or ``FLYTE_TYPES_PICKLE``) chooses: ``warn`` (the default) pickles
and warns; ``error`` makes such a type an error when the task is declared. The pickle is the official
SDK's encoding (a union of a ``PythonPickle`` blob and BINARY, tagged ``FlytePickle``), so values cross
between the two SDKs; only the same Python with the same libraries can read it back, and reading it runs
code, which is why it is never silent.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from flyte.config import get_config
from flyte.errors import ConfigError, PickleWarning
from flyte.types._pickle import PickleTransformer
from flyte.types._transformer import type_repr

POLICIES = ("warn", "error")
_warned: set[str] = set()
_lock = threading.Lock()


def new_run() -> None:
    """Called when a run starts (``flyte.run``, ``flyte run``): each run warns again, once per type."""
    with _lock:
        _warned.clear()


def policy() -> str:
    """``warn`` or ``error``, from ``types.pickle`` / ``FLYTE_TYPES_PICKLE``."""
    value = str(get_config().get("types.pickle", "warn") or "warn").strip().lower()
    if value not in POLICIES:
        raise ConfigError(f"types.pickle (FLYTE_TYPES_PICKLE) is {value!r}; use 'warn' (pickle types without a "
                          "transformer, with a warning) or 'error'")
    return value


def warn_once(t: Any) -> None:
    """One PickleWarning per type per run (:func:`new_run` starts counting again)."""
    key = type_repr(t)
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn_explicit(
        PickleWarning(
            f"Type {type_repr(t)} has no transformer, so its values travel pickled, as on the official SDK: only the "
            "same Python with the same libraries can read them back, and reading one runs code. To make this an "
            "error, set `types.pickle: error` in the flyte config (or FLYTE_TYPES_PICKLE=error); to carry it "
            "another way, register a TypeTransformer or use a dataclass / pydantic model"
        ),
        PickleWarning,
        "<flyte types>",
        0,
    )


class FallbackPickleTransformer(PickleTransformer):
    """The official SDK's pickle for a type nothing else handles, warning once per type per run."""

    async def to_literal(self, python_val: Any, python_type: Any, expected: Any) -> Any:
        warn_once(python_type)
        return await super().to_literal(python_val, python_type, expected)

    async def to_python_value(self, lv: Any, expected_python_type: Any) -> Any:
        warn_once(expected_python_type)
        return await super().to_python_value(lv, expected_python_type)


FALLBACK_PICKLE = FallbackPickleTransformer()
