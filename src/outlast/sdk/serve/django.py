"""Serve functions from a Django project."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from django.http import HttpRequest as DjangoRequest  # type: ignore[import-untyped]
from django.http import HttpResponse as DjangoResponse
from django.views.decorators.csrf import csrf_exempt  # type: ignore[import-untyped]

from outlast.sdk.client import Client
from outlast.sdk.function import Function
from outlast.sdk.serve.core import HttpRequest, ServeHandler

logger = logging.getLogger(__name__)


def serve(
    client: Client, functions: Sequence[Function]
) -> Callable[[DjangoRequest], DjangoResponse]:
    """A CSRF-exempt view serving ``functions``: ``path("api/outlast", outlast.django.serve(...))``.

    Each request runs the async core in its own event loop (``asyncio.run``).
    """
    handler = ServeHandler(client, functions, framework="django")

    def outlast_view(request: DjangoRequest) -> DjangoResponse:
        core_request = HttpRequest(
            method=request.method or "GET",
            url=request.build_absolute_uri(),
            headers=dict(request.headers.items()),
            body=request.body,
        )
        response = asyncio.run(handler.handle_in_new_loop(core_request))
        return DjangoResponse(response.body, status=response.status, headers=response.headers)

    view: Callable[[DjangoRequest], DjangoResponse] = csrf_exempt(outlast_view)
    return view
