"""The site's 500 handler: the API's error body under /api/, the HTML page elsewhere.

An exception outside a DRF view (in a middleware, say, when the database is down) would
otherwise answer an API client with the HTML error page instead of the documented JSON body.
"""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import server_error as html_server_error

from config.api import unexpected_error


def server_error(request: HttpRequest) -> HttpResponse:
    if not request.path.startswith("/api/"):
        return html_server_error(request)
    # Django calls this handler while handling the exception.
    status_code, body, headers = unexpected_error(sys.exc_info()[1])
    return JsonResponse(body, status=status_code, headers=headers)
