"""Request throttles shared by the API and the pages, and what happens when their cache is down.

The counters live in the cache (Redis in production, settings.CACHES). A throttle is a guard,
not the service: when the cache does not answer, a request is let through and the outage is
logged, so the public search and the uploads keep working while Redis restarts (a Redis outage
used to answer 500 on /search/ and /api/search/).
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

try:  # the error Django's Redis cache raises; absent where redis-py is not installed
    from redis.exceptions import RedisError as _RedisError
except ImportError:  # pragma: no cover - redis-py is a dependency of the production stack
    _RedisError = ConnectionError  # type: ignore[misc,assignment]

# What a cache that is down raises: redis-py's errors, and the socket's own.
CACHE_ERRORS: tuple[type[BaseException], ...] = (_RedisError, ConnectionError, TimeoutError)


class FailOpenMixin:
    """allow_request that lets the request through when the counters' cache is down."""

    scope: str | None

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except CACHE_ERRORS as exc:
            logger.warning(
                "throttle %s not applied: the cache is not answering (%s: %s)",
                self.scope,
                exc.__class__.__name__,
                exc,
            )
            return True


class UploadThrottle(FailOpenMixin, UserRateThrottle):
    """Catalog uploads per user (THROTTLE_UPLOADS, 30/hour by default), one budget for the web
    form and the API together: both count under the same cache key."""

    scope = "uploads"


def throttle_wait(request: HttpRequest, throttles: list[SimpleRateThrottle]) -> float | None:
    """Seconds to wait when one of `throttles` refuses a page's request, else None.

    The API's throttles on a page's plain Django request: they read only its user and address
    (META), never the DRF view, which a page does not have.
    """
    for throttle in throttles:
        if not throttle.allow_request(request, None):  # type: ignore[arg-type]
            return throttle.wait() or 1.0
    return None
