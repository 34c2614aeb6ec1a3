"""Public dataset search: the page (htmx-enhanced, works without JavaScript), its suggestions
fragment and its API. Open to anyone, throttled per client (settings: ``search_anon`` and
``search_user`` rates, and ``search_suggest`` for the as-you-type suggestions)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from config.api import error_responses
from config.throttling import FailOpenMixin, throttle_wait
from matcher.search.selectors import (
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    SearchQueryError,
    SearchResult,
    dataset_search,
    search_suggest,
)

PAGE_LIMIT = 10  # tracks shown per dataset on the page


class SearchAnonThrottle(FailOpenMixin, AnonRateThrottle):
    scope = "search_anon"


class SearchUserThrottle(FailOpenMixin, UserRateThrottle):
    """Signed-in users and API tokens: a higher rate, counted per user. Anonymous requests are
    left to SearchAnonThrottle."""

    scope = "search_user"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


class SearchSuggestThrottle(FailOpenMixin, SimpleRateThrottle):
    """Suggestions come at every pause in typing: their own, higher rate per client."""

    scope = "search_suggest"

    def get_rate(self) -> str | None:
        rates = getattr(settings, "REST_FRAMEWORK", {}).get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope, "300/minute")

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        ident = user.pk if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _too_many(request: HttpRequest, wait: float) -> HttpResponse:
    seconds = max(1, round(wait))
    htmx = bool(getattr(request, "htmx", False))
    response = render(
        request,
        "matcher/_search_results.html" if htmx else "matcher/search.html",
        {"throttled": seconds, "max_chars": MAX_QUERY_CHARS},
        # htmx swaps nothing on an error status: its requests get the message with a 200
        status=200 if htmx else 429,
    )
    response["Retry-After"] = str(seconds)
    return response


def search(request: HttpRequest) -> HttpResponse:
    """GET /search/?artist=..&title=..: the full page, or only the results for htmx."""
    artist = request.GET.get("artist", "")
    title = request.GET.get("title", "")
    context: dict[str, Any] = {"artist": artist, "title": title, "max_chars": MAX_QUERY_CHARS}
    status = 200
    if artist.strip() or title.strip():
        wait = throttle_wait(request, [SearchAnonThrottle(), SearchUserThrottle()])
        if wait is not None:
            return _too_many(request, wait)
        try:
            context["result"] = dataset_search(artist=artist, title=title, limit=PAGE_LIMIT)
        except SearchQueryError as exc:
            context["error"] = str(exc)
            context["error_field"] = exc.field
            status = 400
    if getattr(request, "htmx", False):
        # htmx swaps nothing on an error status: the fragment carries the message instead
        return render(request, "matcher/_search_results.html", context)
    return render(request, "matcher/search.html", context, status=status)


def search_suggest_view(request: HttpRequest) -> HttpResponse:
    """GET /search/suggest/?field=artist&q=bey (or the field's own parameter, as htmx sends
    it): a list of links that search for each suggestion; JSON when asked for."""
    field_name = request.GET.get("field", "artist")
    q = request.GET.get("q", request.GET.get(field_name, ""))
    wants_json = "application/json" in request.headers.get("Accept", "")
    wait = throttle_wait(request, [SearchSuggestThrottle()])
    if wait is not None:
        if wants_json:
            body = {"error": {"status": 429, "code": "throttled", "fields": {}}}
            body["error"]["detail"] = f"Too many requests: try again in {round(wait)} seconds."
            return JsonResponse(body, status=429)
        return HttpResponse(status=429)
    try:
        suggestions = search_suggest(q=q, field_name=field_name)
    except SearchQueryError as exc:
        if wants_json:
            body = {"error": {"status": 400, "code": "invalid", "detail": str(exc)}}
            body["error"]["fields"] = {exc.field: [str(exc)]}
            return JsonResponse(body, status=400)
        suggestions = []
    if wants_json:
        return JsonResponse(
            {
                "field": field_name,
                "suggestions": [{"text": s.text, "tracks": s.tracks} for s in suggestions],
            }
        )
    other = "title" if field_name == "artist" else "artist"
    return render(
        request,
        "matcher/_search_suggestions.html",
        {
            "suggestions": suggestions,
            "field": field_name,
            "other_field": other,
            "other_value": request.GET.get(other, ""),
        },
    )


# --- API --------------------------------------------------------------------------------------


class SearchHitSerializer(serializers.Serializer):
    track_id = serializers.CharField(help_text="The dataset's own id of the track")
    artist = serializers.CharField()
    title = serializers.CharField()
    album = serializers.CharField()
    duration_s = serializers.FloatField(allow_null=True)
    url = serializers.CharField(help_text="The track's page at its source; may be empty")
    source_file = serializers.CharField(help_text="The dataset file the row came from")
    source_row = serializers.IntegerField(help_text="Its row (or line) in that file")
    score = serializers.IntegerField(help_text="Similarity to the query, 0-100")


class SearchGroupSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    source_url = serializers.CharField(help_text="Where the dataset is published")
    count = serializers.IntegerField(help_text="Matching tracks in this dataset")
    hits = SearchHitSerializer(many=True, help_text="The best of them, at most `limit`")


class SearchTermSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="A normalized key the tracks carry")
    display = serializers.CharField(help_text="One published spelling of it")
    tracks = serializers.IntegerField()
    score = serializers.FloatField(help_text="Similarity to what was typed, 0-100")


class SearchOutputSerializer(serializers.Serializer):
    artist = serializers.CharField()
    title = serializers.CharField()
    total = serializers.IntegerField(help_text="Matching tracks, all datasets")
    message = serializers.CharField(help_text="Set when nothing was searched or found")
    artist_terms = SearchTermSerializer(many=True, help_text="Artist keys searched, best first")
    title_terms = SearchTermSerializer(many=True, help_text="Title keys searched, best first")
    datasets = SearchGroupSerializer(many=True)


class SearchApi(APIView):
    """Search the datasets by artist and/or title: fuzzy, accent-insensitive, per dataset."""

    permission_classes = [AllowAny]
    throttle_classes = [SearchAnonThrottle, SearchUserThrottle]

    class InputSerializer(serializers.Serializer):
        artist = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=MAX_QUERY_CHARS,
            default="",
            trim_whitespace=True,
        )
        title = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=MAX_QUERY_CHARS,
            default="",
            trim_whitespace=True,
        )
        limit = serializers.IntegerField(
            required=False, min_value=1, max_value=MAX_LIMIT, default=10
        )

    @extend_schema(
        operation_id="search_datasets",
        summary="Search the datasets",
        description=(
            "Tracks of the datasets' current versions whose artist and/or title resemble the "
            "query, grouped per dataset with counts. Accents, case and punctuation are ignored "
            "and one typo is forgiven. Open to anyone; throttled per client (429 with "
            "Retry-After). An empty query is not an error: `message` says what to type."
        ),
        parameters=[
            OpenApiParameter("artist", str, description=f"At most {MAX_QUERY_CHARS} characters"),
            OpenApiParameter("title", str, description=f"At most {MAX_QUERY_CHARS} characters"),
            OpenApiParameter(
                "limit", int, description=f"Tracks listed per dataset (1-{MAX_LIMIT})"
            ),
        ],
        responses={200: SearchOutputSerializer, **error_responses(400, 429)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            result = dataset_search(**params.validated_data)
        except SearchQueryError as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from exc
        return Response(SearchOutputSerializer(search_result_data(result)).data)


def search_result_data(result: SearchResult) -> dict[str, Any]:
    def term(t: Any) -> dict[str, Any]:
        return {"key": t.key, "display": t.display, "tracks": t.tracks, "score": round(t.score, 1)}

    return {
        "artist": result.artist,
        "title": result.title,
        "total": result.total,
        "message": result.message,
        "artist_terms": [term(t) for t in result.artist_terms],
        "title_terms": [term(t) for t in result.title_terms],
        "datasets": [
            {
                "slug": g.slug,
                "name": g.name,
                "source_url": g.source_url,
                "count": g.count,
                "hits": [
                    {
                        "track_id": h.track_id,
                        "artist": h.artist,
                        "title": h.title,
                        "album": h.album,
                        "duration_s": h.duration_s,
                        "url": h.url,
                        "source_file": h.source_file,
                        "source_row": h.source_row,
                        "score": h.score,
                    }
                    for h in g.hits
                ],
            }
            for g in result.groups
        ],
    }
