"""Serve Outlast functions from Django.

``path("api/outlast", outlast.django.serve(client, functions))``
"""

from outlast.sdk.serve.django import serve

__all__ = ["serve"]
