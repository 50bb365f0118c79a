-- A wait registered just after an event arrived looks back for it (engine/ops/wait_for_event.py).
CREATE INDEX events_name_received ON events (name, received_at);
