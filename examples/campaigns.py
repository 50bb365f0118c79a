"""Campaign sending on a cron schedule (seed 004: a backup scheduler for campaigns).

Every few minutes (``CAMPAIGN_CRON``, default ``*/5 * * * *``) the checker finds
scheduled campaigns whose send date has passed and sends one ``campaign/send`` event
for each; the sender marks the campaign sending, delivers it and marks it sent. A
campaign is claimed in a step, so a second tick never sends it twice.
"""

from __future__ import annotations

import os
import time
from typing import Any

import outlast
from examples import appdb
from examples.client import client

SEND = "campaign/send"
CRON = os.environ.get("CAMPAIGN_CRON", "*/5 * * * *")


def schedule(campaign_id: str, send_at: float, recipients: int) -> None:
    appdb.put(
        "campaign",
        campaign_id,
        {"id": campaign_id, "status": "scheduled", "send_at": send_at, "recipients": recipients},
    )


@client.function(id="check-scheduled-campaigns", trigger=outlast.TriggerCron(cron=CRON))
async def check_scheduled(ctx: outlast.Context) -> list[str]:
    def claim_due() -> list[str]:
        due = [
            c["id"]
            for c in appdb.all_of("campaign")
            if c["status"] == "scheduled" and c["send_at"] <= time.time()
        ]
        for campaign_id in due:
            appdb.update("campaign", campaign_id, status="queued")
        return due

    due = await ctx.step.run("find-due-campaigns", claim_due)
    if due:
        await ctx.step.send_event(
            "trigger-sends", [{"name": SEND, "data": {"campaignId": c}} for c in due]
        )
    return due


@client.function(
    id="send-campaign",
    trigger=outlast.TriggerEvent(event=SEND),
    concurrency=outlast.Concurrency(limit=1, key="event.data.campaignId"),
)
async def send_campaign(ctx: outlast.Context) -> dict[str, Any]:
    campaign_id: str = ctx.event.data["campaignId"]
    campaign = await ctx.step.run(
        "mark-sending", lambda: appdb.update("campaign", campaign_id, status="sending")
    )

    def deliver() -> int:
        appdb.log("campaign", campaign_id, f"delivered to {campaign['recipients']} recipients")
        return int(campaign["recipients"])

    sent = await ctx.step.run("deliver", deliver)
    await ctx.step.run("mark-sent", lambda: appdb.update("campaign", campaign_id, status="sent"))
    return {"campaignId": campaign_id, "sent": sent}


functions = [check_scheduled, send_campaign]
