"""What every scenario shares: results, percentiles, stores, and the processes it starts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from outlast.protocol.jsonutil import dumps, loads

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URI = os.environ.get(
    "OUTLAST_BENCH_POSTGRES_URI",
    os.environ.get("OUTLAST_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"),
)


@dataclass
class Result:
    """One scenario's figures on one store."""

    scenario: str
    store: str
    #: name -> value; names carry their unit (``steps_per_s``, ``p99_ms``, ``rss_mb``).
    figures: dict[str, float]
    #: The parameters the figures were measured with (sizes, concurrency).
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "store": self.store,
            "figures": {k: round(v, 3) for k, v in self.figures.items()},
            "params": self.params,
            "notes": self.notes,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def machine() -> str:
    """The machine, with a CPU score so runs on different hosts can be compared."""
    cpus = os.cpu_count() or 0
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()} ({cpu_model()}), {cpus} cores, {mem:.0f} GiB, "
        f"Python {platform.python_version()}, CPU score {cpu_score_ms():.0f} ms"
    )


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def cpu_score_ms() -> float:
    """Milliseconds for a fixed pure-Python loop (best of 3; lower is faster): this figure
    halves on a machine twice as fast for Python, whatever its CPU model says."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        sum(i * i for i in range(3_000_000))
        best = min(best, time.perf_counter() - began)
    return best * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, OSError):
            if check():
                return
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Proc:
    """A child process logging to a file in the run's work folder; stopped on exit."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{tail}")
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _env(extra: dict[str, str]) -> dict[str, str]:
    # The caller's OUTLAST_* settings are left out, except the switch that compares
    # checkpointing on and off (OUTLAST_CHECKPOINTING=0).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTLAST_", "INNGEST_"))}
    if "OUTLAST_CHECKPOINTING" in os.environ:
        env["OUTLAST_CHECKPOINTING"] = os.environ["OUTLAST_CHECKPOINTING"]
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


@dataclass
class Deployment:
    """``outlast dev`` on a store, and (optionally) the benchmark app synced to it."""

    store: str
    work: Path
    server_url: str
    server: Proc
    app: Proc | None = None
    app_url: str | None = None
    schema: str | None = None
    procs: list[Proc] = field(default_factory=list)


@contextlib.contextmanager
def deploy(
    store: str,
    *,
    app: str | None = "benchmarks.apps.steps_app:app",
    app_env: dict[str, str] | None = None,
    server_args: Sequence[str] = (),
) -> Iterator[Deployment]:
    """Start the server (SQLite in a temporary folder, or a fresh PostgreSQL schema) and the
    app (an ASGI ``module:attr`` under uvicorn), sync it, and stop everything after."""
    with tempfile.TemporaryDirectory(prefix=f"outlast-bench-{store}-") as tmp:
        work = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "outlast.cli", "dev", "--port", str(port)]
        cmd += ["--sqlite-dir", str(work / "db"), "--log-level", "warning"]
        schema = None
        if store == "postgres":
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            cmd += ["--postgres-uri", POSTGRES_URI, "--postgres-schema", schema]
        server = Proc("server", [*cmd, *server_args], _env({}), work)
        dep = Deployment(store, work, url, server, schema=schema, procs=[server])
        try:
            wait_until(
                lambda: server.alive() and httpx.get(f"{url}/health").status_code == 200,
                30,
                "the server",
            )
            if app is not None:
                app_port = free_port()
                app_cmd = [sys.executable, "-m", "uvicorn", app, "--port", str(app_port)]
                app_cmd += ["--log-level", "warning", "--no-access-log", "--loop", "uvloop"]
                env = _env({"INNGEST_DEV": url, **(app_env or {})})
                dep.app = Proc("app", app_cmd, env, work)
                dep.procs.append(dep.app)
                dep.app_url = f"http://127.0.0.1:{app_port}/api/outlast"
                wait_until(
                    lambda: (
                        dep.app is not None
                        and dep.app.alive()
                        and bool(httpx.get(str(dep.app_url)))
                    ),
                    30,
                    "the app",
                )
                r = httpx.put(dep.app_url, timeout=30)
                r.raise_for_status()
            yield dep
        finally:
            for proc in reversed(dep.procs):
                proc.stop()
            if schema is not None:
                asyncio.run(drop_schema(schema))


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URI)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def query(dep: Deployment, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Read the server's store directly (the REST API pages; a benchmark wants everything).
    ``?`` placeholders, as in the store's own SQL."""
    if dep.store == "sqlite":
        import sqlite3

        path = dep.work / "db" / "outlast.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            conn.execute("PRAGMA busy_timeout = 5000")
            return [tuple(r) for r in conn.execute(sql, args)]
    return asyncio.run(_pg_query(dep, sql, args))


async def _pg_query(dep: Deployment, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
    import asyncpg

    parts = sql.split("?")
    numbered = parts[0] + "".join(f"${i}{p}" for i, p in enumerate(parts[1:], start=1))
    conn = await asyncpg.connect(POSTGRES_URI, server_settings={"search_path": str(dep.schema)})
    try:
        return [tuple(r) for r in await conn.fetch(numbered, *args)]
    finally:
        await conn.close()


def wait_for_runs(dep: Deployment, function_id: str, count: int, timeout: float) -> None:
    """Until ``count`` runs of the function have ended (any outcome)."""
    sql = "SELECT COUNT(*) FROM runs WHERE function_id = ? AND ended_at IS NOT NULL"
    wait_until(
        lambda: dep.server.alive() and query(dep, sql, (function_id,))[0][0] >= count,
        timeout,
        f"{count} runs of {function_id}",
        every=0.2,
    )


def http_client(connections: int) -> aiohttp.ClientSession:
    """The load generator's client. aiohttp, as the server's: httpx's pool costs more CPU
    per request than the server's work once dozens of requests are in flight, and the
    load generator shares the machine's two cores with the server."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def post_events(client: aiohttp.ClientSession, url: str, body: Any) -> list[str]:
    async with client.post(f"{url}/e/bench", data=dumps(body)) as r:
        answer = await r.json(loads=loads, content_type=None)
        if r.status != 200:
            raise RuntimeError(f"event API answered {r.status}: {answer}")
        found: list[str] = answer["ids"]
        return found


async def send_events(
    url: str, events: list[dict[str, Any]], *, batch: int = 100, clients: int = 4
) -> list[str]:
    """POST the events in batches from ``clients`` concurrent connections; their ids."""
    batches = [events[i : i + batch] for i in range(0, len(events), batch)]
    ids: list[list[str]] = [[] for _ in batches]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(batches)):
        queue.put_nowait(i)

    async def worker(client: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            ids[i] = await post_events(client, url, batches[i])

    async with http_client(clients) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    return [i for chunk in ids for i in chunk]
