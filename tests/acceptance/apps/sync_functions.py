"""Plain ``def`` functions (the synchronous step API), shared by the Flask and Django apps."""

from __future__ import annotations

import os
from typing import Any

import outlast

APP_ID = os.environ.get("APP_ID", "sync-app")
client = outlast.Client(APP_ID)


@client.function(id="sync-steps", trigger=outlast.TriggerEvent(event="sync/go"), retries=2)
def sync_steps(ctx: outlast.SyncContext) -> dict[str, Any]:
    n: int = ctx.event.data["n"]
    doubled = ctx.step.run("double", lambda: n * 2)

    def flaky() -> int:
        if ctx.attempt == 0:
            raise RuntimeError("first attempt fails")
        return doubled + 1

    plus_one = ctx.step.run("flaky", flaky)
    ctx.step.sleep("pause", "1s")
    reply = ctx.step.wait_for_event("never", event="sync/never", timeout="1s")
    ids = ctx.step.send_event("announce", {"name": "sync/done", "data": {"n": n}})
    return {"doubled": doubled, "plus_one": plus_one, "reply": reply, "sent": len(ids)}


@client.function(id="on-done", trigger=outlast.TriggerEvent(event="sync/done"))
def on_done(ctx: outlast.SyncContext) -> int:
    result: int = ctx.step.run("echo", lambda: ctx.event.data["n"])
    return result


FUNCTIONS = [sync_steps, on_done]
