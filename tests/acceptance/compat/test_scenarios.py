"""Every scenario, with every client, against ``outlast dev`` and ``outlast start``.

The scenarios of one deployment run at the same time (they wait on timers and a cron
tick, not on each other): the deployment's results are computed once, and each test
reports one (client, scenario) pair.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.acceptance.compat.conftest import Deployment
from tests.acceptance.compat.scenarios import CASES, SCENARIOS

#: Scenarios polling the server at once; the rest queue behind them.
WORKERS = 10

_results: dict[str, dict[tuple[str, str], Future[None]]] = {}


def results(dep: Deployment) -> dict[tuple[str, str], Future[None]]:
    key = f"{dep.mode}-{dep.server.port}"
    if key not in _results:
        pool = ThreadPoolExecutor(WORKERS, thread_name_prefix=f"compat-{dep.mode}")
        # The cron scenarios wait for the next minute: start them first.
        ordered = sorted(CASES, key=lambda case: case[1] != "cron")
        _results[key] = {
            (client, name): pool.submit(SCENARIOS[name][0], dep.target(client))
            for client, name in ordered
        }
        pool.shutdown(wait=False)
    return _results[key]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("client", "scenario"), CASES, ids=[f"{c}-{n}" for c, n in CASES])
def test_scenario(deployment: Deployment, client: str, scenario: str) -> None:
    results(deployment)[(client, scenario)].result(timeout=240)
