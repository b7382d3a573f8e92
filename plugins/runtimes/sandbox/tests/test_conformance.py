"""flyte-sandbox passes the runtime conformance suite that ships with flyte-core."""

import pytest
from flyte.testing.runtime import RuntimeConformance


class TestSandboxRuntime(RuntimeConformance):
    @pytest.fixture
    def runtime_name(self) -> str:
        return "sandbox"
