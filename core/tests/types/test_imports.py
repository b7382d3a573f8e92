"""What importing costs: protobuf, pydantic and the engine load only when needed."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_import_flyte_io_is_light():
    out = run(
        "import sys, flyte.io, flyte.types; "
        "print(sorted(m for m in ('google.protobuf', 'flyteidl2', 'pydantic', 'msgpack', 'flyte.types._engine') "
        "if m in sys.modules))"
    )
    assert out == "[]"


def test_dataclasses_do_not_import_pydantic():
    out = run(
        "import sys, dataclasses, asyncio\n"
        "from flyte.types import TypeEngine\n"
        "@dataclasses.dataclass\n"
        "class D:\n"
        "    x: int\n"
        "lt = TypeEngine.to_literal_type(list[D])\n"
        "asyncio.run(TypeEngine.to_literal([D(1)], list[D], lt))\n"
        "print('pydantic' in sys.modules)"
    )
    assert out == "False"
