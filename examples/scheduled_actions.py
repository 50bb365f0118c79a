"""Delayed actions with ``sleep_until`` (seed 000: replacing a QStash webhook).

An email rule schedules an action for later. The run sleeps until then (durably: no
process holds it), fetches the action, skips it if it was cancelled meanwhile, marks it
executing so it cannot run twice, executes it and marks it completed. Cancelling the
action also sends ``inbox-zero/scheduled-action.cancel``, which cancels the sleeping run.
"""

from __future__ import annotations

from typing import Any

import outlast
from examples import appdb
from examples.client import client

EXECUTE = "inbox-zero/scheduled-action.execute"
CANCEL = "inbox-zero/scheduled-action.cancel"


def schedule(action_id: str, scheduled_for: str, action: str) -> dict[str, Any]:
    """What the app does when a rule fires: store the action, then send the event."""
    appdb.put("action", action_id, {"id": action_id, "status": "PENDING", "action": action})
    return {
        "name": EXECUTE,
        "data": {"scheduledActionId": action_id, "scheduledFor": scheduled_for},
    }


def cancel(action_id: str) -> dict[str, Any]:
    appdb.update("action", action_id, status="CANCELLED")
    return {"name": CANCEL, "data": {"scheduledActionId": action_id}}


@client.function(
    id="scheduled-action-execute",
    trigger=outlast.TriggerEvent(event=EXECUTE),
    retries=3,
    cancel=outlast.Cancel(event=CANCEL, match="data.scheduledActionId"),
)
async def execute_scheduled_action(ctx: outlast.Context) -> dict[str, Any]:
    action_id: str = ctx.event.data["scheduledActionId"]
    await ctx.step.sleep_until("wait-until-scheduled", ctx.event.data["scheduledFor"])

    action = await ctx.step.run("fetch-action", appdb.get, "action", action_id)
    if action is None or action["status"] != "PENDING":
        ctx.logger.info("action %s skipped", action_id)
        return {"skipped": True, "status": None if action is None else action["status"]}

    await ctx.step.run(
        "mark-executing", lambda: appdb.update("action", action_id, status="EXECUTING")
    )

    def run_action() -> str:
        appdb.log("action", action_id, f"executed {action['action']}")
        return f"{action['action']} done"

    result = await ctx.step.run("execute-action", run_action)
    await ctx.step.run(
        "mark-completed", lambda: appdb.update("action", action_id, status="COMPLETED")
    )
    return {"skipped": False, "result": result}


functions = [execute_scheduled_action]
