"""Serving functions over HTTP: a framework-agnostic core and thin adapters."""

from outlast.sdk.serve.core import HttpRequest, HttpResponse, ServeHandler

__all__ = ["HttpRequest", "HttpResponse", "ServeHandler"]
