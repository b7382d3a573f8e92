"""Tasks that pass only in their image: they read what the image's RUN step wrote.

FLYTE_TEST_PYTHON_BASE names the base image (flyte-testing's python_base); inside the container it is
not set and the module still imports (the worker builds no images).
"""

from __future__ import annotations

import asyncio
import os

import flyte

BASE = os.environ.get("FLYTE_TEST_PYTHON_BASE", "python-base-of-the-test")
image = flyte.Image.from_base(BASE).with_commands(["echo -n built-by-the-devbox > /etc/remote-builder-marker"])
env = flyte.TaskEnvironment(name="baked", image=image)


@env.task
async def read_marker(i: int) -> str:
    with open("/etc/remote-builder-marker") as f:
        return f"{i}={f.read()}"


@env.task
async def fan_out(n: int = 2) -> list[str]:
    return list(await asyncio.gather(*(read_marker(i) for i in range(n))))
