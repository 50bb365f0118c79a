"""A one-file Django project serving synchronous functions.

``python -m tests.acceptance.apps.django_app PORT`` runs Django's own server.
"""

from __future__ import annotations

import sys

import django
from django.conf import settings
from django.urls import path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="outlast-tests-only",
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()

import outlast.django  # noqa: E402 - needs configured settings
from tests.acceptance.apps.sync_functions import FUNCTIONS, client  # noqa: E402

urlpatterns = [path("api/outlast", outlast.django.serve(client, FUNCTIONS))]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "runserver", f"127.0.0.1:{sys.argv[1]}", "--noreload"])
