"""The pytest plugin of flyte-testing (entry point ``pytest11``): fixtures that start real services.

Installed, it is loaded by every pytest run; nothing starts until a test asks for a fixture, and
a service that cannot start here (its tool is not installed) skips the tests that need it, with
the reason and how to install it. Set ``FLYTE_TESTING_REQUIRE_SERVICES=1`` (CI does) to make that
an error instead.

Storage emulators (session scope, one per test run):

- ``moto``: moto in server mode (S3); any key works; ``moto.env`` has keys and ``AWS_ENDPOINT_URL``.
- ``moto_auth``: moto with IAM checks on: only the keys in ``moto_auth.env`` work.
- ``azurite``: Azurite's blob service; ``azurite.extra["connection_string"]``.
- ``gcs_emulator``: gcp-storage-emulator, in memory; ``gcs_emulator.env["STORAGE_EMULATOR_HOST"]``.

Container engines (module scope, one per test module, so modules never see each other's images):

- ``podman_stack``: two registries (one with htpasswd auth), a busybox base image and
  ``podman system service``; ``podman_stack.target(builder, unavailable)`` is a
  :class:`flyte.testing.builders.BuilderTarget`.
- ``dockerd_stack``: the same with a private dockerd.
- ``python_base`` (session scope): a base image with this machine's Python, flyte-core and flyte-grpc
  (:mod:`flyte_testing.python_image`); ``python_base.image(dockerd_stack)`` pushes it to that stack's
  registry once and returns its URI, for images whose tasks really run (``FROM`` it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pytest

if TYPE_CHECKING:
    from flyte_testing.engines import Stack
    from flyte_testing.python_image import PythonBase
    from flyte_testing.services import Service

T = TypeVar("T")

REQUIRE_ENV = "FLYTE_TESTING_REQUIRE_SERVICES"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_ENV, "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set, so a missing service is an error, not a skip)", pytrace=False)
    pytest.skip(reason)


def _started(start: Callable[[], T]) -> T:
    from flyte_testing.engines import EngineUnavailable
    from flyte_testing.services import ServiceUnavailable

    try:
        return start()
    except (ServiceUnavailable, EngineUnavailable) as e:
        reason = str(e)
    _unavailable(reason)  # outside the except: the skip or failure does not chain the launcher's error


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """moto in server mode; accepts any key and does not check presigned URL signatures."""
    from flyte_testing import services

    svc = _started(lambda: services.start_moto(tmp_path_factory.mktemp("moto")))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def moto_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """moto with IAM checks on: only the keys in ``moto_auth.env`` work (presigned URLs do not)."""
    from flyte_testing import services

    svc = _started(lambda: services.start_moto(tmp_path_factory.mktemp("moto-auth"), auth=True))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Azurite's blob service with its well-known development account."""
    from flyte_testing import services

    svc = _started(lambda: services.start_azurite(tmp_path_factory.mktemp("azurite")))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """gcp-storage-emulator in memory (its default bucket: ``flyte-test``)."""
    from flyte_testing import services

    svc = _started(lambda: services.start_gcs_emulator(tmp_path_factory.mktemp("gcs")))
    yield svc
    svc.stop()


def _stack(make: Callable[[], contextlib.AbstractContextManager[Stack]]) -> Iterator[Stack]:
    with contextlib.ExitStack() as es:
        stack = _started(lambda: es.enter_context(make()))
        yield stack


@pytest.fixture(scope="module")
def podman_stack() -> Iterator[Stack]:
    """Registries, a busybox base image and ``podman system service`` for this test module."""
    from flyte_testing import engines

    yield from _stack(engines.podman_stack)


@pytest.fixture(scope="module")
def dockerd_stack() -> Iterator[Stack]:
    """Registries, a busybox base image and a private dockerd for this test module."""
    from flyte_testing import engines

    yield from _stack(engines.dockerd_stack)


@pytest.fixture(scope="session")
def python_base() -> PythonBase:
    """A Python + flyte-core base image's root file system (cached across sessions); ``.image(stack)`` pushes it."""
    from flyte_testing import python_image

    return python_image.PythonBase(_started(python_image.python_rootfs))


def pytest_report_header(config: Any) -> str | None:
    if os.environ.get(REQUIRE_ENV, "").lower() in ("1", "true", "yes"):
        return f"flyte-testing: {REQUIRE_ENV} is set: a service that cannot start fails its tests"
    return None
