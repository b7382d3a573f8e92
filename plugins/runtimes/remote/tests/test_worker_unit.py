"""The worker's pieces without a control plane: args, safe extraction, names, error documents, task specs."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from flyte.remote import bundle, names
from flyte.remote.io import error_document, exception_from
from flyte.remote.worker import UsageError, parse_args

ENV = {"ACTION_NAME": "a0", "RUN_NAME": "r1", "_U_RUN_BASE": "/data/r1", "_U_ORG_NAME": "o",
       "FLYTE_INTERNAL_EXECUTION_PROJECT": "p", "FLYTE_INTERNAL_EXECUTION_DOMAIN": "d",
       "_U_EP_OVERRIDE": "dns:///127.0.0.1:1", "_U_INSECURE": "true", "_U_USE_ACTIONS": "1"}


def test_args_and_env_of_the_contract() -> None:
    a = parse_args(["--inputs", "/x/inputs.pb", "--outputs-path", "/x/0", "--version", "v", "--raw-data-path", "/raw",
                    "--checkpoint-path", "{{.checkpointOutputPrefix}}", "--prev-checkpoint", "",
                    "--run-name", "{{.runName}}", "--name", "{{.actionName}}",
                    "--run-start-time", "2026-01-01T00:00:00Z", "--tgz", "/b.tgz", "--dest", ".",
                    "--resolver", "flyte.remote", "mod", "m", "instance", "env.t"], ENV)
    assert (a.name, a.run_name, a.run_base_dir, a.project, a.domain, a.org) == ("a0", "r1", "/data/r1", "p", "d", "o")
    assert a.use_actions and a.insecure and a.endpoint == "dns:///127.0.0.1:1"
    assert a.resolver_args == ["mod", "m", "instance", "env.t"]
    assert a.checkpoint_path == "" and a.raw_data_path == "/raw"


def test_missing_and_unknown_args_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown option '--bogus'"):
        parse_args(["--bogus", "1"], ENV)
    with pytest.raises(UsageError, match="inputs"):
        parse_args(["--outputs-path", "/o"], ENV)


def _tar(tmp: Path, add: object) -> Path:
    p = tmp / "b.tgz"
    with tarfile.open(p, "w:gz") as tf:
        add(tf)  # type: ignore[operator]
    return p


def _file(tf: tarfile.TarFile, name: str, data: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("name", ["/etc/evil", "../evil", "a/../../evil"])
def test_extraction_refuses_paths_leaving_the_tree(tmp_path: Path, name: str) -> None:
    p = _tar(tmp_path, lambda tf: (_file(tf, "ok.py"), _file(tf, name)))
    with pytest.raises(bundle.UnsafeBundleError):
        bundle.safe_extract(p, tmp_path / "out")
    assert not (tmp_path / "out" / "ok.py").exists()  # nothing written when any member is refused


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_extraction_refuses_links_and_devices(tmp_path: Path, kind: bytes) -> None:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("thing")
        info.type = kind
        info.linkname = "/etc/passwd"
        tf.addfile(info)

    with pytest.raises(bundle.UnsafeBundleError, match="thing"):
        bundle.safe_extract(_tar(tmp_path, add), tmp_path / "out")


def test_extraction_of_a_plain_bundle(tmp_path: Path) -> None:
    p = _tar(tmp_path, lambda tf: (_file(tf, "pkg/__init__.py", b""), _file(tf, "pkg/m.py", b"X = 1\n")))
    written = bundle.safe_extract(p, tmp_path / "out")
    assert (tmp_path / "out" / "pkg" / "m.py").read_text() == "X = 1\n"
    assert len(written) == 2


def test_child_names_are_deterministic() -> None:
    d1 = names.inputs_digest({"x": b"1", "y": b"2"})
    assert d1 == names.inputs_digest({"y": b"2", "x": b"1"})
    n = names.child_action_name("a0", "t:v", d1, 0)
    assert n == names.child_action_name("a0", "t:v", d1, 0)
    others = {names.child_action_name("a1", "t:v", d1, 0), names.child_action_name("a0", "u:v", d1, 0),
              names.child_action_name("a0", "t:v", names.inputs_digest({"x": b"3"}), 0),
              names.child_action_name("a0", "t:v", d1, 1)}
    assert n not in others and len(others) == 4
    assert n.startswith("a") and len(n) == 21


def test_error_document_user_vs_system_and_recoverable() -> None:
    import flyte.errors
    from flyteidl2.core import execution_pb2

    try:
        raise ValueError("bad value")
    except ValueError as e:
        doc = error_document(e)
    ce = doc.error
    assert ce.code == "ValueError" and ce.message.startswith("ValueError: bad value")
    assert "Traceback" in ce.message and ce.kind == execution_pb2.ContainerError.RECOVERABLE
    assert ce.origin == execution_pb2.ExecutionError.USER
    nr = error_document(flyte.errors.NonRecoverableError("Bad", "stop"), system=True)
    assert nr.error.kind == execution_pb2.ContainerError.NON_RECOVERABLE
    assert nr.error.origin == execution_pb2.ExecutionError.SYSTEM
    exc = exception_from(execution_pb2.ExecutionError(code="ValueError", message=ce.message), task="t", action="a1")
    assert str(exc) == "task 't' (action a1) failed: ValueError: bad value"
    assert "Traceback" in exc.remote_traceback  # type: ignore[attr-defined]


def test_task_spec_shape() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "programs"))
    import e2e_prog
    from flyte.remote.spec import SpecContext, task_spec

    spec = task_spec(e2e_prog.flaky, SpecContext(project="p", domain="d", version="v1", bundle_uri="s3://b/c.tgz"))
    tt = spec.task_template
    assert tt.id.name == "e2e.flaky" and tt.id.version == "v1" and tt.type == "python"
    assert spec.short_name == "flaky" and spec.environment.name == "e2e"
    assert tt.metadata.retries.retries == 1 and tt.metadata.runtime.flavor == "python"
    assert [v.key for v in tt.interface.inputs.variables] == ["marker_dir"]
    args = list(tt.container.args)
    assert args[0] == "flyte-core-worker" and tt.container.command == []
    for flag, value in (("--inputs", "{{.input}}"), ("--outputs-path", "{{.outputPrefix}}"),
                        ("--raw-data-path", "{{.rawOutputDataPrefix}}"), ("--tgz", "s3://b/c.tgz"), ("--dest", ".")):
        assert args[args.index(flag) + 1] == value
    assert args[args.index("--resolver"):] == ["--resolver", "flyte.remote", "mod", "e2e_prog", "instance", "e2e.flaky"]
    slow = task_spec(e2e_prog.slow, SpecContext(project="p", domain="d", version="v1")).task_template
    assert slow.metadata.timeout.seconds == 1


def test_task_spec_carries_the_defaults() -> None:
    import asyncio
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "programs"))
    import e2e_prog
    from flyte.remote.spec import SpecContext, task_spec
    from flyte.types.interface import default_inputs

    defaults = asyncio.run(default_inputs(e2e_prog.hello.interface))
    spec = task_spec(e2e_prog.hello, SpecContext(project="p", domain="d", version="v"), defaults)
    (d,) = spec.default_inputs
    assert d.name == "name" and d.parameter.default.scalar.primitive.string_value == "world"


def test_worker_writes_error_pb_user_vs_system(tmp_path: Path) -> None:
    """A module that raises on import is the user's error; a module missing from the bundle is a system error."""
    import tarfile as tf_mod

    from flyte.remote.worker import main
    from flyteidl2.core import execution_pb2

    src = tmp_path / "src"
    src.mkdir()
    (src / "broken.py").write_text("raise RuntimeError('import-time failure')\n")
    bundle_path = tmp_path / "b.tgz"
    with tf_mod.open(bundle_path, "w:gz") as tf:
        tf.add(src / "broken.py", arcname="broken.py")
    (tmp_path / "inputs.pb").write_bytes(b"")
    for module, origin, text in (("broken", execution_pb2.ExecutionError.USER, "import-time failure"),
                                 ("absent", execution_pb2.ExecutionError.SYSTEM, "is not in the code bundle")):
        out = tmp_path / f"out-{module}"
        dest = tmp_path / f"work-{module}"
        rc = main(["--inputs", str(tmp_path / "inputs.pb"), "--outputs-path", str(out), "--run-base-dir",
                   str(tmp_path), "--name", "a0", "--run-name", "r", "--tgz", str(bundle_path), "--dest", str(dest),
                   "--resolver", "flyte.remote", "mod", module, "instance", "x.t"])
        assert rc == 0
        doc = execution_pb2.ErrorDocument.FromString((out / "error.pb").read_bytes())
        assert doc.error.origin == origin and text in doc.error.message, doc
        assert not (out / "outputs.pb").exists()
