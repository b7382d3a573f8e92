"""The cache behaviors the official SDK accepts (its aliases "on", "off", "yes", ... in any case) work here too."""

import flyte
import pytest
from flyte._cache import normalize_cache
from flyte.errors import TaskDefinitionError

ON = ["auto", "enable", "enabled", "on", "true", "yes", "On", "YES"]
OFF = ["disable", "off", "false", "no", "none", "Off"]


@pytest.mark.parametrize("word", ON + OFF)
def test_aliases(word: str) -> None:
    expected = "auto" if word in ON else "disable"
    assert flyte.Cache(behavior=word).behavior == expected  # type: ignore[arg-type]
    assert normalize_cache(word).behavior == expected  # type: ignore[arg-type]
    env = flyte.TaskEnvironment(name=f"cache_alias_{word.lower()}", cache=word)  # type: ignore[arg-type]

    @env.task
    async def t(x: int) -> int:
        return x

    assert t.cache.behavior == expected


def test_unknown_word_names_the_aliases() -> None:
    with pytest.raises(ValueError, match="aliases enable, enabled, false, no, none, off, on, true, yes"):
        flyte.Cache(behavior="sometimes")  # type: ignore[arg-type]
    env = flyte.TaskEnvironment(name="cache_alias_bad")
    with pytest.raises(TaskDefinitionError, match="got 'sometimes'"):
        @env.task(cache="sometimes")  # type: ignore[arg-type]
        async def t(x: int) -> int:
            return x
