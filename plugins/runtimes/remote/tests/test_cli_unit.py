"""The counts line of `flyte run --runtime remote` (no devbox)."""

from __future__ import annotations

from flyte_remote.cli import _Counts


def test_counts_line_says_1_action_and_n_actions() -> None:
    c = _Counts(live=False)
    assert c.line() == "waiting for actions"
    c.phases["a0"] = "SUCCEEDED"
    assert c.line() == "1 action: 1 succeeded"
    c.phases["a1"] = "FAILED"
    assert c.line() == "2 actions: 1 succeeded, 1 failed"
