"""Tasks that only pass when they run in their image: they read the file its RUN step wrote.

FLYTE_TEST_PYTHON_BASE names the base image (flyte-testing's python_base); inside the container the
variable is not set and the module still imports (the worker does not build images).
"""

from __future__ import annotations

import asyncio
import os

import flyte

BASE = os.environ.get("FLYTE_TEST_PYTHON_BASE", "python-base-of-the-test")
image = flyte.Image.from_base(BASE).with_commands(["echo -n baked-in-the-image > /etc/flyte-test-marker"])
env = flyte.TaskEnvironment(name="in_image", image=image)


@env.task
async def read_marker(i: int) -> str:
    with open("/etc/flyte-test-marker") as f:
        return f"{i}:{f.read()}"


@env.task
async def fan_out(n: int = 3) -> list[str]:
    return list(await asyncio.gather(*(read_marker(i) for i in range(n))))
