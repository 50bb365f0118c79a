"""Serve functions from a Flask app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import flask

from outlast.sdk.client import Client
from outlast.sdk.function import Function
from outlast.sdk.serve.core import HttpRequest, ServeHandler

logger = logging.getLogger(__name__)


def serve(
    app: flask.Flask,
    client: Client,
    functions: Sequence[Function],
    url_prefix: str = "/api/outlast",
) -> None:
    """Add a GET/POST/PUT route at ``url_prefix`` serving ``functions``.

    Each request runs the async core in its own event loop (``asyncio.run``).
    """
    handler = ServeHandler(client, functions, framework="flask")

    def outlast_endpoint() -> flask.Response:
        request = HttpRequest(
            method=flask.request.method,
            url=flask.request.url,
            headers=dict(flask.request.headers.items()),
            body=flask.request.get_data(cache=False),
        )
        response = asyncio.run(handler.handle_in_new_loop(request))
        return flask.Response(response.body, status=response.status, headers=response.headers)

    app.add_url_rule(
        url_prefix,
        endpoint="outlast_serve",
        view_func=outlast_endpoint,
        methods=["GET", "POST", "PUT"],
    )
