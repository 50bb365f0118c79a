"""One scenario list, three clients: Outlast's SDK (``ol``), the official PyPI ``inngest``
SDK (``py``) and the official npm ``inngest`` SDK (``js``).

Each app (``apps/``) defines the same functions, with event names ``compat/<client>.<name>``
and function ids ``compat-<client>-<name>``. A scenario drives one client's function over
HTTP — it sends events through the app's ``/send`` route, so the SDK's own event client is
used — and checks what the server recorded. Every wait has a deadline.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.acceptance.harness import Server, wait_for

CLIENTS = ("ol", "py", "js")
ENDED = ("Completed", "Failed", "Cancelled")


@dataclass
class Target:
    """One client's app, deployed against one server."""

    client: str
    server: Server
    app_origin: str
    token: str | None = None

    def event(self, name: str) -> str:
        return f"compat/{self.client}.{name}"

    def fn(self, name: str) -> str:
        return f"compat-{self.client}-{name}"

    # -- through the SDK ----------------------------------------------------------------

    def send_many(self, events: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Send events with the app's SDK client; the ids it returned."""
        body = {"events": [{"name": self.event(n), "data": d} for n, d in events]}
        r = httpx.post(f"{self.app_origin}/send", json=body, timeout=30)
        assert r.status_code == 200, f"{self.client} /send: {r.status_code} {r.text}"
        found: list[str] = r.json()["ids"]
        assert len(found) == len(events), found
        return found

    def send_with_meta(self, name: str, meta: dict[str, Any]) -> str:
        """Send one event with ``meta`` (the JS SDK passes it through as given)."""
        return self.send_fields(name, meta=meta)

    def send_fields(self, name: str, data: dict[str, Any] | None = None, **fields: Any) -> str:
        """Send one event with more fields (``meta``, ``ts``: the JS app passes them on)."""
        body = {"events": [{"name": self.event(name), "data": data or {}, **fields}]}
        r = httpx.post(f"{self.app_origin}/send", json=body, timeout=30)
        assert r.status_code == 200, f"{self.client} /send: {r.status_code} {r.text}"
        sent: str = r.json()["ids"][0]
        return sent

    def send(self, name: str, data: dict[str, Any] | None = None) -> str:
        return self.send_many([(name, data or {})])[0]

    # -- what the server recorded ---------------------------------------------------------

    def get(self, path: str) -> Any:
        return self.server.get(path, self.token)

    def run_of(self, event_id: str) -> dict[str, Any] | None:
        runs = self.get(f"/v1/events/{event_id}/runs")
        if not runs:
            return None
        run: dict[str, Any] = self.get(f"/v1/runs/{runs[0]['run_id']}")
        return run

    def wait_end(self, event_id: str, timeout: float = 30) -> dict[str, Any]:
        def ended() -> str | None:
            runs = self.get(f"/v1/events/{event_id}/runs")
            return runs[0]["run_id"] if runs and runs[0]["status"] in ENDED else None

        run_id = wait_for(ended, timeout, f"{self.client}: run of {event_id} to end", 0.2)
        run: dict[str, Any] = self.get(f"/v1/runs/{run_id}")
        return run

    def wait_step(self, event_id: str, step: str, status: str) -> None:
        def reached() -> bool:
            run = self.run_of(event_id)
            steps = run["steps"] if run else []
            return any(s["name"] == step and s["status"] == status for s in steps)

        wait_for(reached, 30, f"{self.client}: step {step} of {event_id} to be {status}", 0.2)

    def completed(self, event_id: str, timeout: float = 30) -> Any:
        run = self.wait_end(event_id, timeout)
        assert run["status"] == "Completed", run
        return run["output"]


def seconds(start: str, end: str) -> float:
    def parse(ts: str) -> datetime:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))

    return (parse(end) - parse(start)).total_seconds()


def steps_by_name(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in run["steps"]}


# -- the scenarios ------------------------------------------------------------------------


