#!/usr/bin/env python3
"""Developer entry point: set up the workspace, run an example, the tests or the benchmarks.

    python3 dev.py example     # .venv with flyte-core, then run examples/hello.py on the local runtime
    python3 dev.py test        # .venv with everything + real components, then the whole test suite
    python3 dev.py setup       # only the set-up part of `test`
    python3 dev.py bench       # benchmarks (see benchmarks/README.md)

Only Python 3.11+ and pip are needed to start. Every workspace distribution
(core/, plugins/<kind>/<name>/, examples/plugins/<name>/, testing/<name>/) is installed editable
with its `test` extra; system packages a distribution's tests need are listed in
its pyproject under [tool.flyte-dev] (apt = [...], npm = [...]) and installed here.
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


def pip_install(args: list[str], stamp_name: str, files: list[Path]) -> None:
    stamp_file = VENV / f".{stamp_name}.stamp"
    stamp = stamp_for(files, " ".join(args))
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        say(f"{stamp_name}: up to date")
        return
    run([str(PY), "-m", "pip", "install", "-q", *args])
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


def cmd_test(argv: list[str]) -> int:
    setup_all()
    env = dict(os.environ, FLYTE_DEV_TOOLS=str(TOOLS))
    cmd = [str(PY), "-m", "pytest", *test_paths(), *argv]
    say(" ".join(cmd))
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    if code == 0:
        for lint in ([str(PY), "-m", "ruff", "check", "core"], [str(PY), "-m", "mypy", "core/src/flyte"]):
            say(" ".join(lint))
            code = code or subprocess.call(lint, cwd=ROOT)
    return code


def cmd_setup(argv: list[str]) -> int:
    setup_all()
    return 0


def cmd_bench(argv: list[str]) -> int:
    setup_all()
    return subprocess.call([str(PY), str(ROOT / "benchmarks" / "run.py"), *argv], cwd=ROOT)


COMMANDS = {"example": cmd_example, "test": cmd_test, "setup": cmd_setup, "bench": cmd_bench}


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
