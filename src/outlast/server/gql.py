"""``POST /v0/gql``: the GraphQL endpoint the official SDKs' test helpers poll (protocol.md §5).

GraphQL over HTTP: a JSON body ``{query, variables?, operationName?}``; the answer is
``{"data": ..., "errors": [...]}``. A body that is not such a request is an HTTP 400 (a 401
without the signing key in self-hosted mode, as for the REST API); a query that does not parse
or validate, or fails while it runs, is answered 200 with its GraphQL ``errors``, as
GraphQL-over-HTTP asks for ``application/json`` responses. Nothing a client sends is a 500.
The schema and its resolvers are in ``gql_schema``.
"""

from __future__ import annotations

import logging
from inspect import isawaitable
from typing import Any

from graphql import (
    ExecutionResult,
    FormattedExecutionResult,
    GraphQLError,
    execute,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import Response

from outlast.engine.runtime import Engine
from outlast.server.auth import signing_key_problem
from outlast.server.gql_schema import SCHEMA, Loader
from outlast.server.responses import MAX_ERROR_CHARS, BadBody, json_response, json_type, read_json
from outlast.server.settings import ServerSettings

log = logging.getLogger(__name__)

#: A query is text; the SDKs' are well under a kilobyte.
MAX_REQUEST_BYTES = 1024 * 1024
#: Bounds the work one query can ask for before anything runs (graphql-core counts tokens).
MAX_QUERY_TOKENS = 10_000


def refused(message: str, status: int) -> Response:
    """An HTTP-level refusal, readable both as a GraphQL response and as this server's errors."""
    message = message[:MAX_ERROR_CHARS]
    body = {"errors": [{"message": message}], "error": message, "status": status}
    return json_response(body, status)


def _request_problem(body: Any) -> str | None:
    """Why ``body`` is not a GraphQL-over-HTTP request, or None."""
    if not isinstance(body, dict):
        return f"request body must be a JSON object with a 'query', got {json_type(body)}"
    if not isinstance(body.get("query"), str) or not body["query"].strip():
        return "'query' must be a non-empty string holding a GraphQL document"
    if not isinstance(body.get("variables"), dict | None):
        return f"'variables' must be an object or null, got {json_type(body['variables'])}"
    if not isinstance(body.get("operationName"), str | None):
        return f"'operationName' must be a string or null, got {json_type(body['operationName'])}"
    return None


def _formatted(result: ExecutionResult) -> FormattedExecutionResult:
    """The response body; a resolver's unexpected exception is logged, not shown."""
    body = result.formatted
    for error, shown in zip(result.errors or [], body.get("errors", []), strict=True):
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            log.error("graphql resolver failed at %s", error.path, exc_info=original)
            shown["message"] = "internal error while resolving this field"
    return body


async def answer(
    loader: Loader, query: str, variables: dict[str, Any] | None, operation: str | None
) -> FormattedExecutionResult:
    """Run one GraphQL request against the schema; the JSON body to send back."""
    try:
        document = parse(query, max_tokens=MAX_QUERY_TOKENS)
    except GraphQLError as exc:
        return {"errors": [exc.formatted]}  # not run: no "data" (GraphQL over HTTP)
    problems = validate(SCHEMA, document)
    if problems:
        return {"errors": [p.formatted for p in problems]}
    result = execute(
        SCHEMA,
        document,
        context_value=loader,
        variable_values=variables,
        operation_name=operation,
    )
    if isawaitable(result):
        result = await result
    return _formatted(result)


async def graphql_endpoint(request: Request) -> Response:
    settings: ServerSettings = request.app.state.settings
    engine: Engine = request.app.state.engine
    denied = signing_key_problem(request, settings)
    if denied is not None:
        return refused(denied, 401)
    try:
        body = await read_json(request, MAX_REQUEST_BYTES)
    except BadBody as exc:
        return refused(exc.message, exc.status)
    problem = _request_problem(body)
    if problem is not None:
        return refused(problem, 400)
    loader = Loader(engine.store)
    return json_response(
        await answer(loader, body["query"], body.get("variables"), body.get("operationName"))
    )
