"""The ``outlast`` command: ``dev``, ``start``, ``migrate`` and ``doctor``.

Every flag can also be given as an ``OUTLAST_*`` environment variable (``--event-key``
is ``OUTLAST_EVENT_KEY``; repeatable flags take a comma-separated list there).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from outlast.engine.caller import DEFAULT_CALL_TIMEOUT_S, MAX_CALL_TIMEOUT_S
from outlast.engine.runtime import Engine, EngineConfig
from outlast.protocol.ops import (
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_MAX_REQUEST_BYTES,
    MAX_EVENT_BYTES_CAP,
    MAX_REQUEST_BYTES_CAP,
    ServerKind,
)
from outlast.server import ServerSettings, create_app
from outlast.store import Store

log = logging.getLogger("outlast")

#: The shortest dashboard key accepted: it is typed into a login form, and guessable keys
#: open everything the REST API can do.
MIN_DASHBOARD_KEY = 16

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class _Formatter(logging.Formatter):
    """``time level logger message key=value ...``: the structured fields stay readable."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _RESERVED}
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


def _env(name: str) -> str | None:
    """A flag's value from the environment: ``OUTLAST_<NAME>``, else ``INNGEST_<NAME>`` (an
    environment written for ``inngest start`` works unchanged; Outlast's name wins)."""
    for prefix in ("OUTLAST_", "INNGEST_"):
        value = os.environ.get(prefix + name)
        if value not in (None, ""):
            return value
    return None


