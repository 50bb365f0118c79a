"""Outlast's benchmark suite: ``python -m benchmarks --scenario NAME --store sqlite|postgres
--json FILE``, or ``--all`` for every scenario on both stores and the table in
``docs/benchmarks.md``. Each scenario starts real processes on loopback (the ``outlast``
server, an app) and reports what it measured; nothing is estimated."""
