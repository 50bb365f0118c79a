"""A Flask app serving synchronous functions (run with ``flask --app ... run``)."""

from __future__ import annotations

import flask

import outlast.flask
from tests.acceptance.apps.sync_functions import FUNCTIONS, client

app = flask.Flask(__name__)
outlast.flask.serve(app, client, FUNCTIONS, url_prefix="/api/outlast")
