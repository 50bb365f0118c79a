"""LLM jobs with throttling, on_failure and a completion event (seed 002).

``skill.execute`` runs a (simulated) LLM skill in steps, throttled per user; on success
it sends ``skill.execute.completed``, which triggers the notification function. A skill
that cannot succeed raises NonRetriableError: the run fails at once, and its on_failure
handler marks the job failed and sends ``skill.execute.failed``.
"""

from __future__ import annotations

from typing import Any

import outlast
from examples import appdb
from examples.client import client

EXECUTE = "skill.execute"
COMPLETED = "skill.execute.completed"
FAILED = "skill.execute.failed"
SKILLS = {"summarise": "A short summary.", "headline": "Ten Headlines That Convert"}


async def mark_failed(ctx: outlast.Context) -> None:
    """on_failure: the event is ``inngest/function.failed`` with the original event inside."""
    original = ctx.event.data["event"]["data"]
    error = ctx.event.data["error"]["message"]

    def record() -> None:
        appdb.update("skill-run", original["runId"], status="failed", error=error)
        appdb.log("skill", original["runId"], f"failed: {error}")

    await ctx.step.run("update-status-failed", record)
    await ctx.step.send_event(
        "send-failure-event",
        {"name": FAILED, "data": {"runId": original["runId"], "error": error}},
    )


@client.function(
    id="skill-execute",
    trigger=outlast.TriggerEvent(event=EXECUTE),
    retries=3,
    throttle=outlast.Throttle(limit=10, period="1m", key="event.data.userId"),
    on_failure=mark_failed,
)
async def execute_skill(ctx: outlast.Context) -> dict[str, Any]:
    run_id: str = ctx.event.data["runId"]
    skill: str = ctx.event.data["skillName"]

    await ctx.step.run(
        "update-status-running", lambda: appdb.put("skill-run", run_id, {"status": "running"})
    )

    def run_skill() -> str:
        if skill not in SKILLS:
            raise outlast.NonRetriableError(f"unknown skill {skill!r}")
        appdb.log("skill", run_id, f"executed {skill}")
        return SKILLS[skill]

    output = await ctx.step.run("execute-skill", run_skill)
    await ctx.step.run(
        "update-status-completed",
        lambda: appdb.update("skill-run", run_id, status="completed", output=output),
    )
    await ctx.step.send_event(
        "send-completion-event",
        {"name": COMPLETED, "data": {"runId": run_id, "userId": ctx.event.data["userId"]}},
    )
    return {"runId": run_id, "output": output}


@client.function(id="notify-on-completion", trigger=outlast.TriggerEvent(event=COMPLETED))
async def notify(ctx: outlast.Context) -> list[str]:
    run_id: str = ctx.event.data["runId"]
    channels: list[str] = await ctx.step.run("get-user-channels", lambda: ["email", "slack"])
    for channel in channels:
        await ctx.step.run(
            f"notify-{channel}",
            lambda channel=channel: appdb.log("skill", run_id, f"notified {channel}"),
        )
    return channels


functions = [execute_skill, notify]
