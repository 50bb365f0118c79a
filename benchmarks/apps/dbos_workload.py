"""The ``steps`` workload written for DBOS (PyPI ``dbos``), for the ``peer`` scenario:
``workflows`` runs of a workflow of ten trivial ``@DBOS.step()`` steps, each returning when
it ran (unix seconds), at most ``concurrency`` running at once.

Run it in a process of its own, so that DBOS's global state, threads and teardown stay out of
the benchmark process::

    python -m benchmarks.apps.dbos_workload --system-database-url URL \\
        --workflows 1000 --concurrency 100

It prints one line of JSON on stdout (after ``RESULT_PREFIX``): the figures and what they
were measured with. DBOS logs go to stderr.

Two ways of running the workflows concurrently:

* ``queue`` (the default): DBOS's documented way to run many workflows with managed
  concurrency, a ``Queue`` (``DBOS.register_queue(name, global_concurrency=...)``) on which
  every workflow is enqueued at once; DBOS's queue thread dequeues them each polling
  interval. This is the counterpart of Outlast's ``steps``, where every event is sent at
  once and the server runs at most ``concurrency`` of them.
* ``threads``: ``concurrency`` threads each start workflows directly
  (``DBOS.start_workflow`` and wait for the result), with no queue.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

from dbos import DBOS, DBOSConfig, Queue

from benchmarks.common import percentile

STEPS_PER_RUN = 10
QUEUE_NAME = "bench-steps"
RESULT_PREFIX = "DBOS_WORKLOAD_RESULT "
#: DBOS's terminal statuses; anything else is still queued or running.
DONE = ("SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")


@DBOS.step()
def stamp() -> float:
    """A trivial step: when it ran."""
    return time.time()


class _Finished:
    """How many workflow bodies have returned, counted in memory, so that waiting for the
    end does not poll the system database while the workflows run (DBOS leaves SQLite in its
    default rollback-journal mode, where a reader holds off writers' commits)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.target = 0
        self.all_done = threading.Event()

    def expect(self, target: int) -> None:
        with self.lock:
            self.target = target
            if self.count >= target:
                self.all_done.set()

    def one(self) -> None:
        with self.lock:
            self.count += 1
            if self.target and self.count >= self.target:
                self.all_done.set()


FINISHED = _Finished()


@DBOS.workflow()
def ten_steps() -> list[float]:
    """Ten trivial steps; returns when each ran, then when the workflow ended."""
    times = [stamp() for _ in range(STEPS_PER_RUN)]
    ended = time.time()
    FINISHED.one()
    return [*times, ended]


def step_gaps(outputs: list[list[float]]) -> list[float]:
    """Milliseconds between consecutive steps of each workflow."""
    gaps: list[float] = []
    for out in outputs:
        steps = out[:STEPS_PER_RUN]
        gaps += [(b - a) * 1000 for a, b in itertools.pairwise(steps)]
    return gaps


def _wait_done(ids: list[str], deadline: float) -> None:
    """Until every workflow body has returned, then until none of ``ids`` is queued or
    running in the system database (their last writes; polled every 20 ms); or the deadline."""
    FINISHED.expect(len(ids))
    if not FINISHED.all_done.wait(timeout=max(0.0, deadline - time.monotonic())):
        raise TimeoutError(f"{FINISHED.count} of {len(ids)} DBOS workflows done at the deadline")
    while time.monotonic() < deadline:
        pending = DBOS.list_workflows(
            workflow_ids=ids,
            status=["ENQUEUED", "PENDING", "DELAYED"],
            load_input=False,
            load_output=False,
            limit=1,
        )
        if not pending:
            return
        time.sleep(0.02)
    raise TimeoutError(f"DBOS workflows still running at the deadline ({len(ids)} started)")


def register_queue(concurrency: int, polling_s: float, deadline: float) -> Queue:
    """Register the queue, and wait until DBOS's queue manager (which looks for new queues
    once a second) has started its worker thread, so the clock starts with DBOS ready."""
    queue = DBOS.register_queue(
        QUEUE_NAME, global_concurrency=concurrency, polling_interval_sec=polling_s
    )
    worker = f"queue-worker-{QUEUE_NAME}"
    while not any(t.name == worker for t in threading.enumerate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"DBOS did not start {worker!r}")
        time.sleep(0.01)
    return queue


def run_queue(workflows: int, queue: Queue, deadline: float) -> list[str]:
    ids = [queue.enqueue(ten_steps).workflow_id for _ in range(workflows)]
    _wait_done(ids, deadline)
    return ids


def run_threads(workflows: int, concurrency: int, deadline: float) -> list[str]:
    ids: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        handle = DBOS.start_workflow(ten_steps)
        with lock:
            ids.append(handle.workflow_id)
        handle.get_result(polling_interval_sec=0.05)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(one) for _ in range(workflows)]
        for future in futures:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
    return ids


def measure(
    system_database_url: str,
    workflows: int,
    concurrency: int,
    *,
    mode: str = "queue",
    polling_s: float = 1.0,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Launch DBOS on the system database, run the workload, and return its figures."""
    config: DBOSConfig = {
        "name": "outlast-bench-peer",
        "system_database_url": system_database_url,
        "log_level": "WARNING",
    }
    DBOS(config=config)
    DBOS.launch()
    try:
        deadline = time.monotonic() + timeout
        queue = register_queue(concurrency, polling_s, deadline) if mode == "queue" else None
        started = time.time()
        if queue is not None:
            ids = run_queue(workflows, queue, deadline)
        else:
            ids = run_threads(workflows, concurrency, deadline)
        waited = time.time()
        statuses = DBOS.list_workflows(workflow_ids=ids, load_input=False)
    finally:
        DBOS.destroy(workflow_completion_timeout_sec=0)
    ok = [s for s in statuses if s.status == "SUCCESS"]
    outputs: list[list[float]] = [list(s.output or []) for s in ok]
    # The end: when the last workflow returned, by its own clock (DBOS's SQLite system
    # database records completion times to the second only).
    ended = max((out[-1] for out in outputs), default=waited)
    elapsed = ended - started
    gaps = step_gaps(outputs)
    return {
        "dbos_version": version("dbos"),
        "mode": mode,
        "workflows": workflows,
        "concurrency": concurrency,
        "polling_interval_s": polling_s if mode == "queue" else None,
        "steps": len(ok) * STEPS_PER_RUN,
        "failed": workflows - len(ok),
        "elapsed_s": elapsed,
        "steps_per_s": len(ok) * STEPS_PER_RUN / elapsed,
        "step_p50_ms": percentile(gaps, 50),
        "step_p99_ms": percentile(gaps, 99),
        "waited_s": waited - started,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.apps.dbos_workload")
    p.add_argument("--system-database-url", required=True)
    p.add_argument("--workflows", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--mode", choices=("queue", "threads"), default="queue")
    p.add_argument("--polling-interval", type=float, default=1.0, help="queue mode (s)")
    p.add_argument("--timeout", type=float, default=600.0, help="for the whole run (s)")
    args = p.parse_args(argv)
    result = measure(
        args.system_database_url,
        args.workflows,
        args.concurrency,
        mode=args.mode,
        polling_s=args.polling_interval,
        timeout=args.timeout,
    )
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
