"""The site's 500 handler: the API's error body under /api/, the HTML page elsewhere.

An exception outside a DRF view (in a middleware, say, when the database is down) would
otherwise answer an API client with the HTML error page instead of the documented JSON body.
"""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import server_error as html_server_error

from config.api import OUTAGE_DETAIL, SERVER_ERROR_DETAIL, error_body, outage_errors


def server_error(request: HttpRequest) -> HttpResponse:
    if not request.path.startswith("/api/"):
        return html_server_error(request)
    exc = sys.exc_info()[1]  # Django calls this handler while handling the exception
    if exc is not None and isinstance(exc, outage_errors()):
        response = JsonResponse(error_body(503, "unavailable", OUTAGE_DETAIL), status=503)
        response["Retry-After"] = "30"
        return response
    return JsonResponse(error_body(500, "server_error", SERVER_ERROR_DETAIL), status=500)
