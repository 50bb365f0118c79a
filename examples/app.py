"""All examples served by one FastAPI app at ``/api/outlast``.

Run it with ``uvicorn examples.app:app --port 8000`` next to ``outlast dev -u
http://127.0.0.1:8000/api/outlast`` (``scripts/demo.sh`` does both).
"""

from __future__ import annotations

from fastapi import FastAPI

import outlast.asgi
from examples import campaigns, mailbox_sync, scheduled_actions, skill_jobs
from examples.client import client

functions = [
    *scheduled_actions.functions,
    *mailbox_sync.functions,
    *skill_jobs.functions,
    *campaigns.functions,
]

app = FastAPI(title="Outlast examples")
app.add_route("/api/outlast", outlast.asgi.serve(client, functions), methods=["GET", "POST", "PUT"])


@app.get("/")
def index() -> dict[str, object]:
    return {"functions": [f.full_id for f in functions]}
