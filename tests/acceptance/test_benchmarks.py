"""The benchmark suite runs: every scenario at its smoke size, through the real CLI, and
its report renders (table and plot). The figures themselves are not judged here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import report
from tests.acceptance.harness import ROOT

SCENARIOS = ("ingest", "steps", "latency", "timers", "peer", "fairness", "dashboard")


@pytest.mark.timeout(300)
def test_every_scenario_runs_at_smoke_size_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "benchmarks", "--store", "sqlite", "--size", "smoke"]
    cmd += [arg for name in SCENARIOS for arg in ("--scenario", name)]
    done = subprocess.run(
        [*cmd, "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=280
    )
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    assert doc["command"].startswith("python -m benchmarks")
    by_name = {r["scenario"]: r for r in doc["results"]}
    assert set(by_name) == set(SCENARIOS)
    steps = by_name["steps"]["figures"]
    assert steps["steps_per_s"] > 0 and steps["failed_runs"] == 0
    assert by_name["peer"]["figures"]["dbos_steps_per_s"] > 0
    assert by_name["timers"]["figures"]["lateness_p50_ms"] >= 0
    assert by_name["ingest"]["figures"]["store_limit_rows_per_s"] > 0
    fair = by_name["fairness"]["figures"]
    assert fair["other_key_delay_max_ms"] > 0 and fair["heavy_runs_left_after_last_light"] > 0
    dash = by_name["dashboard"]["figures"]
    assert dash["runs_page2_p99_ms"] > 0 and dash["api_runs_p50_ms"] > 0
    # A list page holds one page of the 2,000 runs seeded, not all of them.
    assert 0 < dash["runs_kb"] < 100 and 0 < dash["events_kb"] < 100
    # Every figure is printed with its target verdict where the issue sets one.
    assert "steps/sqlite steps_per_s" in done.stdout and "target >=" in done.stdout

    page = report.markdown(doc)
    assert "| steps | sqlite | steps_per_s |" in page and doc["command"] in page
    report.plot(doc, str(tmp_path / "plot.png"))
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
