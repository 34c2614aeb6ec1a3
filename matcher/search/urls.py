"""Public dataset search: the page, its suggestions and its API."""

from django.urls import path

from matcher.search import views as search_views

urlpatterns = [
    path("search/", search_views.search, name="search"),
    path("search/suggest/", search_views.search_suggest_view, name="search-suggest"),
    path("api/search/", search_views.SearchApi.as_view(), name="api-search"),
]
