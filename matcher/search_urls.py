"""Public dataset search: the page, its suggestions and its API."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
