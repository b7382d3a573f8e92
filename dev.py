#!/usr/bin/env python3
"""Developer entry point: set up the workspace, run an example, the tests or the benchmarks.

    python3 dev.py example     # .venv with flyte-core, then run examples/hello.py on the local runtime
    python3 dev.py test        # .venv with everything + real components, then ruff, mypy and the whole test suite
    python3 dev.py setup       # only the set-up part of `test`
    python3 dev.py lint        # only ruff (every distribution, tests, benchmarks) and mypy (every src/)
    python3 dev.py bench       # benchmarks (see benchmarks/README.md)

Only Python 3.11+ and pip are needed to start. Every workspace distribution
(core/, plugins/<kind>/<name>/, examples/plugins/<name>/, testing/<name>/) is installed editable
with its `test` extra; system packages a distribution's tests need are listed in
its pyproject under [tool.flyte-dev] (apt = [...], npm = [...]) and installed here.
The official SDK (flyte==2.12.1), which compatibility tests compare with, goes into its own
.official-venv (git-ignored; benchmarks/run.py uses the same one); the tests find it through
FLYTE_OFFICIAL_PYTHON, which `test` sets.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
TOOLS = ROOT / ".tools"  # npm packages for test services (azurite); git-ignored
OFFICIAL_VENV = ROOT / ".official-venv"  # the official SDK, a test peer; git-ignored
OFFICIAL_PY = OFFICIAL_VENV / "bin" / "python"
OFFICIAL_SPEC = "flyte==2.12.1"


def say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def run(cmd: list[str], **kw: object) -> None:
    say(" ".join(str(c) for c in cmd))
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def distributions() -> list[Path]:
    found = [ROOT / "core"]
    found += sorted(p.parent for p in (ROOT / "plugins").glob("*/*/pyproject.toml"))
    found += sorted(p.parent for p in (ROOT / "examples" / "plugins").glob("*/pyproject.toml"))
    found += sorted(p.parent for p in (ROOT / "testing").glob("*/pyproject.toml"))
    return [d for d in found if (d / "pyproject.toml").exists()]


def dev_table(dist: Path) -> dict[str, list[str]]:
    data = tomllib.loads((dist / "pyproject.toml").read_text())
    return data.get("tool", {}).get("flyte-dev", {})


def has_test_extra(dist: Path) -> bool:
    data = tomllib.loads((dist / "pyproject.toml").read_text())
    return "test" in data.get("project", {}).get("optional-dependencies", {})


def ensure_venv() -> None:
    if not PY.exists():
        run([sys.executable, "-m", "venv", str(VENV)])
        run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"])


def stamp_for(files: list[Path], extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for f in files:
        h.update(str(f).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def pip_install(args: list[str], stamp_name: str, files: list[Path], venv: Path = VENV) -> None:
    stamp_file = venv / f".{stamp_name}.stamp"
    stamp = stamp_for(files, " ".join(args))
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        say(f"{stamp_name}: up to date")
        return
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args])
    stamp_file.write_text(stamp)


def setup_core() -> None:
    ensure_venv()
    pip_install(["-e", str(ROOT / "core")], "core", [ROOT / "core" / "pyproject.toml"])


def setup_all() -> None:
    ensure_venv()
    dists = distributions()
    args = ["-r", str(ROOT / "requirements-dev.txt")]
    for d in dists:
        args += ["-e", f"{d}[test]" if has_test_extra(d) else str(d)]
    files = [ROOT / "requirements-dev.txt"] + [d / "pyproject.toml" for d in dists]
    pip_install(args, "workspace", files)
    setup_system_packages(dists)
    setup_official()


def setup_official() -> None:
    """The official SDK in a virtualenv of its own: tests run the same code on it and compare."""
    if not OFFICIAL_PY.exists():
        run([sys.executable, "-m", "venv", str(OFFICIAL_VENV)])
    # kubernetes: the official SDK serializes pod templates with it (the TaskSpec golden test compares them)
    pip_install([OFFICIAL_SPEC, "kubernetes>=28"], "official", [], venv=OFFICIAL_VENV)


def setup_system_packages(dists: list[Path]) -> None:
    apt: set[str] = set()
    npm: set[str] = set()
    for d in dists:
        t = dev_table(d)
        apt.update(t.get("apt", []))
        npm.update(t.get("npm", []))
    if apt:
        missing = [p for p in sorted(apt) if not _dpkg_installed(p)]
        if missing:
            if os.geteuid() != 0 or not shutil.which("apt-get"):
                say(f"cannot install system packages {missing} (need root and apt-get); their tests will skip")
            else:
                env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
                run(["apt-get", "update", "-qq"], env=env)
                run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    if npm:
        if not shutil.which("npm"):
            say(f"npm not found: cannot install {sorted(npm)}; their tests will skip")
        else:
            TOOLS.mkdir(exist_ok=True)
            need = [p for p in sorted(npm) if not (TOOLS / "node_modules" / p.split("@")[0]).exists()]
            if need:
                run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(TOOLS), *need])


def _dpkg_installed(pkg: str) -> bool:
    if not shutil.which("dpkg-query"):
        return False
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return "install ok installed" in r.stdout


def test_paths() -> list[str]:
    paths = []
    for d in distributions():
        if (d / "tests").is_dir():
            paths.append(str((d / "tests").relative_to(ROOT)))
    if (ROOT / "tests").is_dir():
        paths.append("tests")
    return paths


def cmd_example(argv: list[str]) -> int:
    setup_core()
    flyte = str(VENV / "bin" / "flyte")
    args = argv or ["examples/hello.py", "main", "--name", "world"]
    return subprocess.call([flyte, "run", *args], cwd=ROOT)


def lint_paths() -> list[str]:
    """Everything ruff checks: every distribution, the cross-distribution tests, benchmarks, this file."""
    paths = [str(d.relative_to(ROOT)) for d in distributions()]
    paths += [p for p in ("tests", "benchmarks", "examples") if (ROOT / p).is_dir()]
    return [*paths, "dev.py"]


def typed_packages() -> list[str]:
    """Every distribution's import packages (src/<package>/), for mypy."""
    found = []
    for d in distributions():
        src = d / "src"
        if src.is_dir():
            found += sorted(str(p.relative_to(ROOT)) for p in src.iterdir() if (p / "__init__.py").exists())
    return found


