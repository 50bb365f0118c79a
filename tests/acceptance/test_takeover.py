"""Two ``outlast start`` processes on one PostgreSQL: when one is killed (``kill -9``) with
calls in flight, the other takes its work over within seconds, not when the leases (20 s)
run out, and nothing is lost or done twice but the steps that were in flight."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from outlast.protocol import signing
from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import wait_for
from tests.conftest import POSTGRES_URI

APP = "tests.acceptance.apps.core_app:app"
EVENT_KEY = "takeover"
SIGNING_KEY = "3c" * 32

pytestmark = [pytest.mark.postgres, pytest.mark.chaos]


def records(path: Path) -> list[tuple[str, str, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        run_id, step, at = line.split()
        out.append((run_id, step, float(at)))
    return out


@pytest.mark.timeout(120)
def test_a_killed_process_work_is_taken_over_within_seconds(
    make_server: MakeServer, make_app: MakeApp, schema: str, tmp_path: Path
) -> None:
    args = ["--event-key", EVENT_KEY, "--signing-key", SIGNING_KEY]
    store = {"postgres_uri": POSTGRES_URI, "postgres_schema": schema}
    one = make_server(mode="start", args=args, **store)
    count_file = tmp_path / "counts.txt"
    env = {
        "OUTLAST_BASE_URL": one.url,
        "OUTLAST_SIGNING_KEY": f"signkey-test-{SIGNING_KEY}",
        "OUTLAST_EVENT_KEY": EVENT_KEY,
        "COUNT_FILE": str(count_file),
    }
    app = make_app(APP, env=env)
    app.sync(one)
    runs = 6
    # Long enough to be still in flight when the second process is up and the first dies.
    events = [{"name": "test/slow", "data": {"seconds": 12}} for _ in range(runs)]
    event_ids = one.send(events, key=EVENT_KEY)
    # Every step is in flight on the first process (the second is not up yet) ...
    wait_for(lambda: len(records(count_file)) == runs, 30, "every slow step to start")
    two = make_server(mode="start", args=args, **store)
    killed = time.time()
    one.kill(signal.SIGKILL)

    # ... and the second calls each again once it has taken the work over.
    def retaken() -> bool:
        return len(records(count_file)) == 2 * runs

    wait_for(retaken, 30, f"the survivor to call every run again\n{two.log()}")
    again = sorted(at for _, _, at in records(count_file)[runs:])
    takeover_s = again[-1] - killed
    print(f"\n[takeover] {runs} calls in flight at kill -9; all taken over in {takeover_s:.1f} s")
    assert takeover_s < 6, takeover_s

    token = signing.strip_prefix(signing.hash_key(SIGNING_KEY))
    for event_id in event_ids:
        assert two.wait_run(event_id, timeout=60, token=token)["output"] == "done"
    per_run = Counter(run_id for run_id, _, _ in records(count_file))
    assert sorted(per_run.values()) == [2] * runs  # the step in flight ran again, once
    two.doctor()
