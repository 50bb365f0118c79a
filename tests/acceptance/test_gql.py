"""``POST /v0/gql`` against the real server and a real app: the queries the official SDKs'
test helpers send (protocol.md §5), word for word, get the answers those helpers parse.

The query texts below are those of inngest-py's ``test_core.helper`` and inngest-js's
integration helpers (``run``/``runTrigger``, ``event.functionRuns``, ``run.trace``,
``runTraceSpanOutputByID``, ``eventV2``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import inngest

from outlast.protocol.signing import hash_key
from tests.acceptance.conftest import MakeApp, MakeServer
from tests.acceptance.harness import Server, wait_for

APP = "tests.acceptance.apps.core_app:app"

# -- the official helpers' queries ----------------------------------------------------------

RUN_IDS_OF_EVENT = """
query GetRunFromEventID($event_id: ID!) {
    event(query: {eventId: $event_id}) {
        functionRuns {
            id
        }
    }
}
"""

RUN_STATUS = """
query GetRun($run_id: String!) {
    run(runID: $run_id) {
        output
        status
    }
    runTrigger(runID: $run_id) {
        payloads
    }
}
"""

STEPS = """
query GetHistory($run_id: String!) {
    run(runID: $run_id) {
        trace {
            childrenSpans {
                name
                outputID
            }
        }
    }
}
"""

STEP_OUTPUT = """
query GetHistory($output_id: String!) {
    runTraceSpanOutputByID(outputID: $output_id) {
        data
        error {
            message
            name
            stack
        }
    }
}
"""

EVENT_V2 = """
query Event($id: ULID!) {
    eventV2(id: $id) {
        idempotencyKey
        name
        raw
    }
}
"""

ENDED = ("COMPLETED", "FAILED", "CANCELLED")


# -- helpers ---------------------------------------------------------------------------------


def post(
    server: Server,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    **extra: Any,
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = {"query": query, "variables": variables, **extra}
    return httpx.post(f"{server.url}/v0/gql", json=body, headers=headers, timeout=10)


def data(server: Server, query: str, token: str | None = None, **variables: Any) -> Any:
    """The ``data`` of a query that must succeed."""
    r = post(server, query, variables, token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


def graphql_errors(r: httpx.Response) -> list[str]:
    """The messages of a GraphQL answer that reports errors (HTTP 200, as for any query)."""
    assert r.status_code == 200, r.text
    errors = r.json()["errors"]
    assert errors and all(isinstance(e["message"], str) for e in errors), errors
    return [e["message"] for e in errors]


def run_id_of(server: Server, event_id: str) -> str:
    """What ``get_run_ids_from_event_id`` does: poll until the event has its one run."""

    def check() -> str | None:
        runs = data(server, RUN_IDS_OF_EVENT, event_id=event_id)["event"]["functionRuns"]
        return str(runs[0]["id"]) if runs else None

    return wait_for(check, 20, f"a run of event {event_id}\n{server.log()}")


def ended_run(server: Server, run_id: str) -> dict[str, Any]:
    """What ``wait_for_run_status`` does: poll ``run`` and ``runTrigger`` until the run ends."""

    def check() -> dict[str, Any] | None:
        answer: dict[str, Any] = data(server, RUN_STATUS, run_id=run_id)
        return answer if answer["run"]["status"] in ENDED else None

    return wait_for(check, 30, f"run {run_id} to end\n{server.log()}")


def step_outputs(server: Server, run_id: str) -> dict[str, dict[str, Any]]:
    """What ``get_step_output`` does, for every step: name -> {data, error}."""
    spans = data(server, STEPS, run_id=run_id)["run"]["trace"]["childrenSpans"]
    outputs = {}
    for span in spans:
        assert span["outputID"], span
        answer = data(server, STEP_OUTPUT, output_id=span["outputID"])
        outputs[span["name"]] = answer["runTraceSpanOutputByID"]
    return outputs


def start(make_server: MakeServer, make_app: MakeApp, backend: dict[str, Any]) -> Server:
    server = make_server(**backend)
    app = make_app(APP, env={"OUTLAST_DEV": server.url})
    app.sync(server)
    return server


# -- tests -----------------------------------------------------------------------------------


def test_the_sdk_helpers_queries_answer_runs_steps_and_events(
    make_server: MakeServer, make_app: MakeApp, backend: dict[str, Any]
) -> None:
    server = start(make_server, make_app, backend)
    five, doomed, parent = server.send(
        [
            {"name": "test/crash", "id": "gql-order-7", "data": {"order": 7}},
            {"name": "test/doomed"},
            {"name": "test/parent"},
        ]
    )

    # A completed run of five steps: its output, its trigger, each step's output.
    run_id = run_id_of(server, five)
    answer = ended_run(server, run_id)
    assert answer["run"] == {"status": "COMPLETED", "output": "15"}
    [payload] = answer["runTrigger"]["payloads"]
    event = inngest.Event.model_validate_json(payload)  # as the Python helper parses it
    assert (event.name, event.id, event.data) == ("test/crash", "gql-order-7", {"order": 7})
    outputs = step_outputs(server, run_id)
    assert list(outputs) == [f"step-{i}" for i in range(1, 6)]
    for i in range(1, 6):
        assert outputs[f"step-{i}"] == {"data": json.dumps(i), "error": None}

    # A failed run: its output is its error.
    failed_id = run_id_of(server, doomed)
    answer = ended_run(server, failed_id)
    assert answer["run"]["status"] == "FAILED"
    error = json.loads(answer["run"]["output"])
    assert (error["name"], error["message"]) == ("NonRetriableError", "the card was declined")
    assert "Traceback" in error["stack"]

    # A step that failed shows its error, not data; one that succeeded, its data.
    parent_id = run_id_of(server, parent)
    answer = ended_run(server, parent_id)
    assert json.loads(answer["run"]["output"]) == {
        "child": {"doubled": 42},
        "failed": "child refused",
    }
    outputs = step_outputs(server, parent_id)
    assert outputs["call-child"] == {"data": '{"doubled":42}', "error": None}
    failed_step = outputs["call-failing-child"]
    assert failed_step["data"] is None
    assert failed_step["error"]["message"] == "child refused"
    assert failed_step["error"]["name"] == "NonRetriableError"

    # The JS harness reads events with eventV2; raw is the event as its producer sent it.
    event_v2 = data(server, EVENT_V2, id=five)["eventV2"]
    assert event_v2["name"] == "test/crash"
    assert event_v2["idempotencyKey"] == "gql-order-7"
    raw = json.loads(event_v2["raw"])
    assert (raw["name"], raw["id"], raw["data"]) == ("test/crash", "gql-order-7", {"order": 7})


def test_more_fields_of_runs_traces_and_events(make_server: MakeServer, make_app: MakeApp) -> None:
    server = start(make_server, make_app, {})
    [five, doomed] = server.send([{"name": "test/crash"}, {"name": "test/doomed"}])
    run_id = run_id_of(server, five)
    ended_run(server, run_id)
    ended_run(server, run_id_of(server, doomed))

    run = data(
        server,
        """query($id: String!) {
            run(runID: $id) {
                id status functionID queuedAt startedAt endedAt triggerIDs eventName isBatch
                function { id name slug appID }
                trace {
                    name status isRoot outputID
                    childrenSpans { name status stepOp stepID attempts isRoot parentSpanID }
                }
            }
        }""",
        id=run_id,
    )["run"]
    assert run["id"] == run_id and run["status"] == "COMPLETED"
    assert run["functionID"] == "core-app-crash-steps"
    assert run["function"] == {
        "id": "core-app-crash-steps",
        "name": "crash-steps",
        "slug": "core-app-crash-steps",
        "appID": "core-app",
    }
    assert run["triggerIDs"] == [five] and run["eventName"] == "test/crash"
    assert not run["isBatch"]
    assert run["queuedAt"] <= run["startedAt"] <= run["endedAt"]
    assert run["endedAt"].endswith("Z")
    trace = run["trace"]
    assert (trace["name"], trace["status"], trace["isRoot"]) == ("crash-steps", "COMPLETED", True)
    # The root span's output is the run's.
    root = data(server, STEP_OUTPUT, output_id=trace["outputID"])["runTraceSpanOutputByID"]
    assert root == {"data": "15", "error": None}
    for i, span in enumerate(trace["childrenSpans"], start=1):
        assert span["name"] == f"step-{i}"
        assert (span["status"], span["stepOp"], span["attempts"]) == ("COMPLETED", "RUN", 1)
        assert len(span["stepID"]) == 40 and not span["isRoot"]
        assert span["parentSpanID"] == trace["outputID"] == run_id

    # The older event query, with the fields the dev server UI shows.
    event = data(
        server,
        """query($id: ID!) {
            event(query: {eventId: $id}) {
                id name createdAt payload raw status totalRuns pendingRuns
                functionRuns { id status output functionID eventID finishedAt }
            }
        }""",
        id=doomed,
    )["event"]
    assert (event["id"], event["name"]) == (doomed, "test/doomed")
    assert json.loads(event["payload"]) == {} and json.loads(event["raw"])["id"] == doomed
    assert (event["status"], event["totalRuns"], event["pendingRuns"]) == ("FAILED", 1, 0)
    [failed] = event["functionRuns"]
    assert failed["status"] == "FAILED" and failed["eventID"] == doomed
    assert json.loads(failed["output"])["message"] == "the card was declined"

    # eventV2 with its runs, as the JS harness and the dev server UI ask for them.
    event_v2 = data(
        server,
        """query($id: ULID!) {
            eventV2(id: $id) {
                id name idempotencyKey occurredAt receivedAt version
                runs { id status output function { name slug } }
            }
        }""",
        id=five,
    )["eventV2"]
    # Sent without an id: Inngest gives the id the server made as the idempotency key.
    assert event_v2["id"] == five and event_v2["idempotencyKey"] == five
    assert event_v2["occurredAt"] == event_v2["receivedAt"]  # sent without a ts
    assert event_v2["runs"] == [
        {
            "id": run_id,
            "status": "COMPLETED",
            "output": "15",
            "function": {"name": "crash-steps", "slug": "core-app-crash-steps"},
        }
    ]

    # Unknown ids: a nullable field is null; a non-null one is a GraphQL error.
    run_only = "query($id: String!) { run(runID: $id) { status } }"
    assert data(server, run_only, id="nope") == {"run": None}
    assert data(server, RUN_IDS_OF_EVENT, event_id="nope") == {"event": None}
    for query, variables in [
        (RUN_STATUS, {"run_id": "nope"}),
        (STEP_OUTPUT, {"output_id": f"{run_id}:{'0' * 40}"}),
        (EVENT_V2, {"id": "nope"}),
    ]:
        [message] = graphql_errors(post(server, query, variables))
        assert "not found" in message


def no_traceback(server: Server) -> None:
    assert server.proc is not None and server.proc.poll() is None, server.log()
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-6000:]


def test_bad_requests_get_clear_errors_never_a_500(make_server: MakeServer) -> None:
    server = make_server()
    url = f"{server.url}/v0/gql"

    # Not a GraphQL request at all: HTTP 400, with the problem named.
    for content, words in [
        (b"", "not valid JSON"),
        (b"{query", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"variables": {}}', "'query'"),
        (b'{"query": ""}', "'query'"),
        (b'{"query": "{ run(runID: \\"x\\") { status } }", "variables": [1]}', "'variables'"),
        (b'{"query": "{ run(runID: \\"x\\") { status } }", "operationName": 1}', "operationName"),
    ]:
        r = httpx.post(url, content=content, headers={"content-type": "application/json"})
        assert r.status_code == 400, (content, r.text)
        body = r.json()
        assert words in body["error"] and body["errors"][0]["message"] == body["error"]
    r = httpx.post(url, content=b"x" * (1024 * 1024 + 1))
    assert r.status_code == 413, r.text

    # A request whose query is wrong: GraphQL errors (HTTP 200, as GraphQL over HTTP says).
    for query, variables, words in [
        ("{ run(runID: ", None, "Syntax Error"),
        ('{ run(runID: "x") { nope } }', None, "Cannot query field 'nope'"),
        ("{ run { status } }", None, "is required"),
        ("query($id: String!) { run(runID: $id) { status } }", {}, "'$id'"),
        ("query($id: String!) { run(runID: $id) { status } }", {"id": 5}, "'$id'"),
        ("mutation { cancelRun }", None, "mutation"),
        ("query A { __typename } query B { __typename }", None, "operation name"),
        ("{ " + "__typename " * 20_000 + "}", None, "token"),
    ]:
        messages = graphql_errors(post(server, query, variables))
        assert any(words in m for m in messages), (query[:80], messages)
    # An id no store can hold (NUL) is just not found.
    assert data(server, "query($id: String!) { run(runID: $id) { id } }", id="a\x00b") == {
        "run": None
    }
    assert data(server, "{ __schema { queryType { name } } }") == {
        "__schema": {"queryType": {"name": "Query"}}
    }
    no_traceback(server)


SIGNING_KEY = "5e" * 32


def test_start_mode_wants_the_signing_key(make_server: MakeServer) -> None:
    args = ["--event-key", "k1", "--signing-key", SIGNING_KEY]
    server = make_server(mode="start", args=args)
    query = '{ run(runID: "nope") { status } }'
    for token, words in [
        (None, "missing signing key"),
        (hash_key("a1" * 32), "invalid signing key"),
    ]:
        r = post(server, query, token=token)
        assert r.status_code == 401, r.text
        assert words in r.json()["error"] and words in r.json()["errors"][0]["message"]
    # The hashed key, as the SDKs send it, and the plain one are both accepted.
    for token in (hash_key(SIGNING_KEY), SIGNING_KEY):
        assert data(server, query, token=token) == {"run": None}
    no_traceback(server)
