"""Catalog pages: the upload flow and each stored catalog."""

from django.urls import path

from uploads import views

urlpatterns = [
    path("catalogs/upload/", views.catalog_upload, name="catalog-upload"),
    path("catalogs/upload/<uuid:pk>/", views.catalog_upload_mapping, name="catalog-upload-mapping"),
    path("catalogs/<int:pk>/", views.catalog_detail, name="catalog-detail"),
]
