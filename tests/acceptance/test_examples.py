"""The seeds' scenarios (examples/) run end to end: real server, real example app."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from examples import appdb, campaigns, scheduled_actions
from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import App, Server, wait_for


@pytest.fixture
def examples_db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "examples.db"
    old = os.environ.get("OUTLAST_EXAMPLES_DB")
    os.environ["OUTLAST_EXAMPLES_DB"] = str(path)  # this process reads the same database
    yield path
    if old is None:
        del os.environ["OUTLAST_EXAMPLES_DB"]
    else:
        os.environ["OUTLAST_EXAMPLES_DB"] = old


def start(make_server: MakeServer, make_app: MakeApp, db: Path, **env: str) -> tuple[Server, App]:
    server = make_server()
    app = make_app(
        "examples.app:app",
        env={"OUTLAST_DEV": server.url, "OUTLAST_EXAMPLES_DB": str(db), **env},
    )
    app.sync(server)
    return server, app


def in_seconds(s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=s)).isoformat()


def test_seed_000_delayed_action_runs_at_its_time_and_skips_when_cancelled(
    make_server: MakeServer, make_app: MakeApp, examples_db: Path
) -> None:
    server, _ = start(make_server, make_app, examples_db)
    kept = server.send(scheduled_actions.schedule("a-1", in_seconds(2), "send reminder"))[0]
    dropped = server.send(scheduled_actions.schedule("a-2", in_seconds(2), "send follow-up"))[0]
    server.wait_step(dropped, "wait-until-scheduled", "sleeping")
    server.send(scheduled_actions.cancel("a-2"))

    started = time.monotonic()
    run = server.wait_run(kept, timeout=30)
    assert run["output"] == {"skipped": False, "result": "send reminder done"}
    assert time.monotonic() - started > 0.5  # it really slept until its time
    server.wait_run(dropped, "Cancelled", timeout=30)
    assert appdb.journal("action", "a-1") == ["executed send reminder"]
    assert appdb.journal("action", "a-2") == []
    assert appdb.get("action", "a-1")["status"] == "COMPLETED"  # type: ignore[index]
    assert appdb.get("action", "a-2")["status"] == "CANCELLED"  # type: ignore[index]


def test_seed_001_mailbox_sync_resumes_at_the_failed_folder(
    make_server: MakeServer, make_app: MakeApp, examples_db: Path
) -> None:
    server, _ = start(make_server, make_app, examples_db)
    [event] = server.send(
        {"name": "email/microsoft.sync", "data": {"accountId": "acc-1", "flaky_folder": "archive"}}
    )
    run = server.wait_run(event, timeout=30)
    assert run["output"] == {"account": "acc-1", "messages": 48, "folders": 4}
    # The failed folder ran twice; the folders before it were not fetched again.
    assert appdb.journal("sync", "acc-1") == [
        "validated account",
        "fetch inbox",
        "fetch sent",
        "fetch archive",
        "fetch archive",
        "fetch drafts",
    ]
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["sync-folder-archive"]["attempts"] == 2
    assert steps["sync-folder-inbox"]["attempts"] == 1
    assert appdb.get("mailbox", "acc-1") == {
        "account": "acc-1",
        "status": "synced",
        "synced": 48,
        "progress": "4/4",
    }


def test_seed_002_completion_event_triggers_notify_and_failures_run_on_failure(
    make_server: MakeServer, make_app: MakeApp, examples_db: Path
) -> None:
    server, _ = start(make_server, make_app, examples_db)
    ok, bad = server.send(
        [
            {
                "name": "skill.execute",
                "data": {"runId": "r-ok", "skillName": "summarise", "userId": "u1"},
            },
            {
                "name": "skill.execute",
                "data": {"runId": "r-bad", "skillName": "poem", "userId": "u1"},
            },
        ]
    )
    assert server.wait_run(ok, timeout=30)["output"] == {
        "runId": "r-ok",
        "output": "A short summary.",
    }
    server.wait_run(bad, "Failed", timeout=30)

    def journal_settled() -> list[str] | None:
        lines = appdb.journal("skill", "r-ok")
        return lines if len(lines) == 3 else None

    assert wait_for(journal_settled, 30, "notifications") == [
        "executed summarise",
        "notified email",
        "notified slack",
    ]
    # NonRetriableError: one attempt, then on_failure recorded it and sent its own event.
    wait_for(lambda: appdb.journal("skill", "r-bad"), 30, "on_failure to run")
    assert appdb.journal("skill", "r-bad") == ["failed: unknown skill 'poem'"]
    assert appdb.get("skill-run", "r-bad")["status"] == "failed"  # type: ignore[index]
    failed_events = wait_for(
        lambda: server.get("/v1/events?name=skill.execute.failed"), 30, "skill.execute.failed"
    )
    assert failed_events[0]["data"] == {"runId": "r-bad", "error": "unknown skill 'poem'"}
    bad_run = server.get(f"/v1/runs/{server.runs_for(bad)[0]['run_id']}")
    assert bad_run["error"]["name"] == "NonRetriableError"
    assert [(s["name"], s["attempts"]) for s in bad_run["steps"]] == [("update-status-running", 1)]


def test_seed_004_cron_sends_due_campaigns_once(
    make_server: MakeServer, make_app: MakeApp, examples_db: Path
) -> None:
    campaigns.schedule("spring", time.time() - 1, recipients=250)
    campaigns.schedule("summer", time.time() + 3600, recipients=900)
    server, _ = start(make_server, make_app, examples_db, CAMPAIGN_CRON="* * * * *")

    def sent() -> bool:
        c = appdb.get("campaign", "spring")
        return c is not None and c["status"] == "sent"

    wait_for(sent, 75, "the cron tick to send the due campaign", interval=0.5)
    assert appdb.journal("campaign", "spring") == ["delivered to 250 recipients"]
    assert appdb.get("campaign", "summer")["status"] == "scheduled"  # type: ignore[index]
    cron_runs = server.get("/v1/runs?function_id=outlast-examples-check-scheduled-campaigns")
    assert cron_runs and all(r["cron"] == "* * * * *" for r in cron_runs)
