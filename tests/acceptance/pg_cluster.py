"""A PostgreSQL server of a test's own, on its own port and in its own folder, for tests
that restart or stop the database (never the shared one on 5432). Built from the Debian
packages' ``initdb`` and ``pg_ctl``, run as the ``postgres`` user when the test is root."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.acceptance.harness import free_port
from tests.conftest import IN_CI


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class Cluster:
    """initdb + pg_ctl in a temporary folder; ``stop``, ``start`` and ``restart`` it."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        problem = None if bin_dir is not None else "PostgreSQL's initdb/pg_ctl are not installed"
        self.as_user: list[str] = []
        if problem is None and os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
                self.as_user = ["runuser", "-u", "postgres", "--"]
            except KeyError:
                problem = "running as root without a postgres user for initdb"
        if problem is not None:
            if IN_CI:
                pytest.fail(f"CI must run the database fault tests: {problem}")
            pytest.skip(problem)
        assert bin_dir is not None
        self.bin = bin_dir
        # Not under the test's tmp_path: its parents are private to root, and the server
        # runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="outlast-pg-"))
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.uri = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run(
            "initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self.as_user, str(self.bin / tool), *args]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60, cwd=self.dir)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.dir / "data"),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
