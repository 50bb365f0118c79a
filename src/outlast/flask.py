"""Serve Outlast functions from Flask: ``outlast.flask.serve(app, client, fns)``."""

from outlast.sdk.serve.flask import serve

__all__ = ["serve"]
