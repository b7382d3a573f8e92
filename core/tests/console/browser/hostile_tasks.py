"""A run whose strings are HTML that would run if a page parsed them (the console must show them as text)."""

from __future__ import annotations

import flyte

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

env = flyte.TaskEnvironment("console_hostile")


@env.task
def echo(text: str) -> str:
    return text


@env.task
def boom(text: str) -> int:
    raise RuntimeError(text)


@env.task
def hostile(text: str = HOSTILE) -> int:
    """A group named with the hostile string, a child echoing it, and a child failing with it."""
    with flyte.group(HOSTILE):
        echo(text)
    return boom(text)


# a right-to-left override: shown raw, "\u202edesrever" reads "reversed"
SPOOF = "all is well \u202edesrever"


@env.task
def spoof(text: str = SPOOF) -> int:
    """Fails (through a child) with an error that holds a bidi override."""
    return boom(text)
