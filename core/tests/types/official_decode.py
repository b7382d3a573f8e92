"""Decode literals written by *our* engine with the official SDK (run with its interpreter).

Usage: /tmp/official/bin/python official_decode.py IN.json OUT.json, where IN maps case id
to a base64 Literal. OUT maps case id to "ok" or the error/mismatch description.
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
