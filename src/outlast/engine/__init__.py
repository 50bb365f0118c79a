"""The engine: what happens to events, runs and steps.

- ``lifecycle``: a run's life (events in, new runs, waits resolved, the end); it imports
  none of the handlers below, which build on it.
- ``machine``: the entry points (``ingest``, ``apply`` an app's answer, ``fire`` a timer).
- ``ops/``: one handler per op an app answers with, in a table; ``timers/``: one handler
  per kind of timer in the queue, in a table; ``payloads``: what each queue kind carries.
- ``executor``: leases queue items and carries them out; ``caller``: calls to apps;
  ``checkpoint`` and ``group_commit``: steps saved in a few transactions.
- flow control: ``flow`` (the rules), ``admission``, ``batching``, ``debounce``,
  ``timeouts``, ``skips``; ``cron`` and ``expressions`` (CEL); ``events`` (the events
  the server writes); ``config`` and ``registry`` (synced functions); ``manage``
  (replay, rerun, pause); ``runtime`` (the engine wired together).
"""