def cmd_lint(argv: list[str]) -> int:
    code = 0
    for lint in ([str(PY), "-m", "ruff", "check", *lint_paths()], [str(PY), "-m", "mypy", *typed_packages()]):
        say(" ".join(lint))
        code = subprocess.call(lint, cwd=ROOT) or code
    return code


def cmd_test(argv: list[str]) -> int:
    setup_all()
    lint_code = cmd_lint([])
    env = dict(os.environ, FLYTE_DEV_TOOLS=str(TOOLS), FLYTE_OFFICIAL_PYTHON=str(OFFICIAL_PY))
    if os.environ.get("CI"):
        # in CI every emulator and engine is installed by the set-up: one that cannot start is a failure
        env.setdefault("FLYTE_TESTING_REQUIRE_SERVICES", "1")
    cmd = [str(PY), "-m", "pytest", *test_paths(), *argv]
    say(" ".join(cmd))
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    if lint_code:
        say("ruff or mypy found problems (see above)")
    return code or lint_code


def cmd_setup(argv: list[str]) -> int:
    setup_all()
    return 0


def cmd_bench(argv: list[str]) -> int:
    setup_all()
    return subprocess.call([str(PY), str(ROOT / "benchmarks" / "run.py"), *argv], cwd=ROOT)


COMMANDS = {"example": cmd_example, "test": cmd_test, "setup": cmd_setup, "bench": cmd_bench, "lint": cmd_lint}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    try:
        return COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as e:
        cmd = " ".join(str(c) for c in e.cmd)
        print(f"[dev] failed (exit {e.returncode}): {cmd}", file=sys.stderr)
        return e.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
