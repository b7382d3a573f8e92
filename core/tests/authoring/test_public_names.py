"""`flyte`'s lazily resolved public names are all declared public (``__all__``) and all resolve."""

import flyte


def test_every_lazy_name_is_in_all_and_resolves() -> None:
    # flyte.testing stays out of __all__: `from flyte import *` must not import pytest (an extra)
    lazy = (set(flyte._LAZY) | set(flyte._LAZY_MODULES)) - {"testing"}
    missing = sorted(lazy - set(flyte.__all__))
    assert missing == [], f"flyte.__all__ lacks {missing} (ruff F401 flags their TYPE_CHECKING imports too)"
    for name in sorted(lazy):
        assert getattr(flyte, name) is not None, name


def test_star_import_gives_pod_template() -> None:
    scope: dict[str, object] = {}
    exec("from flyte import *", scope)
    assert scope["PodTemplate"] is flyte.PodTemplate
