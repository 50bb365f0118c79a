"""``POST /v1/checkpoint/{run_id}/async``: the JS SDK v4 saving steps it ran during a call
(``engine/checkpoint.py``). Authenticated like the REST API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from outlast.engine.checkpoint import CheckpointRefused
from outlast.engine.runtime import Engine
from outlast.protocol.ops import MAX_STEP_OUTPUT_BYTES
from outlast.server.responses import BadBody, error, json_response, read_json
from outlast.server.rest import api

#: Several step outputs of up to 4 MB each may come in one checkpoint.
MAX_CHECKPOINT_BYTES = 8 * MAX_STEP_OUTPUT_BYTES


@api
async def checkpoint_async(request: Request, engine: Engine) -> Response:
    try:
        body = await read_json(request, MAX_CHECKPOINT_BYTES, "checkpoint body")
    except BadBody as exc:
        return error(exc.message, exc.status)
    try:
        saved = await engine.checkpoint(request.path_params["run_id"], body)
    except CheckpointRefused as exc:
        return error(exc.message, exc.status)
    return json_response({"ok": True, "saved": saved})
