"""The built-in local runtime passes the runtime conformance suite every runtime plugin subclasses."""

import pytest
from flyte.testing.runtime import RuntimeConformance


class TestLocalRuntime(RuntimeConformance):
    @pytest.fixture
    def runtime_name(self) -> str:
        return "local"
