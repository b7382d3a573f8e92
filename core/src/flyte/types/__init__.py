"""The type engine: Python values <-> flyteidl2 ``Literal``/``LiteralType``, wire-compatible
with the official Flyte 2 SDK (2.12.1).

Public API (imported lazily; ``import flyte`` does not load this package):

* :class:`TypeEngine` -- ``to_literal_type(t)``, ``await to_literal(v, t, expected)``,
  ``await to_python_value(lit, t)``, ``register(transformer)``, ``plan(t)``.
* :class:`TypeTransformer` -- base class for transformers (also what the
  ``flyte_type_transformers`` plugin hook returns).
* ``TypeTransformerFailedError`` -- alias of :class:`flyte.errors.TypeTransformerError`
  under the official SDK's name.
* :data:`Pickled` -- ``Pickled[T]`` opts one value into pickling (never automatic).
* :mod:`flyte.types.interface` -- what the runtime calls per task:
  ``NativeInterface.from_function(func, task_name)`` (once, at decoration),
  ``await inputs_to_literals(iface, args, kwargs)``, ``await literals_to_inputs(iface, lits)``,
  ``await outputs_to_literals(iface, value)``, ``await literals_to_outputs(iface, lits)``,
  ``literals_hash(lits)``, ``await default_inputs(iface)`` (TaskSpec defaults),
  ``NativeInterface.from_typed_interface(...)`` (tasks known only by their flyteidl2
  interface); the main ones are re-exported here.

See ``docs/types.md`` for the supported types and their encodings.

Example::

    from flyte.types import TypeEngine

    lit = await TypeEngine.to_literal(3, int, TypeEngine.to_literal_type(int))
    assert await TypeEngine.to_python_value(lit, int) == 3
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte._lazy import lazy_getattr

if TYPE_CHECKING:
    from flyte.types._engine import TypeEngine
    from flyte.types._pickle import Pickled
    from flyte.types._transformer import TypePlan, TypeTransformer, TypeTransformerFailedError
    from flyte.types.interface import (
        NativeInterface,
        inputs_to_literals,
        literals_hash,
        literals_to_inputs,
        literals_to_outputs,
        outputs_to_literals,
    )

_LAZY = {
    "TypeEngine": "flyte.types._engine",
    "TypeTransformer": "flyte.types._transformer",
    "TypePlan": "flyte.types._transformer",
    "TypeTransformerFailedError": "flyte.types._transformer",
    "Pickled": "flyte.types._pickle",
    "NativeInterface": "flyte.types.interface",
    "inputs_to_literals": "flyte.types.interface",
    "literals_to_inputs": "flyte.types.interface",
    "outputs_to_literals": "flyte.types.interface",
    "literals_to_outputs": "flyte.types.interface",
    "literals_hash": "flyte.types.interface",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "NativeInterface",
    "Pickled",
    "TypeEngine",
    "TypePlan",
    "TypeTransformer",
    "TypeTransformerFailedError",
    "inputs_to_literals",
    "literals_hash",
    "literals_to_inputs",
    "literals_to_outputs",
    "outputs_to_literals",
]