def steps(t: Target) -> None:
    event_id = t.send("steps", {"n": 2})
    assert t.completed(event_id) == {"result": 5}
    named = steps_by_name(t.wait_end(event_id))
    assert named["double"]["status"] == "completed"
    assert named["double"]["output"] == 4
    assert named["add-one"]["output"] == 5


def sdk_send_batch(t: Target) -> None:
    """A batch sent by the SDK: every id is stored under the right name, each starts a run."""
    ids = t.send_many([("steps", {"n": 10}), ("steps", {"n": 20})])
    assert len(set(ids)) == 2
    for event_id, n in zip(ids, (10, 20), strict=True):
        assert t.get(f"/v1/events/{event_id}")["name"] == t.event("steps")
        assert t.completed(event_id) == {"result": n * 2 + 1}


def sleep(t: Target) -> None:
    event_id = t.send("sleep")
    run = t.wait_end(event_id)
    assert run["output"] == "slept", run
    assert seconds(run["run_started_at"], run["ended_at"]) >= 0.95


def sleep_until(t: Target) -> None:
    until = datetime.now(UTC) + timedelta(seconds=2)
    event_id = t.send("sleep-until", {"until": until.isoformat()})
    run = t.wait_end(event_id)
    assert run["output"] == "woke", run
    assert datetime.fromisoformat(run["ended_at"].replace("Z", "+00:00")) >= until


def wait_match(t: Target) -> None:
    key = uuid.uuid4().hex
    event_id = t.send("wait-match", {"key": key})
    t.wait_step(event_id, "reply", "waiting")
    t.send("reply", {"key": "someone-else", "text": "no"})
    t.send("reply", {"key": key, "text": "yes"})
    assert t.completed(event_id) == {"reply": "yes"}


def wait_if(t: Target) -> None:
    key = uuid.uuid4().hex
    event_id = t.send("wait-if", {"key": key})
    t.wait_step(event_id, "big-order", "waiting")
    t.send_many([("order", {"key": key, "amount": 50}), ("order", {"key": key, "amount": 150})])
    assert t.completed(event_id) == {"amount": 150}


def wait_timeout(t: Target) -> None:
    assert t.completed(t.send("wait-timeout")) == {"reply": None}


def invoke(t: Target) -> None:
    out = t.completed(t.send("invoke"))
    assert out == {"child": {"doubled": 42}, "failed": "child refused"}


def send_event(t: Target) -> None:
    key = uuid.uuid4().hex
    out = t.completed(t.send("send-event", {"key": key}))
    [sent_id] = out["ids"]
    assert t.get(f"/v1/events/{sent_id}")["name"] == t.event("sent")
    assert t.completed(sent_id) == {"received": key}


def parallel(t: Target) -> None:
    event_id = t.send("parallel")
    assert t.completed(event_id) == {"parts": [1, 4, 9], "sum": 14}
    named = steps_by_name(t.wait_end(event_id))
    assert {named[f"part-{i}"]["output"] for i in (1, 2, 3)} == {1, 4, 9}


def race(t: Target) -> None:
    assert t.completed(t.send("race")) == {"parts": [1, 4, 9]}


def retry(t: Target) -> None:
    event_id = t.send("retry")
    assert t.completed(event_id) == "ok on attempt 1"
    assert steps_by_name(t.wait_end(event_id))["flaky"]["attempts"] == 2


def retry_after(t: Target) -> None:
    event_id = t.send("retry-after")
    run = t.wait_end(event_id)
    assert run["output"] == "ok on attempt 1", run
    # The server retries after 0.2 s by default here: only Retry-After explains 2 s.
    assert seconds(run["run_started_at"], run["ended_at"]) >= 1.9


def step_error(t: Target) -> None:
    assert t.completed(t.send("step-error")) == "caught: still broken"


