"""The authoring API: environments, decoration with and without arguments, validation at decoration time."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta

import flyte
import pytest
from flyte.errors import TaskDefinitionError

env = flyte.TaskEnvironment(
    name="authoring",
    resources=flyte.Resources(cpu=(1, 2), memory="1Gi"),
    env_vars={"A": "1"},
    secrets=["token", flyte.Secret(key="other", group="g")],
    cache="auto",
)


@env.task
async def plain(x: int) -> int:
    return x


@env.task(short_name="renamed", retries=2, timeout=timedelta(seconds=3), cache="disable")
def with_args(x: int) -> int:
    return x


def test_task_names_and_options() -> None:
    assert plain.name == "authoring.plain"
    assert plain.short_name == "plain"
    assert plain.cache.behavior == "auto"  # inherited from the environment
    assert with_args.short_name == "renamed"
    assert with_args.retries.count == 2
    assert with_args.timeout == 3.0
    assert not with_args.cache.enabled
    assert plain.resources == flyte.Resources(cpu=(1, 2), memory="1Gi")
    assert [s.key for s in plain.secrets] == ["token", "other"]
    assert set(env.tasks) == {"authoring.plain", "authoring.with_args"}


def test_plain_calls_outside_runs() -> None:
    assert asyncio.run(plain(3)) == 3
    assert with_args(4) == 4
    assert asyncio.run(with_args.aio(5)) == 5
    assert with_args.forward(6) == 6


class Opaque:
    pass


def test_unsupported_type_is_an_error_at_decoration_naming_task_param_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_TYPES_PICKLE", "error")  # by default it would travel pickled, with a warning
    with pytest.raises(TaskDefinitionError) as e:

        @env.task
        async def bad(x: Opaque) -> int:
            return 1

    msg = str(e.value)
    assert "authoring.bad" in msg and "'x'" in msg and "Opaque" in msg


def test_invalid_options_are_errors_naming_the_task() -> None:
    with pytest.raises(TaskDefinitionError, match="authoring.r.*retries"):

        @env.task(retries=-1)
        async def r() -> None:
            return None

    with pytest.raises(TaskDefinitionError, match="authoring.c.*cache"):

        @env.task(cache="sometimes")  # type: ignore[arg-type]
        async def c() -> None:
            return None

    with pytest.raises(TaskDefinitionError, match="generator"):

        @env.task
        def g():  # type: ignore[no-untyped-def]
            yield 1


def test_environment_validation() -> None:
    with pytest.raises(ValueError, match="name 'bad name!' is invalid"):
        flyte.TaskEnvironment(name="bad name!")
    with pytest.raises(TypeError, match="env_vars"):
        flyte.TaskEnvironment(name="e", env_vars={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="cpu"):
        flyte.Resources(cpu=0)
    with pytest.raises(ValueError, match="as_env_var"):
        flyte.Secret(key="k", as_env_var="1BAD")
    with pytest.raises(ValueError, match="version_override"):
        flyte.Cache(behavior="override")
    dep = flyte.TaskEnvironment(name="dep")
    e = flyte.TaskEnvironment(name="e", depends_on=[dep])
    clone = e.clone_with("e2", env_vars={"B": "2"})
    assert clone.name == "e2" and clone.depends_on == [dep] and clone.env_vars == {"B": "2"}


def test_cache_version_tracks_source_or_override() -> None:
    v1 = plain.cache_version
    assert v1 == plain.cache_version and len(v1) == 32
    pinned = plain.override(cache=flyte.Cache(behavior="override", version_override="v7"))
    assert pinned.cache_version == "v7"
    assert pinned.name == plain.name


def test_image_is_accepted_as_spec_or_string() -> None:
    e1 = flyte.TaskEnvironment(name="img1", image="ghcr.io/org/app:1")
    e2 = flyte.TaskEnvironment(name="img2", image=flyte.Image.from_debian_base(python_version=(3, 11)))
    assert e1.image == "ghcr.io/org/app:1"
    assert isinstance(e2.image, flyte.Image)


def test_official_sdk_surface_exists() -> None:
    for name in (
        "TaskEnvironment",
        "Resources",
        "Secret",
        "Cache",
        "RetryStrategy",
        "Image",
        "ctx",
        "group",
        "map",
        "init",
        "init_from_config",
        "run",
        "with_runcontext",
    ):
        assert hasattr(flyte, name), name
    assert callable(flyte.run.aio) and callable(flyte.map.aio)
    from flyte.io import Dir, File

    assert File and Dir


def test_import_flyte_loads_nothing_heavy() -> None:
    code = (
        "import sys, flyte\n"
        "heavy = [m for m in ('pluggy', 'click', 'rich', 'google.protobuf', 'flyteidl2', 'httpx', 'grpc', "
        "'fsspec', 'msgpack', 'pydantic', 'yaml', 'typing', 'asyncio') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_flyte_help_imports_no_plugin_heavy_dependencies() -> None:
    code = (
        "import sys\n"
        "from flyte.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('boto3', 's3fs', 'gcsfs', 'adlfs', 'docker', 'podman', 'grpc', 'httpx', "
        "'pydantic_monty', 'google.protobuf', 'flyteidl2') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in out.stdout or out.stdout.strip().endswith("HEAVY="), out.stdout
