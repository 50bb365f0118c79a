"""The demo: ``outlast dev`` on embedded SQLite, the example app, and a few events.

Starts both processes, sends the seeds' events, prints what each run did, then keeps
the server up for you to explore (``--exit`` stops when the scenarios are done).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"demo: timed out waiting for {what}")


class Demo:
    def __init__(self, api: str) -> None:
        self.api = api
        self.http = httpx.Client(base_url=api, timeout=10)

    def send(self, events: Any) -> list[str]:
        r = self.http.post("/e/demo", json=events)
        r.raise_for_status()
        ids: list[str] = r.json()["ids"]
        return ids

    def run_of(self, event_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            runs = self.http.get(f"/v1/events/{event_id}/runs").json()["data"]
            if runs and runs[0]["status"] in statuses:
                run: dict[str, Any] = self.http.get(f"/v1/runs/{runs[0]['run_id']}").json()["data"]
                return run
            return None

        return wait_for(check, timeout, f"the run of event {event_id}")


def show(title: str, run: dict[str, Any]) -> None:
    print(f"\n== {title}")
    print(f"   run {run['run_id']} of {run['function_id']}: {run['status']}")
    for step in run["steps"]:
        print(f"   - {step['name']:<26} {step['status']:<10} attempts={step['attempts']}")
    if run["status"] == "Failed":
        print(f"   error: {run['error']['name']}: {run['error']['message']}")
    else:
        print(f"   output: {run['output']}")


def scenarios(demo: Demo) -> None:
    from examples import appdb, campaigns, scheduled_actions

    soon = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    kept = demo.send(scheduled_actions.schedule("act-1", soon, "send reminder email"))[0]
    dropped = demo.send(scheduled_actions.schedule("act-2", soon, "send follow-up email"))[0]
    time.sleep(0.5)
    demo.send(scheduled_actions.cancel("act-2"))
    print("Scheduled two email actions for 3 s from now with sleep_until, cancelled the second.")

    [sync] = demo.send(
        {"name": "email/microsoft.sync", "data": {"accountId": "acme", "flaky_folder": "archive"}}
    )
    ok, bad = demo.send(
        [
            {
                "name": "skill.execute",
                "data": {"runId": "job-1", "skillName": "summarise", "userId": "u1"},
            },
            {
                "name": "skill.execute",
                "data": {"runId": "job-2", "skillName": "poem", "userId": "u1"},
            },
        ]
    )
    campaigns.schedule("spring-sale", time.time(), recipients=1200)

    show("seed 000: delayed action (sleep_until)", demo.run_of(kept, "Completed"))
    show("seed 000: the cancelled action", demo.run_of(dropped, "Cancelled"))
    show("seed 001: mailbox sync, one folder failed once", demo.run_of(sync, "Completed"))
    print(f"   side effects: {appdb.journal('sync', 'acme')}")
    show("seed 002: LLM job, completion event -> notify", demo.run_of(ok, "Completed"))
    show("seed 002: LLM job failing -> on_failure", demo.run_of(bad, "Failed"))
    wait_for(lambda: len(appdb.journal("skill", "job-1")) == 3, 30, "notifications")
    wait_for(lambda: appdb.journal("skill", "job-2"), 30, "on_failure")
    print(f"   side effects: {appdb.journal('skill')}")

    print("\n== seed 004: cron (every minute here) sends due campaigns; waiting for the tick...")
    campaign = wait_for(
        lambda: (c := appdb.get("campaign", "spring-sale")) and c["status"] == "sent" and c,
        75,
        "the campaign cron",
    )
    print(f"   campaign: {campaign}; side effects: {appdb.journal('campaign')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8288)
    parser.add_argument("--app-port", type=int, default=8000)
    parser.add_argument("--dir", default=".outlast-demo", help="SQLite and app data live here")
    parser.add_argument("--exit", action="store_true", help="stop after the scenarios")
    args = parser.parse_args()

    data = Path(args.dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    (data / "examples.db").unlink(missing_ok=True)
    api = f"http://127.0.0.1:{args.port}"
    app_url = f"http://127.0.0.1:{args.app_port}/api/outlast"
    env = {
        **os.environ,
        "OUTLAST_DEV": api,
        "OUTLAST_EXAMPLES_DB": str(data / "examples.db"),
        "CAMPAIGN_CRON": "* * * * *",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    logs = open(data / "processes.log", "ab")  # noqa: SIM115 - the children write to it
    app = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.app:app", "--port", str(args.app_port)],
        cwd=ROOT,
        env=env,
        stdout=logs,
        stderr=subprocess.STDOUT,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "outlast.cli",
            "dev",
            "--port",
            str(args.port),
            "--sqlite-dir",
            str(data),
            "-u",
            app_url,
            "--retry-interval",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=logs,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: httpx.get(f"{api}/health").status_code == 200, 30, "the server")
        wait_for(lambda: httpx.get(app_url).status_code == 200, 30, "the example app")
        wait_for(
            lambda: httpx.get(f"{api}/dev").json().get("functions"), 30, "the app to be synced"
        )
        print(f"outlast dev is up on {api} (SQLite in {data}); example app at {app_url}")
        scenarios(Demo(api))
        print(f"\nAll scenarios done. Server logs: {data / 'processes.log'}")
        print(f"REST API: {api}/v1/runs  {api}/v1/events   (dashboard: issue 6)")
        if not args.exit:
            print("The server keeps running; press Ctrl-C to stop.")
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for proc in (server, app):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