def non_retriable(t: Target) -> None:
    event_id = t.send("non-retriable")
    run = t.wait_end(event_id)
    assert run["status"] == "Failed", run
    assert run["error"]["message"] == "the card was declined"
    # Every field the SDK sent is kept: the Python SDKs' ``code``, the JS SDK's marker of
    # an error it serialized.
    extra = "__serialized" if t.client == "js" else "code"
    assert extra in run["error"], run["error"]

    def handled() -> Any:
        runs = t.get(f"/v1/runs?function_id={t.fn('non-retriable-failure')}&limit=100")
        mine = [r for r in runs if (r["output"] or {}).get("failed_run") == run["run_id"]]
        return mine[0] if mine else None

    failure_run = wait_for(handled, 30, f"{t.client}: onFailure run", 0.2)
    assert failure_run["status"] == "Completed"
    assert failure_run["output"]["message"] == "the card was declined"


def cancel(t: Target) -> None:
    key = uuid.uuid4().hex
    event_id = t.send("cancel", {"key": key})
    t.wait_step(event_id, "long-nap", "sleeping")
    t.send("stop", {"key": "someone-else"})
    t.send("stop", {"key": key})
    run = t.wait_end(event_id)
    assert run["status"] == "Cancelled", run


def batch(t: Target) -> None:
    """Three events fill a batch (one run with all three); a fourth waits for the batch
    timeout and runs alone. Another group's events are batched apart."""
    group, other = uuid.uuid4().hex, uuid.uuid4().hex
    ids = t.send_many([("batch", {"group": group, "n": n}) for n in (1, 2, 3)])
    ids.append(t.send("batch", {"group": other, "n": 9}))
    ids.append(t.send("batch", {"group": group, "n": 4}))
    full = [t.wait_end(event_id) for event_id in ids[:3]]
    assert {run["run_id"] for run in full} == {full[0]["run_id"]}, "one run for the batch"
    assert full[0]["output"] == {"ns": [1, 2, 3]}
    assert full[0]["batch_id"]
    alone = t.wait_end(ids[4])
    assert alone["output"] == {"ns": [4]}
    # The partial batch ran at its 2 s timeout, not at once.
    received = t.get(f"/v1/events/{ids[4]}")["received_at"]
    assert seconds(received, alone["queued_at"]) >= 1.9
    assert t.wait_end(ids[3])["output"] == {"ns": [9]}


def large_state(t: Target) -> None:
    """Over 4 MB of run state: the calls after the sleep carry none of it (use_api)."""
    out = t.completed(t.send("large-state"), timeout=60)
    assert out == {"sizes": [1_600_000] * 3, "total": 4_800_000}


def cron(t: Target) -> None:
    def ticked() -> Any:
        runs = t.get(f"/v1/runs?function_id={t.fn('cron')}&status=Completed")
        return runs[0] if runs else None

    run = wait_for(ticked, 75, f"{t.client}: a cron run", 0.5)
    assert run["output"] == {"event": "inngest/scheduled.timer"}
    assert run["cron"] == "* * * * *"


def rate_limit(t: Target) -> None:
    """One run per key per minute: of three events for a key, only the first starts one."""
    key = uuid.uuid4().hex
    ids = [t.send("rate-limit", {"key": key, "n": n}) for n in (1, 2, 3)]
    assert t.completed(ids[0]) == {"n": 1}
    for event_id in ids[1:]:
        assert t.get(f"/v1/events/{event_id}/runs") == []


def debounce(t: Target) -> None:
    """Three events in quick succession: one run, 5 s after the last, with the last. (Each
    event is sent through the app, which is busy with the other scenarios meanwhile: a
    shorter period let one send in a second, and a run start between two of them.)"""
    key = uuid.uuid4().hex
    ids = [t.send("debounce", {"key": key, "n": n}) for n in (1, 2, 3)]
    assert t.completed(ids[2]) == {"n": 3}
    for event_id in ids[:2]:
        assert t.get(f"/v1/events/{event_id}/runs") == []