def _env_list(name: str) -> list[str]:
    value = _env(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outlast", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default=_env("HOST") or "127.0.0.1")
        p.add_argument("--port", type=int, default=int(_env("PORT") or 8288))
        p.add_argument(
            "--sqlite-dir",
            default=_env("SQLITE_DIR") or "./.outlast",
            help="where the embedded SQLite database lives (default ./.outlast)",
        )
        p.add_argument(
            "--postgres-uri",
            default=_env("POSTGRES_URI"),
            help="use PostgreSQL instead of SQLite (postgresql://user@host:5432/db)",
        )
        p.add_argument(
            "--postgres-schema",
            default=_env("POSTGRES_SCHEMA"),
            help="keep Outlast's tables in this PostgreSQL schema (created if missing)",
        )
        p.add_argument(
            "--retry-interval",
            type=float,
            default=float(_env("RETRY_INTERVAL") or 0) or None,
            help="retry failed steps after this many seconds instead of the backoff table",
        )
        p.add_argument(
            "-u",
            "--sdk-url",
            action="append",
            default=_env_list("SDK_URL"),
            help="an app's serve URL to sync at start (repeatable)",
        )
        p.add_argument(
            "--poll-interval",
            type=float,
            default=float(_env("POLL_INTERVAL") or 0),
            help="sync the -u apps again every N seconds (0: only at start)",
        )
        p.add_argument(
            "--queue-workers",
            type=int,
            default=int(_env("QUEUE_WORKERS") or 256),
            help="how many queue items run at once in this process",
        )
        p.add_argument(
            "--app-calls",
            type=int,
            default=int(_env("APP_CALLS") or 0) or None,
            help="call slots apps may hold between them, shared equally by the apps with "
            "calls in flight (default: 3/4 of --queue-workers, so slow or hanging apps "
            "leave room for the others)",
        )
        p.add_argument(
            "--call-timeout",
            type=float,
            default=float(_env("CALL_TIMEOUT") or DEFAULT_CALL_TIMEOUT_S),
            help="seconds an app has to answer a call before it counts as a failed attempt",
        )
        p.add_argument(
            "--shutdown-grace",
            type=float,
            default=float(_env("SHUTDOWN_GRACE") or 10),
            help="on SIGTERM, seconds to let calls in flight finish before stopping",
        )
        p.add_argument(
            "--max-event-bytes",
            type=int,
            default=int(_env("MAX_EVENT_BYTES") or DEFAULT_MAX_EVENT_BYTES),
            help="largest event the event API accepts, in bytes (at most 3 MiB)",
        )
        p.add_argument(
            "--max-request-bytes",
            type=int,
            default=int(_env("MAX_REQUEST_BYTES") or DEFAULT_MAX_REQUEST_BYTES),
            help="largest request (a batch of events) the event API accepts, in bytes",
        )
        p.add_argument("--log-level", default=_env("LOG_LEVEL") or "info")
        p.add_argument(
            "--no-ui",
            action="store_true",
            default=(_env("NO_UI") or "").lower() in ("1", "true", "yes", "on"),
            help="serve no dashboard (the APIs only)",
        )

    dev = sub.add_parser("dev", help="development server: open, no keys")
    common(dev)
    start = sub.add_parser("start", help="self-hosted server: event and signing keys required")
    common(start)
    start.add_argument(
        "--event-key", action="append", default=_env_list("EVENT_KEY"), help="repeatable"
    )
    start.add_argument("--signing-key", default=_env("SIGNING_KEY"))
    start.add_argument("--signing-key-fallback", default=_env("SIGNING_KEY_FALLBACK"))
    start.add_argument(
        "--dashboard-key",
        default=_env("DASHBOARD_KEY"),
        help="a key that opens the dashboard and the REST API (the signing key does too)",
    )
    mig = sub.add_parser("migrate", help="apply database migrations and exit")
    doc = sub.add_parser(
        "doctor",
        help="list unfinished runs that nothing will move on (exit 1 if there are any)",
    )
    for p in (mig, doc):
        p.add_argument("--sqlite-dir", default=_env("SQLITE_DIR") or "./.outlast")
        p.add_argument("--postgres-uri", default=_env("POSTGRES_URI"))
        p.add_argument("--postgres-schema", default=_env("POSTGRES_SCHEMA"))
    return parser


def make_store(sqlite_dir: str, postgres_uri: str | None, schema: str | None = None) -> Store:
    if postgres_uri:
        from outlast.store.postgres import PostgresStore

        return PostgresStore(postgres_uri, schema=schema)
    from outlast.store.sqlite import SQLiteStore

    return SQLiteStore(Path(sqlite_dir) / "outlast.db")


def _check_limits(args: argparse.Namespace) -> str | None:
    if not 1024 <= args.max_event_bytes <= MAX_EVENT_BYTES_CAP:
        return f"--max-event-bytes must be from 1024 to {MAX_EVENT_BYTES_CAP} (3 MiB)"
    if not args.max_event_bytes <= args.max_request_bytes <= MAX_REQUEST_BYTES_CAP:
        return (
            f"--max-request-bytes must be from --max-event-bytes ({args.max_event_bytes}) "
            f"to {MAX_REQUEST_BYTES_CAP} (256 MiB)"
        )
    if args.queue_workers < 1:
        return "--queue-workers must be at least 1"
    if args.app_calls is not None and args.app_calls < 1:
        return "--app-calls must be at least 1"
    if not 0 <= args.shutdown_grace <= 3600:
        return "--shutdown-grace must be from 0 to 3600 seconds"
    if not 1 <= args.call_timeout <= MAX_CALL_TIMEOUT_S:
        return f"--call-timeout must be from 1 to {MAX_CALL_TIMEOUT_S} seconds"
    if args.retry_interval is not None and args.retry_interval <= 0:
        return "--retry-interval must be a positive number of seconds"
    if args.poll_interval < 0:
        return "--poll-interval must be 0 (off) or a positive number of seconds"
    return None


def _check_keys(args: argparse.Namespace) -> str | None:
    from outlast.protocol import signing

    if not args.event_key:
        return "outlast start needs at least one --event-key (or OUTLAST_EVENT_KEY)"
    if not args.signing_key:
        return "outlast start needs --signing-key (or OUTLAST_SIGNING_KEY)"
    for key in filter(None, (args.signing_key, args.signing_key_fallback)):
        body = signing.strip_prefix(key)
        if len(body) < 16:
            return "a signing key must be at least 16 characters (hex, e.g. openssl rand -hex 32)"
    if args.dashboard_key is not None and len(args.dashboard_key.strip()) < MIN_DASHBOARD_KEY:
        return (
            f"--dashboard-key must be at least {MIN_DASHBOARD_KEY} characters "
            "(e.g. openssl rand -hex 16)"
        )
    return None


async def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    dev = args.command == "dev"
    signing_key = None if dev else args.signing_key
    settings = ServerSettings(
        dev=dev,
        event_keys=tuple(getattr(args, "event_key", ()) or ()),
        signing_key=signing_key,
        signing_key_fallback=None if dev else args.signing_key_fallback,
        max_event_bytes=args.max_event_bytes,
        max_request_bytes=args.max_request_bytes,
        sdk_urls=tuple(args.sdk_url or ()),
        poll_interval_s=args.poll_interval,
        dashboard_key=None if dev or not args.dashboard_key else args.dashboard_key.strip(),
        ui=not args.no_ui,
    )
    store = make_store(args.sqlite_dir, args.postgres_uri, args.postgres_schema)
    engine = Engine(
        store,
        EngineConfig(
            server_kind=ServerKind.DEV if dev else ServerKind.CLOUD,
            signing_key=signing_key,
            retry_interval_ms=int(args.retry_interval * 1000) if args.retry_interval else None,
            max_inflight=args.queue_workers,
            max_app_calls=args.app_calls,
            call_timeout_s=args.call_timeout,
            shutdown_grace_s=args.shutdown_grace,
        ),
    )
    app = create_app(engine, settings)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        timeout_graceful_shutdown=5,
    )
    where = "PostgreSQL" if args.postgres_uri else f"SQLite in {args.sqlite_dir}"
    log.info(
        "outlast %s on http://%s:%d (%s)",
        args.command,
        args.host,
        args.port,
        where,
    )
    # What is loaded by now lives as long as the process: frozen, the collector's full
    # passes no longer walk it (they paused requests for tens of milliseconds).
    gc.collect()
    gc.freeze()
    await uvicorn.Server(config).serve()


