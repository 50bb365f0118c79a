"""Results as text, as JSON, and as the table and plot in ``docs/``."""

from __future__ import annotations

import json
import math
import operator
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import ROOT, Result, machine

DOCS = ROOT / "docs"

#: (scenario, figure, store or None for both) -> (comparison, target) from the issue.
TARGETS: dict[tuple[str, str, str | None], tuple[str, float]] = {
    ("ingest", "batch_events_per_s", "sqlite"): (">=", 20_000),
    ("ingest", "limit_over_api", None): ("<=", 3),
    ("steps", "steps_per_s", "sqlite"): (">=", 2_000),
    ("steps", "steps_per_s", "postgres"): (">=", 1_500),
    ("peer", "ratio", None): (">=", 1.0),
    ("latency", "event_to_first_step_p50_ms", None): ("<=", 5),
    ("latency", "event_to_first_step_p99_ms", None): ("<=", 20),
    ("latency", "step_to_step_p50_ms", None): ("<=", 3),
    ("timers", "rss_added_mb", None): ("<=", 100),
    ("timers", "lateness_p99_ms", None): ("<=", 100),
    ("timers", "idle_rss_mb", None): ("<=", 100),
    ("fairness", "other_key_delay_max_ms", None): ("<=", 1000),
    # Issue 6: lists page and stay fast with 100,000 runs in the store.
    ("dashboard", "runs_p99_ms", None): ("<=", 200),
    ("dashboard", "runs_failed_p99_ms", None): ("<=", 200),
    ("dashboard", "runs_function_p99_ms", None): ("<=", 200),
    ("dashboard", "runs_window_p99_ms", None): ("<=", 200),
    ("dashboard", "runs_page2_p99_ms", None): ("<=", 200),
    ("dashboard", "functions_p99_ms", None): ("<=", 200),
    ("dashboard", "events_p99_ms", None): ("<=", 200),
    ("dashboard", "api_runs_p99_ms", None): ("<=", 200),
}
_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


def target(scenario: str, figure: str, store: str) -> tuple[str, float] | None:
    return TARGETS.get((scenario, figure, store)) or TARGETS.get((scenario, figure, None))


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def text(result: Result) -> str:
    lines = []
    for name, value in result.figures.items():
        goal = target(result.scenario, name, result.store)
        mark = ""
        if goal is not None:
            met = _OPS[goal[0]](value, goal[1])
            mark = f"   (target {goal[0]} {_fmt(goal[1])}: {'met' if met else 'NOT met'})"
        lines.append(f"  {result.scenario}/{result.store} {name} = {_fmt(value)}{mark}")
    return "\n".join(lines)


def document(results: list[Result], command: str, started: float) -> dict[str, Any]:
    return {
        "machine": machine(),
        "date": datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "seconds": round(time.time() - started, 1),
        "results": [r.as_json() for r in results],
    }


def markdown(doc: dict[str, Any]) -> str:
    rows = [
        "| scenario | store | figure | measured | target | |",
        "|---|---|---|---:|---|---|",
    ]
    for r in doc["results"]:
        for name, value in r["figures"].items():
            goal = target(r["scenario"], name, r["store"])
            goal_text, mark = "", ""
            if goal is not None:
                goal_text = f"{goal[0]} {_fmt(goal[1])}"
                mark = "met" if _OPS[goal[0]](value, goal[1]) else "**not met**"
            cells = [r["scenario"], r["store"], name, _fmt(value), goal_text, mark]
            rows.append("| " + " | ".join(cells) + " |")
    params = [
        f"- **{r['scenario']}** ({r['store']}): "
        + ", ".join(f"{k}={v}" for k, v in r["params"].items())
        + "".join(f"; {n}" for n in r["notes"])
        for r in doc["results"]
    ]
    return "\n".join(
        [
            "# Benchmarks",
            "",
            "Measured by the benchmark suite (`benchmarks/`); every figure below comes from this",
            "run, and the JSON it wrote is `docs/benchmarks.json`. Rerun it with:",
            "",
            "```bash",
            ".venv/bin/pip install -e '.[dev,bench]'",
            doc["command"],
            "```",
            "",
            f"- machine: {doc['machine']}",
            f"- date: {doc['date']} ({doc['seconds']:.0f} s for the whole run)",
            "- server and app are real processes talking HTTP on loopback; load comes from the",
            "  benchmark process on the same machine",
            "",
            *rows,
            "",
            "![key figures](benchmarks.png)",
            "",
            "## Parameters and notes",
            "",
            *params,
            "",
        ]
    )


def plot(doc: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wanted = [
        ("steps", "steps_per_s", "steps/s (10-step runs, HTTP)"),
        ("peer", "ratio", "Outlast / DBOS steps/s"),
        ("ingest", "batch_events_per_s", "events/s (batches of 100)"),
        ("latency", "event_to_first_step_p50_ms", "event -> first step p50 (ms)"),
        ("timers", "lateness_p99_ms", "timer lateness p99 (ms)"),
        ("fairness", "other_key_delay_max_ms", "other key's delay, max (ms)"),
        ("dashboard", "runs_p99_ms", "/runs with 100k runs, p99 (ms)"),
    ]
    fig, axes = plt.subplots(1, len(wanted), figsize=(3.6 * len(wanted), 3.4))
    for ax, (scenario, figure, title) in zip(axes, wanted, strict=True):
        found = [
            (r["store"], r["figures"][figure])
            for r in doc["results"]
            if r["scenario"] == scenario and figure in r["figures"]
        ]
        ax.bar([s for s, _ in found], [v for _, v in found], color=["#4c72b0", "#dd8452"])
        for i, (store, _) in enumerate(found):
            goal = target(scenario, figure, store)
            if goal is not None:
                label = "target" if i == 0 else None
                ax.hlines(goal[1], i - 0.4, i + 0.4, color="#c44e52", linestyles="--", label=label)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"Outlast benchmarks — {doc['date']} — {doc['machine']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_docs(doc: dict[str, Any]) -> None:
    DOCS.mkdir(exist_ok=True)
    (DOCS / "benchmarks.json").write_text(json.dumps(doc, indent=2) + "\n")
    (DOCS / "benchmarks.md").write_text(markdown(doc))
    plot(doc, str(DOCS / "benchmarks.png"))
