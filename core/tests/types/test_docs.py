"""docs/types.md: the runnable example runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "types.md"


def test_runnable_plugin_example(tmp_path):
    text = DOC.read_text()
    m = re.search(r"<!-- runnable: types-plugin -->\n```python\n(.*?)```", text, re.S)
    assert m, "the runnable example is missing from docs/types.md"
    script = tmp_path / "example.py"
    script.write_text(m.group(1))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "ok {'amount': Decimal('9.99'), 'tax': [Decimal('0.5')]}" in p.stdout
