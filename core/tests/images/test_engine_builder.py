"""EngineBuilder: the build steps docker and podman share, checked without an engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flyte import Image
from flyte.images.builder import BuildRequest, EngineBuilder
from flyte.images.buildlog import BuildLog, host_platform
from flyte.images.errors import ImageBuildError


class _Recording(EngineBuilder):
    name = "recording"

    def __init__(self, fail: BaseException | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.fail = fail
        self.requests: list[BuildRequest] = []
        self.staged: list[str] = []
        self.pushed: list[str] = []

    def check_available(self) -> str | None:
        return None

    def build_context(self, request: BuildRequest, log: BuildLog) -> None:
        self.requests.append(request)
        self.staged = sorted(p.name for p in request.context.iterdir())
        log.add("Step 1/2 : FROM base")
        log.add("Step 2/2 : RUN make")
        if self.fail:
            raise self.fail

    def push(self, uri: str, log: BuildLog) -> None:
        self.pushed.append(uri)


def _image(src: Path, platform: str | tuple[str, ...] | None = None) -> Image:
    (src / "app.py").write_text("print(1)\n")
    img = Image.from_base("alpine:3").with_source_folder(src, "/app").clone(registry="reg.example.com", name="t")
    return img.clone(platform=platform) if platform else img


def test_stages_the_context_builds_pushes_and_cleans_up(tmp_path: Path) -> None:
    b = _Recording(network="none", timeout=12)
    lines: list[str] = []
    img = _image(tmp_path)
    assert b.build(img, on_output=lines.append) == img.uri
    [req] = b.requests
    assert req.uri == img.uri and req.network == "none" and req.timeout == 12.0
    assert req.dockerfile in b.staged and len(b.staged) > 1  # the Dockerfile and the copied source
    assert not req.context.exists()  # the temporary context is removed
    assert b.pushed == [img.uri] and lines == ["Step 1/2 : FROM base", "Step 2/2 : RUN make"]
    assert req.platform == (None if host_platform() == "linux/amd64" else "linux/amd64")  # the image's default


def test_no_push(tmp_path: Path) -> None:
    b = _Recording()
    b.build(_image(tmp_path), push=False)
    assert b.pushed == [] and b.requests[0].network is None and b.requests[0].timeout == 1800.0


def test_a_foreign_platform_is_passed_on(tmp_path: Path) -> None:
    other = "linux/arm64" if host_platform() == "linux/amd64" else "linux/amd64"
    b = _Recording()
    b.build(_image(tmp_path, other), push=False)
    assert b.requests[0].platform == other


def test_one_platform_at_a_time(tmp_path: Path) -> None:
    b = _Recording()
    with pytest.raises(ImageBuildError, match="recording builder builds one platform at a time"):
        b.build(_image(tmp_path, ("linux/amd64", "linux/arm64")))
    assert b.requests == []


def test_an_engine_error_names_the_step_with_its_output(tmp_path: Path) -> None:
    b = _Recording(fail=ConnectionResetError("engine went away"))
    with pytest.raises(ImageBuildError) as e:
        b.build(_image(tmp_path))
    assert e.value.step == "RUN make" and "ConnectionResetError: engine went away" in str(e.value)
    assert "Step 1/2 : FROM base" in str(e.value)  # the last output lines
    assert b.pushed == [] and not b.requests[0].context.exists()


def test_a_build_error_from_the_subclass_is_kept(tmp_path: Path) -> None:
    b = _Recording(fail=ImageBuildError("as reported by the engine", uri="u"))
    with pytest.raises(ImageBuildError, match="^as reported by the engine$"):
        b.build(_image(tmp_path))
