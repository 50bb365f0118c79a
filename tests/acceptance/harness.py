"""Real processes for acceptance tests: the ``outlast`` server and app servers, on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # the thing may not be up yet
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_exc!r})"
    )


class Proc:
    """A child process whose output goes to a log file, killed at the end of the test."""

    def __init__(self, name: str, cmd: Sequence[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        log.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTLAST_", "INNGEST_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class Server(Proc):
    """``outlast dev|start`` on a free port."""

    def __init__(
        self,
        tmp: Path,
        *,
        mode: str = "dev",
        args: Sequence[str] = (),
        postgres_uri: str | None = None,
        postgres_schema: str | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        sqlite_dir: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        db = sqlite_dir or tmp / "db"
        self.sqlite_path = db / "outlast.db"
        #: The flags naming its database, for ``outlast doctor`` and ``migrate``.
        self.store_args = ["--sqlite-dir", str(db)]
        if postgres_uri:
            self.store_args = ["--postgres-uri", postgres_uri]
            if postgres_schema:
                self.store_args += ["--postgres-schema", postgres_schema]
        cmd = [sys.executable, "-m", "outlast.cli", mode, "--port", str(self.port)]
        cmd += ["--sqlite-dir", str(db), "--retry-interval", "0.2", "--log-level", "info"]
        if postgres_uri:
            cmd += ["--postgres-uri", postgres_uri]
        if postgres_schema:
            cmd += ["--postgres-schema", postgres_schema]
        super().__init__(f"server-{self.port}", [*cmd, *args], _env(env), tmp)

    def start(self) -> None:
        super().start()
        wait_for(self._healthy, 20, f"outlast server on {self.url}\n{self.log()}")

    def doctor(self) -> str:
        """``outlast doctor`` on this server's database; fails if it finds stuck runs (runs
        that are not finished and that nothing will move on)."""
        cmd = [sys.executable, "-m", "outlast.cli", "doctor", *self.store_args]
        done = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        assert done.returncode == 0, f"outlast doctor: {done.stdout}{done.stderr}"
        return done.stdout

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited: {self.log()}")
        return httpx.get(f"{self.url}/health", timeout=1).status_code == 200

    # -- API helpers ----------------------------------------------------------------------

    def send(self, events: Any, key: str = "test") -> list[str]:
        r = httpx.post(f"{self.url}/e/{key}", json=events, timeout=10)
        assert r.status_code == 200, r.text
        ids: list[str] = r.json()["ids"]
        return ids

    def get(self, path: str, token: str | None = None) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        r = httpx.get(f"{self.url}{path}", headers=headers, timeout=10)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return r.json()["data"]

    def runs_for(self, event_id: str, token: str | None = None) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.get(f"/v1/events/{event_id}/runs", token)
        return runs

    def wait_step(
        self, event_id: str, name: str, status: str, timeout: float = 30
    ) -> dict[str, Any]:
        """Wait until the step ``name`` of the event's run has ``status``; return the step."""

        def check() -> dict[str, Any] | None:
            runs = self.runs_for(event_id)
            if not runs:
                return None
            run = self.get(f"/v1/runs/{runs[0]['run_id']}")
            for step in run["steps"]:
                if step["name"] == name and step["status"] == status:
                    found: dict[str, Any] = step
                    return found
            return None

        return wait_for(check, timeout, f"step {name} to be {status}\n{self.log()}")

    def wait_run(
        self,
        event_id: str,
        status: str = "Completed",
        timeout: float = 30,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Wait until the run the event started reaches ``status``; return it with its steps."""

        def check() -> dict[str, Any] | None:
            runs = self.runs_for(event_id, token)
            if runs and runs[0]["status"] == status:
                run: dict[str, Any] = self.get(f"/v1/runs/{runs[0]['run_id']}", token)
                return run
            ended = ("Failed", "Cancelled", "Completed")
            if runs and runs[0]["status"] in ended and runs[0]["status"] != status:
                raise AssertionError(f"run ended {runs[0]['status']}, wanted {status}: {runs}")
            return None

        return wait_for(check, timeout, f"run of event {event_id} to be {status}\n{self.log()}")


class App(Proc):
    """An app on a free port: an ASGI ``module:attr`` served by uvicorn, or ``cmd`` (a
    command line in which ``{port}`` is replaced)."""

    def __init__(
        self,
        tmp: Path,
        target: str,
        *,
        env: dict[str, str] | None = None,
        path: str = "/api/outlast",
        port: int | None = None,
        cmd: Sequence[str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{path}"
        if cmd is None:
            cmd = [sys.executable, "-m", "uvicorn", target, "--port", "{port}"]
            cmd += ["--log-level", "warning", "--no-access-log"]
        cmd = [part.replace("{port}", str(self.port)) for part in cmd]
        full_env = _env(env)
        full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), full_env.get("PYTHONPATH", "")])
        super().__init__(f"app-{self.port}", cmd, full_env, tmp)

    def start(self) -> None:
        super().start()
        wait_for(self._up, 20, f"app on {self.url}\n{self.log()}")

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"app exited: {self.log()}")
        return httpx.get(self.url, timeout=1).status_code < 500

    def sync(self, server: Server, expect: int = 200) -> httpx.Response:
        r = httpx.put(self.url, timeout=10)
        assert r.status_code == expect, r.text
        return r
