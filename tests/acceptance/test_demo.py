"""The README's demo command runs every scenario to the end (``--exit``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.acceptance.harness import ROOT, free_port


def test_demo_runs_every_scenario(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "examples.demo", "--exit", "--dir", str(tmp_path / "demo")]
    cmd += ["--port", str(free_port()), "--app-port", str(free_port())]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=110)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "seed 000: the cancelled action" in out and "Cancelled" in out
    assert "'fetch archive', 'fetch archive', 'fetch drafts'" in out
    assert "error: NonRetriableError: unknown skill 'poem'" in out
    assert "delivered to 1200 recipients" in out
    assert "All scenarios done." in out
