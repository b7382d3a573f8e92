"""The shared runtime conformance suite, on flyte-devbox through the remote runtime."""

from __future__ import annotations

from typing import Any

import pytest
from flyte.testing.runtime import RuntimeConformance

pytestmark = pytest.mark.slow


class TestRemoteRuntime(RuntimeConformance):
    @pytest.fixture
    def runtime_name(self, remote: Any) -> str:
        return "remote"
