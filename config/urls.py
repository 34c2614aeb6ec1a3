"""Top-level routes: each app keeps its own, the API lives under /api/."""

from django.contrib import admin
from django.urls import include, path

from config.health import healthz

handler500 = "config.errors.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("accounts.urls")),
    path("", include("uploads.urls")),
    path("", include("matcher.urls")),
    path("", include("matcher.search.urls")),
    path("api/", include("config.api_urls")),
    path("admin/", admin.site.urls),
]
