"""What every API endpoint shares: pagination, one error body shape, the errors it raises and
the download content negotiation. The organization a request acts in is accounts.scoping's
(api_actor).

Every error answers ``{"error": {"status": <int>, "code": <str>, "detail": <str>, "fields":
{...}}}`` so a label's tooling can handle all of them the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def _flatten(fields: Any, where: str = "") -> list[str]:
    """Field errors as "where: message" lines ("mapping.artist: ..."), nested errors included."""
    if isinstance(fields, dict):
        lines = []
        for key, value in fields.items():
            name = "" if key in ("non_field_errors", "detail") else str(key)
            lines += _flatten(value, f"{where}.{name}" if where and name else where or name)
        return lines
    if isinstance(fields, list):
        lines = []
        for i, value in enumerate(fields):
            if isinstance(value, dict | list):
                lines += _flatten(value, f"{where}[{i}]" if where else f"[{i}]")
            else:
                lines += _flatten(value, where)
        return lines
    return [f"{where}: {fields}" if where else str(fields)]


# A service the request needs is not answering (the database, the broker or cache's Redis): a
# 503 the client may retry, in the standard body, never the site's HTML error page.
OUTAGE_DETAIL = (
    "A service this request needs (the database or the queue) is not answering. Nothing was "
    "changed; try again in a minute."
)
SERVER_ERROR_DETAIL = "Something went wrong on our side; it has been logged. Try again later."


def error_body(status_code: int, code: str, detail: str) -> dict[str, Any]:
    return {"error": {"status": status_code, "code": code, "detail": detail, "fields": {}}}


def outage_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean a backing service is down rather than a bug."""
    from django.db import DatabaseError, InterfaceError
    from kombu.exceptions import OperationalError as BrokerError

    from config.throttling import CACHE_ERRORS

    return (DatabaseError, InterfaceError, BrokerError, *CACHE_ERRORS)


def unexpected_error(exc: BaseException | None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for an exception that is no API error: 503 with Retry-After for
    an outage, else 500. The API's handler and the site's 500 handler (config.errors, for
    errors outside DRF, which Django has logged already) both answer with it."""
    if exc is not None and isinstance(exc, outage_errors()):
        return 503, error_body(503, "unavailable", OUTAGE_DETAIL), {"Retry-After": "30"}
    return 500, error_body(500, "server_error", SERVER_ERROR_DETAIL), {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        # Not an API error: an outage or a bug, answered in the documented error body (the
        # transaction of the request, if any, is rolled back).
        set_rollback()
        status_code, body, headers = unexpected_error(exc)
        if status_code == 503:
            logger.warning("API request failed, a service is down: %r", exc, exc_info=exc)
        else:
            logger.error("API request failed", exc_info=exc)
        return Response(body, status=status_code, headers=headers)
    data = response.data
    fields: dict[str, Any] = {}
    if isinstance(data, dict) and "detail" in data and not isinstance(data["detail"], dict | list):
        detail = str(data["detail"])
        code = getattr(data["detail"], "code", "error")
    elif isinstance(data, dict):
        fields = data
        lines = _flatten(data)
        detail = "; ".join(lines[:5]) if lines else "Some fields are not valid."
        code = "invalid"
    else:
        detail = "; ".join(str(item) for item in data) if isinstance(data, list) else str(data)
        code = "invalid"
    response.data = {
        "error": {"status": response.status_code, "code": code, "detail": detail, "fields": fields}
    }
    return response


# --- the error body in the schema ------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status, repeated")
    code = serializers.CharField(help_text="A stable, machine-readable code (not_found, invalid..)")
    detail = serializers.CharField(help_text="What went wrong and what to do, for a person")
    # A field named like Serializer's own `fields`: the serializer metaclass moves declared fields
    # out of the class attributes, so the two do not clash (djangorestframework-stubs cannot tell).
    fields = serializers.DictField(  # type: ignore[assignment]
        help_text="Per input field (dotted path for nested ones), its messages; empty otherwise"
    )


class ErrorBodySerializer(serializers.Serializer):
    error = ErrorSerializer()


_ERROR_TEXT = {
    400: "The input is not valid: `detail` says what and `fields` where.",
    401: "No credentials, or an invalid or revoked API token.",
    403: "Your role in this organization does not allow this.",
    404: "Not found (or it belongs to another organization).",
    409: "Not possible in the object's current state.",
    413: "The upload is larger than the most one upload may be.",
    429: "Too many requests: wait the number of seconds `detail` gives.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error statuses an endpoint may answer (401 always)."""
    return {
        code: OpenApiResponse(ErrorBodySerializer, description=_ERROR_TEXT[code])
        for code in sorted({401, *codes})
    }


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The personal API tokens in the schema: ``Authorization: Bearer tw_...``."""

    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tw_<prefix>_<secret>",
            "description": "A personal API token, created on the account's API tokens page. "
            "It acts in the organization it was created for.",
        }


# --- errors the API raises -------------------------------------------------------------------


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Not possible in the current state."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is too large."
    default_code = "too_large"


# --- content negotiation for downloads -------------------------------------------------------


class DownloadNegotiation(DefaultContentNegotiation):
    """Downloads answer their own file type whatever Accept says; their errors are JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type
