"""The wire form of an op: parsed once by the server, written by Outlast's SDK."""

from __future__ import annotations

import pytest

from outlast.protocol.op import (
    ABSENT,
    InvokeOpts,
    Op,
    OpError,
    SleepOpts,
    Timing,
    WaitOpts,
    parallel_mode,
    parse_ops,
)
from outlast.sdk.execution import Op as SdkOp


def test_an_op_is_parsed_into_typed_fields() -> None:
    op = Op.from_wire(
        {
            "op": "StepRun",
            "id": "h1",
            "name": "load",
            "displayName": "load-user",
            "opts": {"a": 1},
            "data": {"x": 1},
            "userland": {"id": "load-user", "index": 2},
            "timing": {"start": 10, "end": 25},
        }
    )
    assert op == Op(
        op="StepRun",
        id="h1",
        name="load",
        display_name="load-user",
        opts={"a": 1},
        data={"x": 1},
        user_id="load-user",
        index=2,
        timing=Timing(10, 25),
    )
    assert op.label == "load-user"


def test_missing_data_is_not_null_data() -> None:
    planned = Op.from_wire({"op": "StepPlanned", "id": "h"})
    assert planned.data is ABSENT and planned.output is None
    assert "data" not in planned.to_wire()
    ran = Op.from_wire({"op": "StepRun", "id": "h", "data": None})
    assert ran.data is None and ran.to_wire()["data"] is None


def test_fields_of_the_wrong_type_are_dropped_not_trusted() -> None:
    op = Op.from_wire(
        {"op": "Sleep", "id": 7, "name": 5, "opts": ["x"], "error": "boom", "timing": "now"}
    )
    assert op.id == "7" and op.name == "5" and op.opts == {} and op.timing is None
    assert op.error == {"name": "Error", "message": "boom"}
    assert Op.from_wire({"op": "StepRun", "timing": {"start": True, "end": 2}}).timing is None
    assert Op.from_wire({"op": "StepRun", "timing": {"a": -1, "b": 2}}).timing is None
    # The JS SDK's Go interval: start and duration in nanoseconds.
    js = Op.from_wire({"op": "StepRun", "timing": {"a": 1_700_000_000_000_000_000, "b": 5e6}})
    assert js.timing == Timing(1_700_000_000_000, 1_700_000_000_005)
    assert Op.from_wire({}).op == "" and Op.from_wire({}).id == ""


def test_a_206_body_is_one_op_or_a_list_of_them() -> None:
    assert parse_ops({"op": "StepRun", "id": "a"}) == (Op("StepRun", "a"),)
    assert parse_ops([]) == ()
    for bad in ("text", 3, None, [1], [{"op": "StepRun"}, "x"]):
        with pytest.raises(OpError):
            parse_ops(bad)


def test_what_the_sdk_sends_is_what_the_server_reads() -> None:
    sdk = SdkOp(id="h", op="StepRun", name="send", user_id="send", index=1, opts=None, data=[1])
    wire = sdk.to_wire()
    assert wire == {
        "id": "h",
        "op": "StepRun",
        "name": "send",
        "displayName": "send",
        "userland": {"id": "send", "index": 1},
        "data": [1],
    }
    assert Op.from_wire(wire) == sdk.wire_op()
    planned = SdkOp(id="p", op="StepRun", name="p", user_id="p", index=None)
    planned.plan("race")
    back = Op.from_wire(planned.to_wire())
    assert back.op == "StepPlanned" and back.opts == {"parallelMode": "race"}
    assert back.data is ABSENT


def test_op_options_read_back_as_written() -> None:
    wait = WaitOpts(event="shop/paid", timeout="1h", if_exp="async.data.x == 1")
    assert WaitOpts.from_wire(wait.to_wire()) == wait
    invoke = InvokeOpts(function_id="app-fn", payload={"data": {"a": 1}}, timeout=60_000)
    assert InvokeOpts.from_wire(invoke.to_wire()) == invoke
    assert SleepOpts.from_wire({"duration": "2d"}) == SleepOpts("2d")
    assert parallel_mode({"parallelMode": "race"}) == "race"


def test_odd_options_are_read_as_absent() -> None:
    assert WaitOpts.from_wire({"timeout": True, "if": "", "match": 3}) == WaitOpts(match="3")
    assert InvokeOpts.from_wire({"payload": [1], "timeout": {}}) == InvokeOpts()
    assert SleepOpts.from_wire({}) == SleepOpts()
    assert parallel_mode({}) is None