async def _migrate(args: argparse.Namespace) -> None:
    store = make_store(args.sqlite_dir, args.postgres_uri, args.postgres_schema)
    await store.open()
    await store.close()
    log.info("migrations applied")


async def _doctor(args: argparse.Namespace) -> int:
    """Print the runs that are not finished and have nothing that could move them on: no
    queue item (call, retry, timer) and no wait. A healthy database has none."""
    store = make_store(args.sqlite_dir, args.postgres_uri, args.postgres_schema)
    try:
        await store.open(readonly=True)
    except Exception as exc:
        print(f"outlast doctor: cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        async with store.read() as r:
            stuck = await r.stuck_runs()
    finally:
        await store.close()
    for run in stuck:
        print(f"stuck: run {run.id} of {run.function_id} is {run.status.value}, nothing moves it")
    print(f"{len(stuck)} stuck run{'s' if len(stuck) != 1 else ''}")
    return 1 if stuck else 0


def _run_fast(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # Windows: the standard loop
        asyncio.run(main)
        return
    uvloop.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    level = getattr(args, "log_level", "info").upper()
    logging.basicConfig(level=level, handlers=[handler])
    # asyncpg's pool logs a traceback each time it fails to reconnect while PostgreSQL is
    # away; the server says that once per interval itself (store.failures).
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
    problem = None
    if args.command in ("dev", "start"):
        problem = _check_limits(args)
    if args.command == "start" and problem is None:
        problem = _check_keys(args)
    if problem:
        print(f"outlast: {problem}", file=sys.stderr)
        return 2
    try:
        if args.command == "migrate":
            asyncio.run(_migrate(args))
        elif args.command == "doctor":
            return asyncio.run(_doctor(args))
        else:
            # uvicorn's own loop setting does not apply to a server started inside a
            # running loop: choose the loop here (uvloop roughly halves the cost of each
            # socket write and wake-up, which every call and query pays).
            _run_fast(_serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
