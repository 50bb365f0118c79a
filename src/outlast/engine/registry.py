"""The synced functions, parsed once and indexed by trigger event name.

The store is the source of truth; every server process keeps this cache and reloads it
when the functions' version in the store changes (another process may have synced).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from outlast.domain import FunctionRecord
from outlast.engine.config import ConfigProblem, FunctionSpec, build_spec
from outlast.engine.events import trigger_patterns
from outlast.engine.expressions import ExpressionError
from outlast.protocol.registration import FunctionConfig
from outlast.store import Session

log = logging.getLogger(__name__)


class Registry:
    """Function specs by id and by event name."""

    def __init__(self) -> None:
        self._by_id: dict[str, FunctionSpec] = {}
        self._by_event: dict[str, list[FunctionSpec]] = {}
        self._paused: set[str] = set()
        self.version: tuple[int, int] | None = None

    def load(self, records: list[FunctionRecord], version: tuple[int, int] | None) -> None:
        by_id: dict[str, FunctionSpec] = {}
        by_event: dict[str, list[FunctionSpec]] = defaultdict(list)
        paused: set[str] = set()
        for rec in records:
            try:
                spec = build_spec(rec.app_id, FunctionConfig.model_validate(rec.config))
            except (ConfigProblem, ExpressionError, ValueError) as exc:
                # Validated at sync; a config that no longer parses (e.g. after an upgrade)
                # must not stop the others from running.
                log.error("skipping invalid stored function", extra={"fn": rec.id, "err": str(exc)})
                continue
            by_id[spec.id] = spec
            for trig in spec.event_triggers:
                by_event[trig.event].append(spec)
            if rec.paused:
                paused.add(spec.id)
        self._by_id, self._by_event, self._paused = by_id, dict(by_event), paused
        self.version = version

    def get(self, function_id: str) -> FunctionSpec | None:
        return self._by_id.get(function_id)

    def for_event(self, name: str) -> list[FunctionSpec]:
        """The functions an event of this name triggers, by name or by wildcard, once each."""
        found: dict[str, FunctionSpec] = {}
        for pattern in trigger_patterns(name):
            for spec in self._by_event.get(pattern, ()):
                found.setdefault(spec.id, spec)
        return list(found.values())

    def is_paused(self, function_id: str) -> bool:
        return function_id in self._paused

    def all(self) -> list[FunctionSpec]:
        return list(self._by_id.values())


async def sync_registry(registry: Registry, s: Session) -> None:
    """Reload ``registry`` from the store if the functions' version there changed."""
    version = await s.functions_version()
    if version != registry.version:
        registry.load(await s.list_functions(), version)
