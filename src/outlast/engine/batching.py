"""``batchEvents``: a batched function's events are collected per batch key into a durable
batch (a store row, not memory); its run starts with all of them when the batch is full —
``maxSize`` events or 10 MiB — or when the batch's timeout fires, whichever comes first.
Events for which the batch's ``if`` is false run on their own.
"""

from __future__ import annotations

from typing import Any

from outlast.domain import EventRecord, QueueKind
from outlast.engine.config import FunctionSpec
from outlast.engine.expressions import evaluate_key
from outlast.engine.payloads import BatchPayload
from outlast.protocol import ids, jsonutil
from outlast.store import NewItem, Session

#: A batch this large starts at once, however many events it holds.
MAX_BATCH_BYTES = 10 * 1024 * 1024


def timer_key(batch_id: str) -> str:
    return f"batch:{batch_id}"


def batches(spec: FunctionSpec, payload: dict[str, Any]) -> bool:
    """Whether this event of a function it triggers goes into a batch."""
    batch = spec.batch
    return batch is not None and (batch.if_exp is None or batch.if_exp.matches({"event": payload}))


async def add(s: Session, spec: FunctionSpec, rec: EventRecord, now: int) -> str | None:
    """Put the event in its batch (opening one, with its timer, if needed). Returns the
    batch's id when the batch is now full and its run must start."""
    assert spec.batch is not None
    key = evaluate_key(spec.batch.key, rec.payload) if spec.batch.key else ""
    new_id = ids.ulid_at(now)
    size = len(jsonutil.dumps(rec.payload))
    batch = await s.add_to_batch(spec.id, key, rec.internal_id, size, new_id=new_id, now=now)
    full = batch.size >= spec.batch.max_size or batch.bytes >= MAX_BATCH_BYTES
    if batch.id == new_id and not full:
        due = now + spec.batch.timeout_ms
        timer = NewItem(
            QueueKind.BATCH,
            None,
            due,
            payload=BatchPayload(batch.id).encode(),
            dedupe_key=timer_key(new_id),
        )
        await s.enqueue([timer])
    return batch.id if full else None


async def close(s: Session, batch_id: str) -> tuple[str, list[tuple[str, dict[str, Any]]]] | None:
    """Close a batch: its function id and events (id, payload), or None if it was closed
    already (its timer and its last event raced)."""
    function_id = await s.close_batch(batch_id)
    if function_id is None:
        return None
    await s.delete_item_by_key(timer_key(batch_id))
    return function_id, await s.batch_events(batch_id)