def concurrency(t: Target) -> None:
    """One step per key at once: the three runs of a key hold their step one after another."""
    key = uuid.uuid4().hex
    ids = t.send_many([("concurrency", {"key": key}) for _ in range(3)])
    spans = sorted((o["start"], o["end"]) for o in (t.completed(i) for i in ids))
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.01, spans


def big_batch(t: Target) -> None:
    """Eight events of 1 MiB each, sent by the SDK in one request (over the size of one
    event, under the request's own limit): one run gets them all."""
    blob = "x" * (1024 * 1024)
    ids = t.send_many([("big-batch", {"blob": blob}) for _ in range(8)])
    assert t.completed(ids[0], timeout=60) == {"sizes": [1024 * 1024] * 8}


def parallel_calls(t: Target) -> None:
    """Inngest's request pattern for a parallel group: one call per planned step, one when
    the whole group (an invoke among it) is in, none in between."""
    assert t.completed(t.send("parallel-calls")) == {"parts": ["done", 4, 9], "calls": 5}


def invoke_timeout(t: Target) -> None:
    """The server's invoke timeout error reaches the SDK as Inngest's, and the run's error is
    kept exactly as the SDK sent it (with its ``code``)."""
    run = t.wait_end(t.send("invoke-timeout"))
    assert run["status"] == "Failed", run
    assert run["error"] == {
        "code": "step_errored",
        "message": "Timed out waiting for invoked function to complete",
        "name": "InngestInvokeTimeoutError",
        "stack": None,
    }


def invoke_only(t: Target) -> None:
    """A function with no trigger syncs with its app and runs when invoked."""
    assert t.completed(t.send("invoke-only")) == {"got": 7}


def wildcard(t: Target) -> None:
    """A trigger ``<prefix>.wild.*`` fires for any event under that prefix."""
    event_id = t.send("wild.signed-up")
    assert t.completed(event_id) == {"event": t.event("wild.signed-up")}


def context(t: Target) -> None:
    """The SDK gets the request and job ids Inngest sends with each call, and the event's
    ``meta`` (its sessions, the user's and the inherited merged) as the API kept it."""
    meta = {"sessions": {"user": "u1"}, "propagated_sessions": {"team": "t9", "user": "old"}}
    event_id = t.send_with_meta("context", meta)
    kept = {"sessions": {"user": "u1", "team": "t9"}}
    assert t.get(f"/v1/events/{event_id}")["meta"] == kept
    assert t.completed(event_id) == {"requestId": "string", "jobId": "string", "meta": kept}


def failure_error(t: Target) -> None:
    """A failed run keeps the error the SDK sent (with its ``code``); the failure event,
    which ``on_failure`` reads, carries it as Inngest's server shapes it."""
    run = t.wait_end(t.send("fails"))
    assert run["status"] == "Failed", run
    error = run["error"]
    assert {k: error[k] for k in ("code", "message", "name")} == {
        "code": "unknown",
        "message": "intentional failure",
        "name": "MyError",
    }
    assert error["stack"].startswith("Traceback (most recent call last):")

    def handled() -> Any:
        runs = t.get(f"/v1/runs?function_id={t.fn('fails-failure')}&limit=100")
        done = [r for r in runs if r["status"] == "Completed"]
        return done[0] if done else None

    told = wait_for(handled, 30, f"{t.client}: on_failure run", 0.2)["output"]["error"]
    assert told == {
        "error": "invalid status code: 500",
        "message": "intentional failure",
        "name": "MyError",
        "stack": error["stack"],
    }


