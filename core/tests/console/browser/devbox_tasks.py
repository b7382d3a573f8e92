"""A run that goes on for a while on the devbox, printing as it goes (live logs, abort)."""

from __future__ import annotations

import time

import flyte

env = flyte.TaskEnvironment("console_devbox")


@env.task
def ticker(n: int = 600, pause: float = 0.1) -> int:
    for i in range(n):
        print(f"tick {i} <b>not bold</b>", flush=True)
        time.sleep(pause)
    return n


@env.task
def main(n: int = 600) -> int:
    return ticker(n)
