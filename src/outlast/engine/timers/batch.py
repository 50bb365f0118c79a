"""A batch's timeout fired: its run starts with the events it has."""

from __future__ import annotations

from outlast.domain import QueueItem
from outlast.engine.lifecycle import Lifecycle
from outlast.engine.payloads import BatchPayload
from outlast.store import Session


async def fire(life: Lifecycle, s: Session, item: QueueItem, now: int) -> None:
    await s.delete_item(item.id)
    await life.start_batch(s, BatchPayload.decode(item).batch_id, now)
