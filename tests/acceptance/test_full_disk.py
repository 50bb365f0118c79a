"""SQLite's disk fills up under load: the event API answers 507 with Retry-After (not a 500
with a traceback), the server stays up, and once there is room again every run ends and
``outlast doctor`` finds no stuck run."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import wait_for
from tests.conftest import IN_CI

APP = "tests.acceptance.apps.core_app:app"

pytestmark = pytest.mark.chaos


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 4 MiB filesystem of the test's own (tmpfs), to fill up."""
    path = Path(tempfile.mkdtemp(prefix="outlast-small-disk-"))
    mount = ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)]
    mounted = subprocess.run(mount, capture_output=True)
    if mounted.returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
        problem = f"cannot mount a small tmpfs: {mounted.stderr.decode().strip()}"
        if IN_CI:
            pytest.fail(f"CI must run the full-disk test (it runs as root): {problem}")
        pytest.skip(problem)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(300)
def test_sqlite_on_a_full_disk(
    make_server: MakeServer, make_app: MakeApp, small_disk: Path, tmp_path: Path
) -> None:
    server = make_server(sqlite_dir=small_disk)
    count_file = tmp_path / "counts.txt"
    app = make_app(APP, env={"OUTLAST_DEV": server.url, "COUNT_FILE": str(count_file)})
    app.sync(server)
    runs = 30
    event_ids = server.send([{"name": "test/crash", "data": {"n": i}} for i in range(runs)])

    # Fill the disk with large events until the event API says it is full.
    statuses = []
    for i in range(60):
        big = {"name": "test/filler", "data": {"i": i, "pad": "x" * 400_000}}
        r = httpx.post(f"{server.url}/e/any", json=big, timeout=30)
        statuses.append(r.status_code)
        if r.status_code == 507:
            assert r.headers["retry-after"] == "30"
            assert "disk is full" in r.json()["error"]
            break
    assert statuses[-1] == 507, statuses
    assert set(statuses) <= {200, 507}, statuses
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200

    # Room again: the server goes on by itself.
    remount = ["mount", "-o", "remount,size=64m", str(small_disk)]
    subprocess.run(remount, check=True, capture_output=True)

    def accepted() -> bool:
        r = httpx.post(f"{server.url}/e/any", json={"name": "test/other"}, timeout=10)
        return r.status_code == 200

    wait_for(accepted, 30, "the event API to accept events again")
    for event_id in event_ids:
        assert server.wait_run(event_id, timeout=120)["output"] == 15
    assert server.doctor().endswith("0 stuck runs\n")
    assert "Traceback" not in server.log()