def delayed_start(t: Target) -> None:
    """An event whose ``ts`` is in the future starts its run then, not at once (a queued
    run, visible as scheduled, and cancellable until then)."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    soon = t.send_fields("steps", {"n": 1}, ts=now_ms + 3000)
    later = t.send_fields("steps", {"n": 2}, ts=now_ms + 600_000)
    waiting = wait_for(lambda: t.run_of(later), 10, "the delayed run to be queued", 0.2)
    # Queued (Inngest's REST API calls that "Running"), with no step run yet.
    assert waiting["status"] == "Running" and waiting["steps"] == [], waiting
    assert waiting["scheduled_at"] is not None
    assert seconds(waiting["queued_at"], waiting["scheduled_at"]) > 500
    r = httpx.delete(
        f"{t.server.url}/v1/runs/{waiting['run_id']}",
        headers={"authorization": f"Bearer {t.token}"} if t.token else {},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert t.wait_end(later)["status"] == "Cancelled"

    run = t.wait_end(soon)
    assert run["output"] == {"result": 3}, run
    started = datetime.fromisoformat(run["run_started_at"].replace("Z", "+00:00"))
    assert started.timestamp() * 1000 >= now_ms + 2990, run


def ai_infer(t: Target) -> None:
    """``step.ai.infer``: the server sends the request the SDK built to the provider (a fake
    one on loopback), with the key where the format wants it, and the answer is the step's
    output."""
    question = f"hello {uuid.uuid4().hex}"
    event_id = t.send("ai-infer", {"q": question})
    out = t.completed(event_id)
    # The tokens the provider reported, on the step (the fake says 7 in, 3 out).
    run = t.wait_end(event_id)
    [step] = run["steps"]
    assert step["ai_usage"] == {"input_tokens": 7, "output_tokens": 3}, step
    if t.token is None:  # dev: the dashboard is open; the run page shows them too
        page = httpx.get(f"{t.server.url}/runs/{run['run_id']}", timeout=10).text
        assert "7 in · 3 out" in page
    if t.client == "py":  # Anthropic's format
        assert out["content"] == [{"type": "text", "text": f"echo: {question}"}], out
        assert out["model"] == "claude-fake"
    else:  # OpenAI's
        assert out["choices"][0]["message"]["content"] == f"echo: {question}", out
        assert out["model"] == "gpt-fake"


Scenario = Callable[[Target], None]

#: name -> (scenario, the clients it applies to).
SCENARIOS: dict[str, tuple[Scenario, tuple[str, ...]]] = {
    "steps": (steps, CLIENTS),
    "sdk-send-batch": (sdk_send_batch, CLIENTS),
    "sleep": (sleep, CLIENTS),
    "sleep-until": (sleep_until, CLIENTS),
    "wait-match": (wait_match, CLIENTS),
    "wait-if": (wait_if, CLIENTS),
    "wait-timeout": (wait_timeout, CLIENTS),
    "invoke": (invoke, CLIENTS),
    "send-event": (send_event, CLIENTS),
    "parallel": (parallel, CLIENTS),
    # The JS SDK has no race mode for parallel steps.
    "race": (race, ("ol", "py")),
    "retry": (retry, CLIENTS),
    "retry-after": (retry_after, CLIENTS),
    "step-error": (step_error, CLIENTS),
    "non-retriable": (non_retriable, CLIENTS),
    "cancel": (cancel, CLIENTS),
    "batch": (batch, CLIENTS),
    "large-state": (large_state, CLIENTS),
    "cron": (cron, CLIENTS),
    "rate-limit": (rate_limit, CLIENTS),
    "debounce": (debounce, CLIENTS),
    "concurrency": (concurrency, CLIENTS),
    "big-batch": (big_batch, CLIENTS),
    "invoke-only": (invoke_only, CLIENTS),
    "wildcard": (wildcard, CLIENTS),
    "context": (context, ("js",)),
    "delayed-start": (delayed_start, ("js",)),
    "ai-infer": (ai_infer, ("py", "js")),
    # The request pattern and the error's fields are the official Python SDK's own cases.
    "parallel-calls": (parallel_calls, ("py",)),
    "invoke-timeout": (invoke_timeout, ("py",)),
    "failure-error": (failure_error, ("py",)),
}

CASES = [(c, name) for name, (_, clients) in SCENARIOS.items() for c in clients]
