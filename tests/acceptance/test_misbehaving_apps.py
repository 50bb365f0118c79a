"""An app that answers what no SDK should: text for a result, ops without ids, a body
that is not a list of ops, answers far over any limit, the same finished step again and
again. Each such run fails with an error that names what was wrong, after the function's
retries; none is left running with no next step; the app is never called in a loop; and
a well-behaved function of the same app runs meanwhile."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import App, wait_for

APP = "tests.acceptance.apps.misbehaving_app:app"

pytestmark = pytest.mark.chaos

#: What each run's error must say, by function (each answers as its name says: see
#: ANSWERS in the app).
ERRORS = {
    "text-200": "HTTP 200 with a body that is not JSON",
    "no-id-206": "op 0 of the answer ('StepRun') has no step 'id'",
    "weird-206": "op 0 of the answer has no 'op' (its keys: weird)",
    # Inngest's names and messages; Outlast's detail (the sizes) in the stack.
    "huge-200": "output_too_large: Your function's response body exceeds",
    "big-output-200": "output_too_large: step output size is greater than the limit",
    "same-step-206": "NoProgress: the app answered with steps that had finished already",
    "cut-206": "NetworkError: request to",
}
#: Calls each function gets: two attempts (retries=1), one for an output over the limit
#: (answering again would not shrink it), and one more for the first answer that saved
#: its step.
CALLS = {fn: 2 for fn in ERRORS} | {"big-output-200": 1, "same-step-206": 3}


def test_each_misbehaviour_fails_its_run_clearly_and_is_not_called_in_a_loop(
    make_server: MakeServer, make_app: MakeApp, tmp_path: Path, backend: dict[str, Any]
) -> None:
    server = make_server(**backend)
    app = make_app(APP, env={"OUTLAST_DEV": server.url})
    app.sync(server)
    bad = {fn: server.send({"name": f"bad/{fn}", "data": {}})[0] for fn in ERRORS}
    good = [server.send({"name": "bad/good", "data": {"n": n}})[0] for n in range(5)]

    for n, event_id in enumerate(good):
        assert server.wait_run(event_id, "Completed")["output"] == {"n": 2 * n}
    for fn, says in ERRORS.items():
        run = server.wait_run(bad[fn], "Failed", timeout=60)
        error = run["output"]
        assert says in f"{error['name']}: {error['message']}", (fn, error)
        if fn == "big-output-200":
            assert "the function's output is" in error["stack"], error

    origin = app.url.removesuffix("/api/outlast")
    calls = httpx.get(f"{origin}/calls", timeout=10).json()
    assert {fn: calls.get(fn) for fn in CALLS} == CALLS
    assert calls["good"] == 5
    if not backend:
        # Nothing of the 40 MB answer was stored.
        assert server.sqlite_path.stat().st_size < 20 * 1024 * 1024
    assert server.doctor().endswith("0 stuck runs\n")


def calls_of(app: App) -> dict[str, int]:
    origin = app.url.removesuffix("/api/outlast")
    found: dict[str, int] = httpx.get(f"{origin}/calls", timeout=10).json()
    return found


def test_a_hanging_app_leaves_call_slots_for_the_others(
    make_server: MakeServer, make_app: MakeApp
) -> None:
    """Eight call slots, twenty runs of an app that never answers: it gets six of them
    (3/4, the default share), and another app's run goes through at once."""
    server = make_server(args=["--queue-workers", "8", "--call-timeout", "60"])
    hanging = make_app(APP, env={"OUTLAST_DEV": server.url})
    hanging.sync(server)
    other = make_app("tests.acceptance.apps.bad_input_app:app", env={"OUTLAST_DEV": server.url})
    other.sync(server)
    server.send([{"name": "bad/hang", "data": {"n": n}} for n in range(20)])
    wait_for(
        lambda: calls_of(hanging).get("hang") == 6,
        15,
        f"six calls to the hanging app\n{server.log()}\n{hanging.log()}",
    )

    started = time.monotonic()
    [event_id] = server.send({"name": "bad-input/greet", "data": {"who": "ada"}})
    run = server.wait_run(event_id, "Completed", timeout=10)
    took = time.monotonic() - started
    assert run["output"] == {"greeting": "hello ada"}
    # Before, the hanging calls held every slot until their timeout (300 s then).
    assert took < 3, took
    assert calls_of(hanging).get("hang") == 6
    server.doctor()  # the runs waiting for a slot are queued, not stuck


def test_two_hanging_apps_share_their_slots_and_leave_room(
    make_server: MakeServer, make_app: MakeApp
) -> None:
    """Eight slots, six for apps between them: two apps that never answer share them (one
    more while the other had none in flight), and a third app's run still goes through."""
    server = make_server(args=["--queue-workers", "8", "--call-timeout", "60"])
    hanging = []
    for app_id in ("hang-one", "hang-two"):
        app = make_app(APP, env={"OUTLAST_DEV": server.url, "MISBEHAVING_APP_ID": app_id})
        app.sync(server)
        hanging.append(app)
    other = make_app("tests.acceptance.apps.bad_input_app:app", env={"OUTLAST_DEV": server.url})
    other.sync(server)
    server.send([{"name": "bad/hang", "data": {"n": n}} for n in range(20)])

    def held() -> list[int]:
        return [calls_of(app).get("hang", 0) for app in hanging]

    wait_for(lambda: sum(held()) >= 6 and min(held()) >= 1, 15, "both hanging apps called")
    time.sleep(1)  # anything more they could take, they have taken by now
    assert 6 <= sum(held()) <= 7 and min(held()) >= 1, held()
    started = time.monotonic()
    [event_id] = server.send({"name": "bad-input/greet", "data": {"who": "ada"}})
    assert server.wait_run(event_id, "Completed", timeout=10)["output"] == {"greeting": "hello ada"}
    assert time.monotonic() - started < 3
    assert sum(held()) <= 7, held()
