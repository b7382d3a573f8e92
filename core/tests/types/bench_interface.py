"""Micro-benchmark of the per-call type conversions the runtime makes for every task.

Run: .venv/bin/python core/tests/types/bench_interface.py  (best of 7 rounds, microseconds per call)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from flyte.types.interface import (
    NativeInterface,
    inputs_to_literals,
    literals_hash,
    literals_to_inputs,
    literals_to_outputs,
    outputs_to_literals,
)


def add(a: int, b: int) -> int:
    return a + b


async def best(fn: Callable[[], Awaitable[Any]], n: int = 20_000, rounds: int = 7) -> float:
    results = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            await fn()
        results.append((time.perf_counter() - t0) / n * 1e6)
    return min(results)


async def main() -> None:
    iface = NativeInterface.from_function(add, "add")
    lits = await inputs_to_literals(iface, (1, 2), {})
    outs = await outputs_to_literals(iface, 3)

    async def inputs_roundtrip() -> None:
        await literals_to_inputs(iface, await inputs_to_literals(iface, (1, 2), {}))

    async def outputs_roundtrip() -> None:
        await literals_to_outputs(iface, await outputs_to_literals(iface, 3))

    async def hashing() -> None:
        literals_hash(lits)

    async def everything() -> None:
        in_lits = await inputs_to_literals(iface, (1, 2), {})
        literals_hash(in_lits)
        kw = await literals_to_inputs(iface, in_lits)
        await literals_to_outputs(iface, await outputs_to_literals(iface, add(**kw)))

    for label, fn in [
        ("inputs_to_literals", lambda: inputs_to_literals(iface, (1, 2), {})),
        ("literals_to_inputs", lambda: literals_to_inputs(iface, lits)),
        ("inputs_to_literals + literals_to_inputs", inputs_roundtrip),
        ("outputs_to_literals + literals_to_outputs", outputs_roundtrip),
        ("literals_hash", hashing),
        ("all of the above (one task call)", everything),
    ]:
        print(f"{label:45s} {await best(fn):6.2f} us")
    del outs


if __name__ == "__main__":
    asyncio.run(main())
