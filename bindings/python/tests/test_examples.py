"""The examples run against a real server (and are mypy --strict clean: scripts/test-python)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs(hosts: str) -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), hosts],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "exists: -110 /example/config" in out.stdout
    assert "fencing token" in out.stdout
