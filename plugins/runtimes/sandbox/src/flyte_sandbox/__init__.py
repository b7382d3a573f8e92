"""flyte-sandbox: run task bodies isolated in pydantic-monty, with limits and grants.

    flyte run --runtime sandbox examples/hello.py main

    from flyte_sandbox import Sandbox

    env = flyte.TaskEnvironment(name="untrusted", sandbox=Sandbox(timeout=2, memory="64MB"))

Importing this package does not import pydantic_monty; the runtime does, when a run starts.
"""

from __future__ import annotations

from flyte_sandbox.settings import Sandbox

__all__ = ["Sandbox"]
