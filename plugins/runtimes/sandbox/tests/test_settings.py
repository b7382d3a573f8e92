import flyte
import pytest
from flyte.errors import SandboxError
from flyte_sandbox import Sandbox
from flyte_sandbox.settings import DEFAULT, sandbox_of


def test_defaults_are_strict():
    sb = Sandbox()
    assert sb.timeout == 10 and sb.memory_bytes == 256 * 2**20 and sb.mount is None and sb.env == ()
    limits = sb.limits()
    assert limits["max_memory"] == 256 * 2**20
    assert limits["max_feed_duration_secs"] == 10
    assert limits["max_recursion_depth"] == 200


@pytest.mark.parametrize("value, expected", [(64, 64 * 2**20), ("64MB", 64 * 2**20), ("1GB", 2**30),
                                             ("1Gi", 2**30), ("512 mb", 512 * 2**20)])
def test_memory_sizes(value, expected):
    assert Sandbox(memory=value).memory_bytes == expected


@pytest.mark.parametrize("kwargs, match", [({"timeout": 0}, "timeout"), ({"memory": "lots"}, "not a size"),
                                           ({"mount": "/definitely/not/here"}, "not a folder"),
                                           ({"mount_path": "data"}, "absolute"),
                                           ({"max_recursion_depth": 1}, "max_recursion_depth")])
def test_bad_settings_are_explained(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Sandbox(**kwargs)


def test_task_timeout_tightens_the_limit():
    assert Sandbox(timeout=10).limits(timeout=2)["max_feed_duration_secs"] == 2


def test_where_settings_come_from(tmp_path):
    env = flyte.TaskEnvironment(name="sbset", sandbox=Sandbox(timeout=3))

    @env.task
    def a(x: int) -> int:
        return x

    @env.task(sandbox=Sandbox(timeout=4))
    def b(x: int) -> int:
        return x

    plain = flyte.TaskEnvironment(name="sbplain")

    @plain.task
    def c(x: int) -> int:
        return x

    assert sandbox_of(a).timeout == 3
    assert sandbox_of(b).timeout == 4
    assert sandbox_of(a.override(sandbox=Sandbox(timeout=5))).timeout == 5
    assert sandbox_of(c) is DEFAULT
    assert sandbox_of(c.override(sandbox={"timeout": 6})).timeout == 6
    with pytest.raises(SandboxError, match="sbplain.c"):
        sandbox_of(c.override(sandbox=42))
