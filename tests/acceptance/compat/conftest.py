"""Deployments for the compatibility suite: a real ``outlast`` server with three real apps —
Outlast's SDK, the official PyPI ``inngest`` SDK and the official npm ``inngest`` SDK.

``dev``: ``outlast dev`` on SQLite, the apps synced by the server itself (``-u``), the apps
pointed at it with ``INNGEST_DEV=<url>``. ``start``: ``outlast start`` on PostgreSQL with an
event key and a prefixed signing key, the apps in production mode (``INNGEST_DEV=0``,
``INNGEST_BASE_URL``, ``INNGEST_SIGNING_KEY``, ``INNGEST_EVENT_KEY``), synced by a PUT to
the app as the Inngest tooling does.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from outlast.protocol.signing import hash_key
from tests.acceptance.compat.scenarios import Target
from tests.acceptance.fake_llm import FakeLLM
from tests.acceptance.harness import App, Server, free_port, wait_for
from tests.conftest import POSTGRES_URI, drop_schema, new_schema, require_postgres

JS_DIR = Path(__file__).parent / "apps" / "official_js"
PY_APPS = {
    "ol": "tests.acceptance.compat.apps.outlast_app:app",
    "py": "tests.acceptance.compat.apps.official_py:app",
}
SERVE_PATH = "/api/inngest"


def ensure_node_app() -> None:
    """Install the JS app's dependencies from the npm registry (once; ``npm ci`` again when
    the lock file changes). Without Node.js the suite is skipped, except in CI."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        if os.environ.get("CI"):
            pytest.fail("Node.js and npm are needed for the official JS SDK tests (CI=true)")
        pytest.skip("Node.js / npm not installed: the official JS SDK app cannot run")
    lock = JS_DIR / "package-lock.json"
    stamp = JS_DIR / "node_modules" / ".package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"


def app_for(client: str, tmp: Path, env: dict[str, str], port: int) -> App:
    if client == "js":
        cmd = ["node", str(JS_DIR / "app.mjs"), "{port}"]
        return App(tmp, "", env=env, path=SERVE_PATH, port=port, cmd=cmd)
    return App(tmp, PY_APPS[client], env=env, path=SERVE_PATH, port=port)


def signing_key() -> str:
    return f"signkey-test-{secrets.token_hex(32)}"


@dataclass
class Deployment:
    mode: str
    server: Server
    apps: dict[str, App]
    token: str | None = None
    procs: list[App | Server] = field(default_factory=list)

    def target(self, client: str) -> Target:
        origin = self.apps[client].url.removesuffix(SERVE_PATH)
        return Target(client, self.server, origin, self.token)

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()


def deploy_dev(tmp: Path, llm: FakeLLM) -> Deployment:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"INNGEST_DEV": url, "FAKE_LLM_URL": llm.url}
    apps = {c: app_for(c, tmp, env, free_port()) for c in ("ol", "py", "js")}
    for app in apps.values():
        app.start()
    urls = [arg for app in apps.values() for arg in ("-u", app.url)]
    server = Server(tmp, mode="dev", port=port, args=urls)
    deployment = Deployment("dev", server, apps, procs=[*apps.values(), server])
    try:
        server.start()
        wait_for(lambda: synced(server), 30, f"discovery to sync the apps\n{server.log()}")
    except BaseException:
        deployment.stop()
        raise
    return deployment


def synced(server: Server) -> bool:
    """Discovery syncs in the background: wait for all three apps' functions."""
    functions = httpx.get(f"{server.url}/dev", timeout=5).json()["functions"]
    return {f["app_id"] for f in functions} == {f"compat-{c}" for c in ("ol", "py", "js")}


def deploy_start(tmp: Path, schema: str, llm: FakeLLM) -> Deployment:
    key = signing_key()
    event_key = secrets.token_hex(16)
    server = Server(
        tmp,
        mode="start",
        postgres_uri=POSTGRES_URI,
        postgres_schema=schema,
        args=["--event-key", event_key, "--signing-key", key],
    )
    server.start()
    env = {
        "INNGEST_DEV": "0",
        "INNGEST_BASE_URL": server.url,
        "INNGEST_SIGNING_KEY": key,
        "INNGEST_EVENT_KEY": event_key,
        "FAKE_LLM_URL": llm.url,
    }
    apps = {c: app_for(c, tmp, env, free_port()) for c in ("ol", "py", "js")}
    deployment = Deployment("start", server, apps, hash_key(key), [server, *apps.values()])
    try:
        for app in apps.values():
            app.start()
            app.sync(server)
    except BaseException:
        deployment.stop()
        raise
    return deployment


# ``start`` runs on PostgreSQL: its tests carry the ``postgres`` marker.
@pytest.fixture(scope="module", params=["dev", pytest.param("start", marks=pytest.mark.postgres)])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    ensure_node_app()
    tmp = tmp_path_factory.mktemp(f"compat-{request.param}")
    # The model provider the apps' step.ai.infer calls go to (through the server).
    llm = FakeLLM().start()
    try:
        if request.param == "dev":
            dep = deploy_dev(tmp, llm)
            yield dep
            dep.stop()
            return
        require_postgres()
        schema = new_schema()
        try:
            dep = deploy_start(tmp, schema, llm)
            yield dep
            dep.stop()
        finally:
            asyncio.run(drop_schema(schema))
    finally:
        llm.stop()
