"""REST API routes, mounted at /api/ (the dataset search, /api/search/, is in matcher.search.urls).

The OpenAPI 3 schema is at /api/schema/ and its documentation page at /api/docs/.
"""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.http import HttpRequest, JsonResponse
from django.templatetags.static import static
from django.urls import path, re_path
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from matcher import apis
from uploads import apis as upload_apis


# The page's own inline <style> (drf-spectacular's template); its script comes from this same
# URL with ?script (the split view), so scripts stay "self" only, as on every other page.
@method_decorator(csp_update({"style-src": [UNSAFE_INLINE]}), name="dispatch")
class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI served from our own static files (matcher/static/vendor/swagger-ui): the
    service runs offline, so nothing comes from a CDN."""

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return static(f"vendor/swagger-ui/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return static("vendor/swagger-ui/favicon-32x32.png")


@csrf_exempt  # it changes nothing; a POST must get this 404, not the CSRF failure page
def api_not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under /api/: the standard error body rather than the site's 404 page."""
    detail = "There is no such API endpoint; the list is at /api/docs/."
    error = {"status": 404, "code": "not_found", "detail": detail, "fields": {}}
    return JsonResponse({"error": error}, status=404)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("datasets/", apis.DatasetListApi.as_view(), name="api-datasets"),
    path("datasets/<slug:slug>/", apis.DatasetDetailApi.as_view(), name="api-dataset-detail"),
    path("catalogs/", upload_apis.CatalogListApi.as_view(), name="api-catalogs"),
    path("catalogs/<int:pk>/", apis.CatalogDetailApi.as_view(), name="api-catalog-detail"),
    path("uploads/<uuid:pk>/", upload_apis.PendingUploadApi.as_view(), name="api-upload"),
    path(
        "uploads/<uuid:pk>/mapping/",
        apis.UploadMappingApi.as_view(),
        name="api-upload-mapping",
    ),
    path("runs/", apis.RunListApi.as_view(), name="api-runs"),
    path("runs/<int:pk>/", apis.RunDetailApi.as_view(), name="api-run-detail"),
    path("runs/<int:pk>/cancel/", apis.RunCancelApi.as_view(), name="api-run-cancel"),
    path("runs/<int:pk>/rerun/", apis.RunRerunApi.as_view(), name="api-run-rerun"),
    path("runs/<int:pk>/report/", apis.RunReportApi.as_view(), name="api-run-report"),
    path("runs/<int:pk>/matches/", apis.RunMatchListApi.as_view(), name="api-run-matches"),
    path("runs/<int:pk>/verdicts/", apis.RunBulkVerdictApi.as_view(), name="api-run-verdicts"),
    path("runs/<int:pk>/report.csv", apis.RunReportCsvApi.as_view(), name="api-run-report-csv"),
    path("runs/<int:pk>/report.xlsx", apis.RunReportXlsxApi.as_view(), name="api-run-report-xlsx"),
    path("runs/<int:pk>/report.html", apis.RunReportHtmlApi.as_view(), name="api-run-report-html"),
    path(
        "runs/<int:pk>/evidence.zip",
        apis.RunEvidencePackApi.as_view(),
        name="api-run-evidence-pack",
    ),
    path("matches/<int:pk>/", apis.MatchEvidenceApi.as_view(), name="api-match-detail"),
    path("matches/<int:pk>/verdict/", apis.MatchVerdictApi.as_view(), name="api-match-verdict"),
    # Last: an unknown path (or an id of the wrong type) under /api/. Only paths ending in a
    # slash, so that a missing slash still gets Django's redirect (APPEND_SLASH).
    re_path(r"^(?:.*/)?$", api_not_found, name="api-not-found"),
]
