"""The session: every query Outlast makes, over one connection.

``store.tx()`` gives a session inside a transaction (everything in it commits together or
not at all); ``store.read()`` gives one for reads. The SQL is written once for every
database; where they differ, the session asks its ``dialect``. The queries are grouped by
what they touch: apps and functions in ``apps``, events in ``events``, runs and steps in
``runs``, the queue and waits in ``queue``, event batches in ``batches``, flow-control
state in ``flow``, run management in ``manage``, what only the dashboard reads (failed
attempts, skipped events, run counts) in ``dashboard``, the dashboard's login sessions in
``logins``, the server processes alive in ``workers``, the runs nothing will move on
(``outlast doctor``) in ``doctor``.
"""

from __future__ import annotations

from outlast.store.apps import AppQueries
from outlast.store.batches import BatchQueries
from outlast.store.dashboard import DashboardQueries
from outlast.store.doctor import DoctorQueries
from outlast.store.events import EventQueries
from outlast.store.flow import FlowQueries
from outlast.store.logins import LoginQueries
from outlast.store.manage import ManageQueries
from outlast.store.queue import QueueQueries
from outlast.store.runs import RunQueries
from outlast.store.workers import WorkerQueries


class Session(
    AppQueries,
    EventQueries,
    RunQueries,
    QueueQueries,
    BatchQueries,
    ManageQueries,
    FlowQueries,
    DashboardQueries,
    LoginQueries,
    WorkerQueries,
    DoctorQueries,
):
    """Every query Outlast makes, over one connection."""
