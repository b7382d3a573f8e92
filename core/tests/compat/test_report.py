"""flyte.report: the official SDK's API; each action's report kept as HTML with its run record."""

from __future__ import annotations

import html.parser
from pathlib import Path

import flyte
import flyte.report
import pytest
from click.testing import CliRunner
from flyte.cli.main import cli

env = flyte.TaskEnvironment(name="rep")


@env.task(report=True)
async def with_report(n: int) -> int:
    await flyte.report.log.aio("<h1>Training</h1>")
    flyte.report.log(f"<p>n={n}</p>")
    tab = flyte.report.get_tab("Metrics")
    tab.log("<p>loss 0.5</p>")
    tab.replace("<p>loss 0.1</p>")
    flyte.report.Timeline("Steps").row(label="step 1", meta="1 ms")
    return n


@env.task(report=True)
async def replaced() -> None:
    flyte.report.log("<p>old</p>")
    await flyte.report.replace.aio("<p>new</p>")


@env.task(report=True, retries=0)
async def fails() -> None:
    flyte.report.log("<p>before the failure</p>")
    raise ValueError("boom")


@env.task
async def no_report() -> None:
    flyte.report.log("<p>not kept</p>")


@env.task
async def parent() -> int:
    return await with_report(3)


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def _text(page: str) -> list[str]:
    p = _Text()
    p.feed(page)
    return p.text


def test_report_is_written_per_action_with_tabs(tmp_path: Path) -> None:
    run = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(parent)
    page = (tmp_path / run.name / "reports" / "a1.html").read_text()
    words = _text(page)
    assert "Training" in words and "n=3" in words
    assert "loss 0.1" in words and "loss 0.5" not in words  # replace() on a tab
    assert {"main", "Metrics", "Steps"} <= set(words)  # the tab labels
    assert "step 1" in words
    assert not (tmp_path / run.name / "reports" / "a0.html").exists()  # the parent has no report=True
    assert "<script" not in page and "http" not in page  # self-contained: viewable offline


def test_replace_and_failure(tmp_path: Path) -> None:
    run = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(replaced)
    words = _text((tmp_path / run.name / "reports" / "a0.html").read_text())
    assert "new" in words and "old" not in words
    with pytest.raises(Exception, match="boom"):
        flyte.with_runcontext(run_base_dir=str(tmp_path), name="failing").run(fails)
    assert "before the failure" in (tmp_path / "failing" / "reports" / "a0.html").read_text()


def test_flush_writes_without_report_flag_and_outside_a_task_nothing_breaks(tmp_path: Path) -> None:
    run = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(no_report)
    assert not (tmp_path / run.name / "reports").exists()
    flyte.report.log("<p>outside</p>", do_flush=True)  # a throw-away report, no error
    assert flyte.report.current_report().name == "dummy"
    with pytest.raises(ValueError, match="no tab 'x'"):
        flyte.report.current_report().get_tab("x", create_if_missing=False)


def test_get_run_says_where_the_reports_are(tmp_path: Path) -> None:
    run = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(parent)
    out = CliRunner().invoke(cli, ["get", "run", run.name, "--run-base-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    expected = (tmp_path / run.name / "reports" / "a1.html").resolve().as_uri()
    assert "Reports (1" in out.output and expected in out.output
    one = CliRunner().invoke(cli, ["get", "run", run.name, "--action", "a1", "--run-base-dir", str(tmp_path)])
    assert f"report: {expected}" in one.output
    js = CliRunner().invoke(cli, ["get", "run", run.name, "-o", "json", "--run-base-dir", str(tmp_path)])
    assert '"a1": "' in js.output


class _MemoryHooks:
    from flyte.plugins import hookimpl

    @hookimpl
    def flyte_storage_backends(self):  # type: ignore[no-untyped-def]
        from flyte.storage.backend import StorageBackend

        class MemoryBackend(StorageBackend):
            name = "memory"
            protocols = ("memory",)

            def create_filesystem(self):  # type: ignore[no-untyped-def]
                import fsspec

                return fsspec.filesystem("memory", skip_instance_cache=False)

        return [MemoryBackend]


def test_a_run_directory_in_object_storage_gets_the_report_there(tmp_path: Path) -> None:
    import flyte.storage
    from flyte._context import ActionID, RawDataPath, TaskContext
    from flyte.plugins.manager import get_plugin_manager
    from flyte.report._report import save

    pm = get_plugin_manager()
    pm.register(_MemoryHooks(), "memory-test")
    try:
        tc = TaskContext(ActionID("a4", "r"), RawDataPath(str(tmp_path)), "memory://bucket/r")
        tc.data["report"] = flyte.report.Report("a4")
        tc.data["report"].get_tab("main").log("<p>remote</p>")
        assert save(tc) == "memory://bucket/r/reports/a4.html"
        with flyte.storage.open_sync("memory://bucket/r/reports/a4.html", "rb") as f:
            assert b"remote" in f.read()
    finally:
        pm.unregister("memory-test")
    assert not (tmp_path / "memory:").exists()
