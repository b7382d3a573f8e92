"""Write the golden fixtures from the *official* Flyte 2 SDK.

Run with the official SDK's interpreter (not ours)::

    $FLYTE_OFFICIAL_PYTHON core/tests/types/make_golden.py

It writes ``golden/official_2_12_1.json``: for every case in golden_cases.py the official
LiteralType and Literal (deterministic protobuf bytes, base64) and whether the official SDK
reads its own literal back to the expected value; and the official TypedInterface of a
few task signatures with their default inputs (TaskSpec ``NamedParameter`` s) and the
input literals of one call of some of them (``interface_calls``). The tests
compare our engine against this file without the official SDK.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden", "official_2_12_1.json")


def b64(msg) -> str:
    return base64.b64encode(msg.SerializeToString(deterministic=True)).decode()


async def main() -> None:
    sys.path.insert(0, HERE)
    import flyte
    import golden_cases
    from flyte._internal.runtime.types_serde import transform_native_to_typed_interface
    from flyte.io import Dir, File
    from flyte.models import NativeInterface
    from flyte.types import TypeEngine

    version = getattr(flyte, "__version__", "unknown")
    cases = {}
    for cid, t, value, expected, same in golden_cases.build(File, Dir, lambda t: t):
        lt = TypeEngine.to_literal_type(t)
        lit = await TypeEngine.to_literal(value, t, lt)
        back = await TypeEngine.to_python_value(lit, t)
        cases[cid] = {
            "literal_type": b64(lt),
            "literal": b64(lit),
            "official_roundtrip_equal": bool(back == expected),
            "bytes_comparable": same,
        }
    from flyte._internal.runtime.convert import convert_upload_default_inputs

    interfaces = {}
    defaults = {}
    for name, fn in golden_cases.interface_functions(File, Dir).items():
        native = NativeInterface.from_callable(fn)
        interfaces[name] = b64(transform_native_to_typed_interface(native))
        defaults[name] = [b64(p) for p in await convert_upload_default_inputs(native)]
    # one call per function in interface_calls: the literal of each argument, typed as the
    # official interface declares it (a top-level Literal of strings is an enum there)
    calls = {}
    fns = golden_cases.interface_functions(File, Dir)
    for name, kwargs in golden_cases.interface_calls().items():
        native = NativeInterface.from_callable(fns[name])
        lits = {}
        for k, v in kwargs.items():
            t = native.inputs[k][0]
            lt = TypeEngine.to_literal_type(t)
            lit = await TypeEngine.to_literal(v, t, lt)
            assert await TypeEngine.to_python_value(lit, t) == v, (name, k)
            lits[k] = b64(lit)
        calls[name] = lits
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        doc = {
            "sdk": "flyte",
            "version": version,
            "cases": cases,
            "interfaces": interfaces,
            "defaults": defaults,
            "calls": calls,
        }
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases and {len(interfaces)} interfaces from flyte {version} to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
