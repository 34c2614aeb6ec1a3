"""The OpenAPI 3 schema and its documentation page."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.urls import reverse
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

OPERATIONS = {
    "datasets_list",
    "datasets_retrieve",
    "catalogs_list",
    "catalogs_upload",
    "catalogs_retrieve",
    "catalogs_destroy",
    "uploads_retrieve",
    "uploads_discard",
    "uploads_mapping_retrieve",
    "uploads_mapping_confirm",
    "runs_list",
    "runs_create",
    "runs_retrieve",
    "runs_cancel",
    "runs_rerun",
    "runs_report",
    "runs_matches",
    "runs_verdicts",
    "runs_report_csv",
    "runs_report_xlsx",
    "runs_evidence_pack",
    "matches_evidence",
    "matches_verdict",
}


def _schema(client) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(reverse("api-schema"))
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_is_valid_openapi_3_with_every_endpoint(client):
    schema = _schema(client)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    operations = {op["operationId"] for item in schema["paths"].values() for op in item.values()}
    assert operations >= OPERATIONS


def test_the_schema_documents_token_auth_and_the_error_body(client):
    schema = _schema(client)
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"status", "code", "detail", "fields"}
    run = schema["paths"]["/api/runs/{id}/"]["get"]["responses"]
    assert run["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_downloads_are_documented_as_files(client):
    paths = _schema(client)["paths"]
    csv = paths["/api/runs/{id}/report.csv"]["get"]["responses"]["200"]["content"]
    assert csv["text/csv"]["schema"] == {"type": "string", "format": "binary"}
    assert (
        "application/zip"
        in paths["/api/runs/{id}/evidence.zip"]["get"]["responses"]["200"]["content"]
    )
    assert "text/html" in paths["/api/runs/{id}/report.html"]["get"]["responses"]["200"]["content"]


def test_lists_are_documented_as_pages(client):
    paths = _schema(client)["paths"]
    ok = paths["/api/runs/{id}/matches/"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/PaginatedMatchList")
    names = {p["name"] for p in paths["/api/runs/{id}/matches/"]["get"]["parameters"]}
    assert {"page", "page_size", "dataset", "kind", "review", "conf_min", "q"} <= names


def test_the_management_command_validates_the_schema_without_warnings(tmp_path: Path):
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/runs/{id}/matches/" in out.read_text()


def test_the_documentation_page_loads_everything_from_our_own_static_files(client):
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "cdn" not in page.lower()
    assert "https://" not in page
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert f"/static/vendor/swagger-ui/{name}" in page
        assert finders.find(f"vendor/swagger-ui/{name}"), name
    # The init script comes from this same page with ?script (the Content-Security-Policy
    # allows no inline script): it points Swagger UI at our schema.
    assert '<script src="/api/docs/?script="></script>' in page
    script = client.get(reverse("api-docs"), {"script": ""}).content.decode()
    assert reverse("api-schema") in script
    assert "https://" not in script
