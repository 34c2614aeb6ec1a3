"""The whole journey over the API alone, as a label's tooling drives it: upload, confirm the
mapping, follow the run, read the report and matches, record a verdict, export."""

from __future__ import annotations

import io
import zipfile

from django.urls import reverse

from tests.api.conftest import SKELETON
from tests.factories import token_client


def test_upload_to_export_through_the_api(transactional_db, label, bob, rita):
    from matcher.datasets.importer import dataset_import

    dataset_import(
        slug="spotify-sample", paths=[SKELETON / "tracks_generic.csv"], file_format="generic-csv"
    )
    member = token_client(bob, label)
    reviewer = token_client(rita, label)

    datasets = member.get(reverse("api-datasets")).json()["results"]
    assert [d["slug"] for d in datasets] == ["spotify-sample"]

    f = io.BytesIO((SKELETON / "catalog.csv").read_bytes())
    f.name = "label-catalog.csv"
    uploaded = member.post(reverse("api-catalogs"), {"file": f}, format="multipart")
    assert uploaded.status_code == 201
    pending = uploaded.json()
    assert pending["mapping"]["artist"] == 0

    mapping = member.get(pending["mapping_url"]).json()
    confirmed = member.post(
        pending["mapping_url"],
        {"mapping": mapping["mapping"], "datasets": ["spotify-sample"]},
        format="json",
    )
    assert confirmed.status_code == 201, confirmed.json()
    run_id = confirmed.json()["run"]["id"]

    status = member.get(reverse("api-run-detail", args=[run_id])).json()
    assert status["status"] == "done"
    assert status["percent"] == 100

    report = reviewer.get(reverse("api-run-report", args=[run_id])).json()
    assert report["rows"] == 14
    assert report["matched"] > 0

    matches = reviewer.get(
        reverse("api-run-matches", args=[run_id]), {"kind": "exact", "page_size": 1}
    ).json()
    assert matches["count"] > 0
    match_id = matches["results"][0]["id"]
    evidence = reviewer.get(reverse("api-match-detail", args=[match_id])).json()
    assert evidence["match"]["kind"] == "exact"

    verdict = reviewer.post(
        reverse("api-match-verdict", args=[match_id]), {"value": "confirmed"}, format="json"
    )
    assert verdict.status_code == 200
    assert reviewer.get(reverse("api-run-report", args=[run_id])).json()["confirmed"] == 1

    csv_text = b"".join(
        reviewer.get(reverse("api-run-report-csv", args=[run_id])).streaming_content
    ).decode()
    assert ",confirmed,rita," in csv_text
    xlsx = reviewer.get(reverse("api-run-report-xlsx", args=[run_id]))
    assert b"".join(xlsx.streaming_content)[:2] == b"PK"
    pack = reviewer.get(reverse("api-run-evidence-pack", args=[run_id]))
    with zipfile.ZipFile(io.BytesIO(b"".join(pack.streaming_content))) as zf:
        assert any(name.startswith("evidence/") for name in zf.namelist())

    rerun = member.post(reverse("api-run-rerun", args=[run_id]))
    assert rerun.status_code == 201
    again = member.get(reverse("api-run-detail", args=[rerun.json()["id"]])).json()
    assert again["status"] == "done"
    carried = reviewer.get(
        reverse("api-run-matches", args=[again["id"]]), {"review": "confirmed"}
    ).json()
    assert carried["count"] == 1
