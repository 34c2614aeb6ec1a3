"""The upload page. The mapping page and each stored catalog's page are routed by matcher
(matcher/urls.py): they show what matching adds (datasets, runs)."""

from django.urls import path

from uploads import views

urlpatterns = [
    path("catalogs/upload/", views.catalog_upload, name="catalog-upload"),
]
