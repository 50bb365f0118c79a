"""``python -m benchmarks --scenario NAME [--scenario ...] --store sqlite|postgres
[--json FILE] [--size full|smoke]``, or ``--all`` to run every scenario on both stores and
rewrite ``docs/benchmarks.md`` and ``docs/benchmarks.png``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from benchmarks import report
from benchmarks.common import Result
from benchmarks.scenarios import dashboard, fairness, ingest, latency, peer, steps, timers

Scenario = Callable[[str, str], list[Result]]

SCENARIOS: dict[str, Scenario] = {
    "ingest": ingest.run,
    "steps": steps.run,
    "latency": latency.run,
    "timers": timers.run,
    "peer": peer.run,
    "fairness": fairness.run,
    "dashboard": dashboard.run,
}
STORES = ("sqlite", "postgres")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), default=[])
    p.add_argument("--store", choices=STORES, action="append", default=[])
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument(
        "--size",
        choices=("full", "smoke"),
        default="full",
        help="full: the sizes of docs/benchmarks.md; smoke: tiny, to check a scenario runs",
    )
    p.add_argument("--all", action="store_true", help="every scenario on both stores + docs")
    args = p.parse_args(argv)
    names = sorted(SCENARIOS) if args.all else args.scenario
    stores = list(STORES) if args.all else (args.store or ["sqlite"])
    if not names:
        p.error("name a --scenario (or use --all)")
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    results: list[Result] = []
    started = time.time()
    for name in names:
        for store in stores:
            print(f"== {name} on {store} ({args.size})", flush=True)
            for result in SCENARIOS[name](store, args.size):
                print(report.text(result), flush=True)
                results.append(result)
    doc = report.document(results, command, started)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    if args.all and args.size == "full":
        report.write_docs(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
