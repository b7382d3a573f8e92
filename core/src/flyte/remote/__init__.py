"""Running on a Flyte 2 control plane: task specs, the worker entry point and child actions.

``flyte-remote`` (the ``remote`` runtime plugin) submits runs; task containers run
``flyte-core-worker`` (:mod:`flyte.remote.worker`). Both use the pieces here:

- :mod:`flyte.remote.spec`: a task as a flyteidl2 ``TaskSpec`` (:func:`task_spec`, :class:`SpecContext`).
- :mod:`flyte.remote.io`: ``inputs.pb``/``outputs.pb``/``error.pb`` of the worker contract.
- :mod:`flyte.remote.controller`: :class:`ActionsController`, child calls as child actions.
- :mod:`flyte.remote.names`: deterministic child action names.
- :mod:`flyte.remote.bundle`: safe extraction of a code bundle.

Example::

    from flyte.remote import SpecContext, task_spec

    spec = task_spec(main, SpecContext(project="flytesnacks", domain="development", version="v1"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte.remote.controller import ActionsController
    from flyte.remote.spec import WORKER_SCRIPT, SpecContext, task_spec
    from flyte.remote.task import Task

_LAZY = {
    "SpecContext": "flyte.remote.spec",
    "task_spec": "flyte.remote.spec",
    "WORKER_SCRIPT": "flyte.remote.spec",
    "ActionsController": "flyte.remote.controller",
    "Task": "flyte.remote.task",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # AttributeError (so `from flyte.remote import io` imports it), NotSupportedError for an
        from flyte._compat import missing  # official name (Run, Action...): one line pointing at the docs

        raise missing(__name__, name)
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["WORKER_SCRIPT", "ActionsController", "SpecContext", "Task", "task_spec"]
