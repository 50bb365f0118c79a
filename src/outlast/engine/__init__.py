"""The engine: queue, flow control, executor, scheduler, matcher and expressions."""
