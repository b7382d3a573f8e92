"""No code serves with socketserver's default 0.5 s poll: its shutdown() waits for the next poll (issue 9 item 7).

Use flyte_testing.http.LoopbackHTTPServer (it stops at once), or pass a short poll: serve_forever(0.05).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".venv", ".official-venv", "node_modules", ".git"}


def slow_serves(source: str) -> list[int]:
    """Lines that run ``serve_forever`` with its default poll interval."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        # threading.Thread(target=server.serve_forever) without args=(poll,)
        target = next((k.value for k in node.keywords if k.arg == "target"), None)
        if (isinstance(target, ast.Attribute) and target.attr == "serve_forever"
                and not any(k.arg == "args" for k in node.keywords)):
            lines.append(node.lineno)
        # server.serve_forever() called without a poll interval
        if isinstance(node.func, ast.Attribute) and node.func.attr == "serve_forever" and not (
                node.args or node.keywords):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_check_finds_a_default_poll() -> None:
    bad = "import threading\nthreading.Thread(target=httpd.serve_forever, daemon=True).start()\nhttpd.serve_forever()\n"
    good = "threading.Thread(target=httpd.serve_forever, args=(0.05,)).start()\nhttpd.serve_forever(0.05)\n"
    assert slow_serves(bad) == [2, 3]
    assert slow_serves(good) == []


def test_no_default_poll_in_the_repository() -> None:
    found = []
    for path in ROOT.rglob("*.py"):
        if SKIP & set(path.relative_to(ROOT).parts):
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "serve_forever" not in source:
            continue
        found += [f"{path.relative_to(ROOT)}:{n}" for n in slow_serves(source)]
    assert found == [], f"serve_forever with the default 0.5 s poll: {found}"
