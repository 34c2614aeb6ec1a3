"""REST API routes, mounted at /api/."""

from django.urls import path

from matcher import apis

urlpatterns = [
    path("datasets/", apis.DatasetListApi.as_view(), name="api-datasets"),
    path("runs/<int:pk>/", apis.RunDetailApi.as_view(), name="api-run-detail"),
]
