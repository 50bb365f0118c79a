"""``peer``: the ``steps`` workload on Outlast and, in the same invocation and on the same
store, written for DBOS (PyPI ``dbos``, a durable-workflow library): 1,000 workflows of ten
trivial steps at concurrency 100; steps per second end to end and p50/p99 step-to-step
latency for each, and the ratio Outlast/DBOS of the throughputs.

DBOS runs in a process of its own (``python -m benchmarks.apps.dbos_workload``, its figures
as JSON on stdout), so its launch, threads and teardown stay out of this process and out of
Outlast's measurement. Its system database is a fresh SQLite file in a temporary folder, or
a fresh PostgreSQL database on the benchmark server, dropped after. DBOS is a
benchmark-only dependency (``pip install -e '.[bench]'``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchmarks.common import POSTGRES_URI, ROOT, Result
from benchmarks.scenarios import steps

SIZES = {"full": (1000, 100), "smoke": (20, 10)}
#: How often DBOS's queue thread looks for workflows to start (its default is 1 s, which
#: would cap throughput at ``concurrency`` workflows a second; 0.1 s lets it keep up).
QUEUE_POLLING_S = 0.1
STEPS_PER_RUN = 10
#: The line the workload prints its result on (as in benchmarks/apps/dbos_workload.py, not
#: imported here: importing it would import DBOS and register its workflows in this process).
RESULT_PREFIX = "DBOS_WORKLOAD_RESULT "


def run(store: str, size: str) -> list[Result]:
    workflows, concurrency = SIZES[size]
    outlast = steps.measure(store, runs=workflows, concurrency=concurrency)
    dbos = measure_dbos(store, workflows, concurrency)
    o_rate = outlast.figures["steps_per_s"]
    d_rate = float(dbos["steps_per_s"])
    failed = int(dbos["failed"])
    notes = [
        f"DBOS {dbos['dbos_version']} in its own process (benchmarks/apps/dbos_workload.py): "
        f"a sync @DBOS.workflow of {STEPS_PER_RUN} sync @DBOS.step()s, all "
        f"{workflows} enqueued at once on a DBOS queue (DBOS.register_queue, "
        f"global_concurrency={concurrency}, polling_interval_sec={QUEUE_POLLING_S}), "
        "DBOS's documented way to run many workflows with managed concurrency; "
        "other settings DBOS's defaults",
        "DBOS system database: "
        + ("a fresh SQLite file" if store == "sqlite" else "a fresh PostgreSQL database"),
        "time: from the first start (Outlast: first event sent; DBOS: first enqueue, once "
        "its queue worker runs) to the last run's end (Outlast: the store's ended_at; DBOS: "
        "the workflow's own clock as it returns, since DBOS's SQLite store records times to "
        "the second); step-to-step: from one step's start to the next one's",
    ]
    if failed:
        notes.append(f"{failed} DBOS workflows did not succeed")
    if outlast.figures.get("failed_runs"):
        notes.append(f"{outlast.figures['failed_runs']:.0f} Outlast runs did not complete")
    return [
        Result(
            scenario="peer",
            store=store,
            figures={
                "outlast_steps_per_s": o_rate,
                "dbos_steps_per_s": d_rate,
                "ratio": o_rate / d_rate if d_rate else float("nan"),
                "outlast_step_p50_ms": outlast.figures["step_p50_ms"],
                "outlast_step_p99_ms": outlast.figures["step_p99_ms"],
                "dbos_step_p50_ms": float(dbos["step_p50_ms"]),
                "dbos_step_p99_ms": float(dbos["step_p99_ms"]),
            },
            params={
                "runs": workflows,
                "steps_per_run": STEPS_PER_RUN,
                "concurrency": concurrency,
                "dbos_version": dbos["dbos_version"],
                "dbos_queue_polling_s": QUEUE_POLLING_S,
            },
            notes=notes,
        )
    ]


def measure_dbos(store: str, workflows: int, concurrency: int) -> dict[str, Any]:
    """Run the workload under DBOS in a child process on a fresh system database; return
    the figures it printed. Bounded: the child is killed past its time."""
    timeout = 60 + workflows * 0.5
    with tempfile.TemporaryDirectory(prefix=f"outlast-bench-dbos-{store}-") as tmp:
        work = Path(tmp)
        database = None
        if store == "sqlite":
            url = f"sqlite:///{work / 'dbos.sqlite'}"
        else:
            database = f"bench_dbos_{uuid.uuid4().hex[:10]}"
            url = urlunsplit(urlsplit(POSTGRES_URI)._replace(path=f"/{database}"))
            asyncio.run(_postgres(f'CREATE DATABASE "{database}"'))
        try:
            return _run_workload(url, workflows, concurrency, timeout, work / "dbos.log")
        finally:
            if database is not None:
                asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def _run_workload(
    url: str, workflows: int, concurrency: int, timeout: float, log: Path
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.apps.dbos_workload"]
    cmd += ["--system-database-url", url, "--workflows", str(workflows)]
    cmd += ["--concurrency", str(concurrency), "--mode", "queue"]
    cmd += ["--polling-interval", str(QUEUE_POLLING_S), "--timeout", str(timeout)]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OUTLAST_", "INNGEST_", "DBOS"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    with open(log, "wb") as err:
        try:
            proc = subprocess.run(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                timeout=timeout + 30,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise TimeoutError(f"the DBOS workload ran past {timeout + 30:.0f}s") from e
    out = proc.stdout.decode(errors="replace")
    for line in reversed(out.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line.removeprefix(RESULT_PREFIX))
            return result
    tail = log.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"the DBOS workload exited ({proc.returncode}) with no result:\n{tail}")


async def _postgres(sql: str) -> None:
    """One statement on the benchmark server's maintenance connection (POSTGRES_URI)."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URI)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
