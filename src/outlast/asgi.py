"""Serve Outlast functions as an ASGI app.

``app.mount("/api/outlast", outlast.asgi.serve(client, functions))``
"""

from outlast.sdk.serve.asgi import OutlastASGI, serve

__all__ = ["OutlastASGI", "serve"]
