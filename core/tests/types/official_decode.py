"""Decode literals written by *our* engine with the official SDK (run with its interpreter).

Usage: $FLYTE_OFFICIAL_PYTHON official_decode.py IN.json OUT.json, where IN maps case id
to a base64 Literal (and "__calls__" to {function: {argument: base64 Literal}} for the calls
in golden_cases.interface_calls, read as the official task's NativeInterface types them).
OUT maps case id (or "function.argument") to "ok" or the error/mismatch description.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


async def main(src: str, dst: str) -> None:
    sys.path.insert(0, HERE)
    import golden_cases
    from flyte.io import Dir, File
    from flyte.types import TypeEngine
    from flyteidl2.core.literals_pb2 import Literal

    cases = {cid: (t, exp) for cid, t, _, exp, _ in golden_cases.build(File, Dir, lambda t: t)}
    result = {}
    with open(src) as f:
        ours = json.load(f)
    calls = ours.pop("__calls__", {})
    if calls:
        from flyte.models import NativeInterface

        fns = golden_cases.interface_functions(File, Dir)
        expected_calls = golden_cases.interface_calls()
        for name, lits in calls.items():
            # read each argument the way the official task would: typed by its NativeInterface
            native = NativeInterface.from_callable(fns[name])
            for k, b64 in lits.items():
                lit = Literal()
                lit.ParseFromString(base64.b64decode(b64))
                expected = expected_calls[name].get(k, native.inputs[k][1])
                try:
                    value = await TypeEngine.to_python_value(lit, native.inputs[k][0])
                    ok = value == expected
                    result[f"{name}.{k}"] = "ok" if ok else f"mismatch: {value!r} != {expected!r}"
                except Exception as e:
                    result[f"{name}.{k}"] = f"error: {type(e).__name__}: {e}"
    for cid, b64 in ours.items():
        t, expected = cases[cid]
        lit = Literal()
        lit.ParseFromString(base64.b64decode(b64))
        try:
            value = await TypeEngine.to_python_value(lit, t)
            result[cid] = "ok" if value == expected else f"mismatch: {value!r} != {expected!r}"
        except Exception as e:
            result[cid] = f"error: {type(e).__name__}: {e}"
    with open(dst, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
