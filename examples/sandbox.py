"""Task bodies isolated in the sandbox: limits per task, and what a body may not do.

    flyte run --runtime sandbox examples/sandbox.py main
    python examples/sandbox.py

Every body here runs in a pydantic-monty worker with no file system, network,
environment or processes, under time and memory limits (needs flyte-sandbox).
The parent catches each child's failure, so the run succeeds and shows them.
"""

import flyte
from flyte_sandbox import Sandbox

env = flyte.TaskEnvironment(name="sandboxed", sandbox=Sandbox(timeout=2, memory="64MB"))


@env.task
def word_count(text: str) -> int:
    return len(text.split())


@env.task(sandbox=Sandbox(timeout=2, memory="16MB"))
def hungry(n: int) -> int:
    """Builds n strings of 1 MB: more than its 16 MB allows."""
    chunks = []
    for _ in range(n):
        chunks.append("x" * 1_000_000)
    return len(chunks)


@env.task
def snoop() -> str:
    """Denied: there is no file system unless Sandbox(mount=...) grants a folder."""
    return open("/etc/passwd").read()


@env.task
def peek_env() -> str:
    """Denied: environment variables are readable only when granted, Sandbox(env=["HOME"])."""
    import os

    return os.getenv("HOME", "")


@env.task
async def main(text: str = "the quick brown fox") -> list[str]:
    report = [f"word_count: {await word_count.aio(text)}"]  # sync tasks are awaited with .aio
    for name, call in (("hungry", hungry), ("snoop", snoop), ("peek_env", peek_env)):
        try:
            value = await (call.aio(100) if name == "hungry" else call.aio())
            report.append(f"{name}: {value}")
        except Exception as e:
            report.append(f"{name}: refused: {e}")
    return report


if __name__ == "__main__":
    for line in flyte.with_runcontext(mode="sandbox").run(main).outputs()[0]:
        print(line)
