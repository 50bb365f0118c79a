"""Which functions an event triggers: by name, and by Inngest's wildcards."""

from __future__ import annotations

from outlast.engine.events import trigger_matches, trigger_patterns
from outlast.engine.registry import Registry

from .conftest import function


def test_an_event_fires_its_name_and_a_wildcard_after_each_separator() -> None:
    assert trigger_patterns("app/user.created") == ["app/user.created", "app/*", "app/user.*"]
    assert trigger_patterns("api/v1/users") == ["api/v1/users", "api/*", "api/v1/*"]
    assert trigger_patterns("user.updated") == ["user.updated", "user.*"]
    assert trigger_patterns("simple") == ["simple"]


def test_wildcard_triggers_start_runs_once_each() -> None:
    registry = Registry()
    registry.load(
        [
            function("all-app", "all", "app/*"),
            function("user", "user", "app/user.*"),
            function("exact", "exact", "app/user.created"),
            function("other", "other", "billing/*"),
            # Two triggers that both match: still one run.
            function("both", "both", "app/*", triggers=[{"event": "app/*"}, {"event": "app/x"}]),
        ],
        None,
    )
    found = [spec.id for spec in registry.for_event("app/user.created")]
    assert sorted(found) == ["all-app", "both", "exact", "user"]
    assert sorted(spec.id for spec in registry.for_event("app/x")) == ["all-app", "both"]
    assert registry.for_event("appx/y") == []
    # Mid-word is not a wildcard: "app/us*" would be a plain (odd) name.
    assert registry.for_event("app") == []
    spec = registry.get("user")
    assert spec is not None
    assert trigger_matches(spec, {"name": "app/user.deleted", "data": {}})
    assert not trigger_matches(spec, {"name": "app/team.created", "data": {}})
