"""Where the session and the Store interface used to live, kept so existing imports keep
working: ``outlast.store`` is the place to import them from (``session``, ``interface``)."""

from outlast.store.interface import Store
from outlast.store.rows import CheckpointStep, NewItem, NewRun, StepDone
from outlast.store.session import Session

__all__ = ["CheckpointStep", "NewItem", "NewRun", "Session", "StepDone", "Store"]
