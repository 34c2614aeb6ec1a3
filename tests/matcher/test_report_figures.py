"""Every figure of a run's report agrees: the run page, the API, the CSV, the XLSX (Summary and
sheets) and the evidence pack, with each other and with counts taken from the rows here."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from collections import Counter

import openpyxl
from django.http import HttpRequest
from django.urls import reverse

from matcher.models import Match
from matcher.review import services as review
from tests.factories import (
    PASSWORD,
    CatalogFactory,
    CatalogRowFactory,
    dataset_with_tracks,
    finished_run,
    token_client,
)

# Row number -> (artist, title, row it duplicates or None); no artist: invalid.
ROWS: dict[int, tuple[str, str, int | None]] = {
    2: ("Aurora Lane", "Night Drive", None),  # found in alpha and in beta
    3: ("Aurora Lane", "Glass", None),  # two matches in alpha
    4: ("Kite Parade", "Open Water", None),  # one match in beta
    5: ("Kite Parade", "Salt", None),  # not found
    6: ("", "Untitled", None),  # invalid
    7: ("Aurora Lane", "Night Drive", 2),
    8: ("Aurora Lane", "Glass", 3),
    9: ("Kite Parade", "Salt", 5),  # a duplicate of a row not found
    10: ("Aurora Lane", "Night Drive", 2),
    11: ("", "Nameless", None),  # invalid
}
MATCHES = [
    (2, "alpha", "a-1", "exact", 100),
    (2, "beta", "b-1", "strong", 92),
    (3, "alpha", "a-2", "version", 80),
    (3, "alpha", "a-3", "version", 78),
    (4, "beta", "b-2", "possible", 76),
]
TRACKS = {
    "alpha": {
        "a-1": ("Aurora Lane", "Night Drive"),
        "a-2": ("Aurora Lane", "Glass (Live)"),
        "a-3": ("Aurora Lane", "Glass (Live at Home)"),
    },
    "beta": {
        "b-1": ("Aurora Lane", "Night Drive"),
        "b-2": ("Kite Parade", "Open Water (demo)"),
        "b-3": ("Kite Parade", "Open Waters"),
    },
}


def _expected() -> dict[str, object]:
    """The figures, counted from ROWS and MATCHES alone."""
    invalid = [n for n, (artist, _t, _d) in ROWS.items() if not artist]
    valid = [n for n in ROWS if n not in invalid]

    def source(n: int) -> int:
        return ROWS[n][2] or n

    def matches_of(n: int, slug: str = "") -> list[tuple[int, str, str, str, int]]:
        return [m for m in MATCHES if m[0] == source(n) and slug in ("", m[1])]

    found = [n for n in valid if matches_of(n)]
    per_dataset = {
        slug: {
            "found": len([n for n in found if matches_of(n, slug)]),
            "found_duplicates": len([n for n in found if matches_of(n, slug) and ROWS[n][2]]),
            "matches": len([m for m in MATCHES if m[1] == slug]),
            "match_lines": sum(len(matches_of(n, slug)) for n in found),
        }
        for slug in TRACKS
    }
    match_lines = sum(len(matches_of(n)) for n in found)
    return {
        "rows": len(ROWS),
        "matched": len(found),
        "found_duplicates": len([n for n in found if ROWS[n][2]]),
        "unmatched": len(valid) - len(found),
        "invalid": len(invalid),
        "unchecked": 0,
        "matches": len(MATCHES),
        "match_lines": match_lines,
        "lines": match_lines + len(ROWS) - len(found),
        "reviewed": 1,
        "confirmed": 1,
        # Row 2's alpha match is confirmed: rows 2, 7 and 10 have it.
        "confirmed_rows": len([n for n in found if source(n) == 2]),
        "datasets": per_dataset,
    }


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _by_id(body: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|dd)>', body, re.S)
    assert match, element_id
    return _text(match.group(1))


def test_every_report_figure_agrees_on_the_page_api_csv_xlsx_and_evidence_pack(
    label, alice, rita, client
):
    expected = _expected()
    assert expected["matched"] == 6 and expected["found_duplicates"] == 3, "the test's own sums"
    assert expected["matches"] == 5 and expected["match_lines"] == 11 and expected["lines"] == 15
    for slug, tracks in TRACKS.items():
        dataset_with_tracks(slug, tracks=tracks)
    catalog = CatalogFactory(
        organization=label,
        name="catalog.xlsx",
        stored_file="x",
        sha256="d" * 64,
        row_count=len(ROWS),
    )
    rows = {}
    for number, (artist, title, _original) in ROWS.items():
        rows[number] = CatalogRowFactory(
            catalog=catalog,
            row_number=number,
            artist=artist,
            title=title,
            status="invalid" if not artist else "valid",
            problems=[{"column": "Artist", "message": "empty"}] if not artist else [],
        )
    for number, (_a, _t, original) in ROWS.items():
        if original:
            rows[number].duplicate_of = rows[original]
            rows[number].save()
    run = finished_run(catalog, rows, MATCHES).run
    alpha_exact = Match.objects.get(run=run, catalog_row=rows[2], dataset__slug="alpha")
    review.verdict_record(match=alpha_exact, user=rita, value="confirmed")
    datasets = expected["datasets"]
    assert isinstance(datasets, dict)
    figures = {k: v for k, v in expected.items() if k != "datasets"}

    # The API: the report's figures, its matches, the run's rows.
    api = token_client(alice, label)
    report = api.get(f"/api/runs/{run.pk}/report/").json()
    assert {k: report[k] for k in figures} == figures
    assert {
        d["slug"]: {k: d[k] for k in ("found", "found_duplicates", "matches", "match_lines")}
        for d in report["datasets"]
    } == datasets
    assert {d["slug"]: d["confirmed"] for d in report["datasets"]} == {"alpha": 3, "beta": 0}
    assert report["headline"] == (
        "6 of 10 catalog rows found in at least one dataset (3 of them duplicates of an "
        "earlier row, reported with their original's matches); 2 not found; 2 invalid (not "
        "checked)."
    )
    # Matched rows by best kind: 2, 7, 10 exact; 3, 8 version; 4 possible.
    assert report["by_kind"] == {"exact": 3, "version": 2, "possible": 1}
    assert api.get(f"/api/runs/{run.pk}/").json()["total_rows"] == figures["rows"]
    assert api.get(f"/api/runs/{run.pk}/matches/").json()["count"] == figures["matches"]
    for slug, counts in datasets.items():
        listed = api.get(f"/api/runs/{run.pk}/matches/", {"dataset": slug}).json()["count"]
        assert listed == counts["matches"], slug

    # The run page: headline, per-dataset table, review and lines, the rows a filter keeps.
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    url = reverse("run-detail", args=[run.pk])
    body = client.get(url).content.decode()
    assert _by_id(body, "fig-headline") == report["headline"]
    assert _by_id(body, "fig-review") == (
        "1 of 5 matches reviewed, 4 not yet; 1 confirmed (3 catalog rows), 0 rejected, 0 unsure."
    )
    assert _by_id(body, "fig-lines") == (
        "11 match lines (5 matches, repeated on the lines of 3 duplicate rows), 15 lines in all."
    )
    table = body[body.index("Rows found per dataset") :]
    for d in report["datasets"]:
        cells = re.search(rf">{d['name']}</a>.*?</td>\s*<td>(.*?)</td>", table, re.S)
        assert cells, d["name"]
        n = d["found_duplicates"]
        note = f" ({n} of them {'a duplicate' if n == 1 else 'duplicates'} of an earlier row)"
        assert _text(cells.group(1)) == f"{d['found']} rows{note if n else ''}", d["slug"]
        assert f"{d['name']} — {d['found']} rows (" in body, "the chart's bar says the same"
        filtered = client.get(url, {"dataset": d["slug"]}).content.decode()
        assert _by_id(filtered, "row-count").startswith(f"{d['found']} rows match these filters")
    one = client.get(url, {"q": "Open Water"}).content.decode()
    assert _by_id(one, "row-count").startswith("1 row matches these filters")

    # The CSV: its lines, match lines, rows found, per dataset.
    response = client.get(reverse("run-report-csv", args=[run.pk]))
    csv_text = b"".join(response.streaming_content).decode()
    lines = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(lines) == figures["lines"]
    with_match = [line for line in lines if line["dataset"]]
    assert len(with_match) == figures["match_lines"]
    assert len({line["catalog_row"] for line in with_match}) == figures["matched"]
    assert Counter(line["status"] for line in lines if not line["dataset"]) == {
        "unmatched": figures["unmatched"],
        "invalid": figures["invalid"],
    }
    for slug, counts in datasets.items():
        mine = [line for line in with_match if line["dataset"] == slug]
        assert len(mine) == counts["match_lines"], slug
        assert len({line["catalog_row"] for line in mine}) == counts["found"], slug

    # The XLSX: Summary figures and dataset table, All rows and each dataset's sheet.
    response = client.get(reverse("run-report-xlsx", args=[run.pk]))
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    summary_rows = list(workbook["Summary"].iter_rows(values_only=True))
    assert report["headline"] in [r[0] for r in summary_rows]
    by_label = {r[0]: r[1] for r in summary_rows if r and r[0]}
    assert by_label["Catalog rows"] == figures["rows"]
    assert by_label["Rows found"] == figures["matched"]
    assert by_label["of them duplicates of an earlier row"] == figures["found_duplicates"]
    assert by_label["Rows not found"] == figures["unmatched"]
    assert by_label["Invalid rows (not checked)"] == figures["invalid"]
    assert by_label["Matches"] == figures["matches"]
    assert by_label["Match lines"] == figures["match_lines"]
    assert by_label["Report lines"] == figures["lines"]
    assert by_label["Rows with a confirmed match"] == figures["confirmed_rows"]
    header = next(r for r in summary_rows if r[0] == "Dataset")
    for d in report["datasets"]:
        row = dict(zip(header, next(r for r in summary_rows if r[0] == d["name"]), strict=True))
        assert row["Rows found in the dataset"] == datasets[d["slug"]]["found"]
        assert row["of them duplicates"] == datasets[d["slug"]]["found_duplicates"]
        assert row["Matches"] == datasets[d["slug"]]["matches"]
        assert row["Match lines"] == datasets[d["slug"]]["match_lines"]
        sheet = list(workbook[d["slug"]].iter_rows(values_only=True))[1:]
        assert len(sheet) == datasets[d["slug"]]["match_lines"], d["slug"]
    assert len(list(workbook["All rows"].iter_rows(values_only=True))) - 1 == figures["lines"]

    # The evidence pack: one document per match, the CSV's lines, the same figures.
    response = client.get(reverse("run-evidence-pack", args=[run.pk]))
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as pack:
        names = pack.namelist()
        manifest = json.loads(pack.read("manifest.json"))
        assert pack.read("report.csv").decode() == csv_text
    assert len([n for n in names if n.startswith("evidence/")]) == figures["matches"]
    assert {k: manifest["figures"][k] for k in figures} == figures
    assert manifest["figures"]["headline"] == report["headline"]
    assert {
        slug: {k: v for k, v in d.items() if k != "confirmed_rows"}
        for slug, d in manifest["figures"]["datasets"].items()
    } == datasets
