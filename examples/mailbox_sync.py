"""A mailbox sync in checkpointed steps (seed 001: syncing Microsoft mailboxes).

Each folder is synced in a step of its own, and progress is saved after each one, so a
sync that fails halfway resumes at the failed folder: the folders already synced are
never fetched again. ``data.flaky_folder`` makes that folder fail on its first attempt,
to show it.
"""

from __future__ import annotations

from typing import Any

import outlast
from examples import appdb
from examples.client import client

SYNC = "email/microsoft.sync"
FOLDERS = {"inbox": 12, "sent": 5, "archive": 30, "drafts": 1}


@client.function(
    id="sync-microsoft-mailbox",
    trigger=outlast.TriggerEvent(event=SYNC),
    retries=5,
    concurrency=outlast.Concurrency(limit=1, key="event.data.accountId"),
)
async def sync_mailbox(ctx: outlast.Context) -> dict[str, Any]:
    account: str = ctx.event.data["accountId"]
    flaky: str | None = ctx.event.data.get("flaky_folder")

    def validate() -> dict[str, Any]:
        appdb.log("sync", account, "validated account")
        return appdb.update("mailbox", account, account=account, status="syncing", synced=0)

    await ctx.step.run("validate-account", validate)
    folders: list[str] = await ctx.step.run("list-folders", lambda: list(FOLDERS))

    total = 0
    for done, folder in enumerate(folders, start=1):

        def sync_folder(folder: str = folder, done: int = done) -> int:
            appdb.log("sync", account, f"fetch {folder}")
            if folder == flaky and ctx.attempt == 0:
                raise RuntimeError(f"Graph API timeout while syncing {folder}")
            appdb.update("mailbox", account, progress=f"{done}/{len(folders)}")
            return FOLDERS[folder]

        total += await ctx.step.run(f"sync-folder-{folder}", sync_folder)

    await ctx.step.run(
        "mark-complete",
        lambda: appdb.update("mailbox", account, status="synced", synced=total),
    )
    ctx.logger.info("synced %d messages for %s", total, account)
    return {"account": account, "messages": total, "folders": len(folders)}


functions = [sync_mailbox]
