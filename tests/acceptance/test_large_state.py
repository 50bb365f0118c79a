"""Run state over 4 MB: the server leaves it out of the request (``use_api``) and the SDK
fetches it from ``/v0/runs/{id}/batch`` and ``/actions`` — with Outlast's SDK and with the
official ``inngest`` SDK, unchanged."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from outlast.protocol import signing
from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import Server

OUTLAST_APP = "tests.acceptance.apps.large_state_app:app"
INNGEST_APP = "tests.acceptance.apps.large_state_inngest_app:app"
PART_CHARS = 1_600_000
SIGNING_KEY = "7c" * 32
EVENT_KEY = "large-key"


def expected_output(label: str) -> dict[str, Any]:
    joined = "".join(c * PART_CHARS for c in "abc").encode()
    return {
        "lengths": [PART_CHARS] * 3,
        "sha256": hashlib.sha256(joined).hexdigest(),
        "label": label,
    }


def check_run(
    server: Server, probe: Path, event_id: str, label: str, token: str | None = None
) -> None:
    run = server.wait_run(event_id, timeout=90, token=token)
    assert run["output"] == expected_output(label)
    run_id = run["run_id"]
    lines = probe.read_text().splitlines()
    # Every step ran once: the memos fetched through the API were found.
    steps = Counter(line for line in lines if line.startswith(f"step {run_id} "))
    assert steps == Counter({f"step {run_id} part-{i}": 1 for i in range(3)})
    # Calls with up to 3.2 MB of state carry it; the last one (4.8 MB) does not.
    flags = [line.rsplit("=", 1)[1] for line in lines if line.startswith(f"request {run_id} ")]
    assert flags == ["False", "False", "False", "True"]


def test_outlast_sdk_fetches_large_state(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    probe = tmp_path / "probe.txt"
    app = make_app(OUTLAST_APP, env={"OUTLAST_DEV": server.url, "PROBE_FILE": str(probe)})
    app.sync(server)
    [event_id] = server.send({"name": "test/big-parts", "data": {"label": "outlast"}})
    check_run(server, probe, event_id, "outlast")


def test_outlast_sdk_fetches_large_state_with_its_signing_key(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    # Self-hosted: the request is signed and /batch and /actions want the Bearer key.
    args = ["--event-key", EVENT_KEY, "--signing-key", SIGNING_KEY]
    server = make_server(mode="start", args=args)
    probe = tmp_path / "probe.txt"
    env = {
        "OUTLAST_BASE_URL": server.url,
        "OUTLAST_SIGNING_KEY": f"signkey-test-{SIGNING_KEY}",
        "OUTLAST_EVENT_KEY": EVENT_KEY,
        "PROBE_FILE": str(probe),
    }
    app = make_app(OUTLAST_APP, env=env)
    app.sync(server)
    [event_id] = server.send({"name": "test/big-parts", "data": {"label": "signed"}}, key=EVENT_KEY)
    token = signing.strip_prefix(signing.hash_key(SIGNING_KEY))
    check_run(server, probe, event_id, "signed", token=token)


def test_official_inngest_sdk_fetches_large_state(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path
) -> None:
    server = make_server()
    probe = tmp_path / "probe.txt"
    app = make_app(
        INNGEST_APP,
        path="/api/inngest",
        env={"SERVER_URL": server.url, "PROBE_FILE": str(probe)},
    )
    app.sync(server)
    [event_id] = server.send({"name": "test/big-parts", "data": {"label": "inngest"}})
    check_run(server, probe, event_id, "inngest")
