"""The upload flow through the web client: upload, check the mapping against a preview, confirm."""

from __future__ import annotations

import csv
import html
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from matcher.datasets.importer import dataset_import
from matcher.models import MatchRun, RowResult
from tests.factories import PASSWORD, xlsx_bytes
from uploads.models import Catalog, CatalogRow, PendingUpload, SavedMapping
from uploads.parsing import OLE2_MAGIC

CATALOGS = Path(__file__).resolve().parent.parent / "data" / "catalogs"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def csv_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def upload(client: Client, name: str, data: bytes, **extra: Any) -> Any:
    f = io.BytesIO(data)
    f.name = name
    return client.post(reverse("catalog-upload"), {"file": f}, **extra)


def text(response: Any) -> str:
    """The page as a reader sees it (entities such as &quot; decoded)."""
    return html.unescape(response.content.decode())


def mapping_url(pending: PendingUpload) -> str:
    return reverse("catalog-upload-mapping", args=[pending.pk])


def confirm_data(sheet: str, mapping: dict[str, int], action: str = "confirm") -> dict[str, Any]:
    data: dict[str, Any] = {"sheet": sheet, "shown_sheet": sheet, "action": action}
    for field in ("artist", "title", "version", "isrc", "upc", "album", "label", "duration"):
        data[f"map_{field}"] = "" if mapping.get(field) is None else str(mapping[field])
    return data


def stored_files() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "catalogs"
    return sorted(folder.iterdir()) if folder.exists() else []


def selected(body: str, field: str) -> str:
    """The value of the selected option of the map_<field> select."""
    start = body.index(f'name="map_{field}"')
    end = body.index("</select>", start)
    chunk = body[start:end]
    marker = chunk.find(" selected")
    if marker < 0:
        return ""
    option = chunk.rfind('value="', 0, marker)
    return chunk[option + 7 : chunk.index('"', option + 7)]


@pytest.fixture
def alice_client(client: Client, alice: Any) -> Client:
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    return client


TITLED_SHEET = [
    ["Northern Lights Records - catalog export"],
    [],
    ["Track Artist", "Track Title", "ISRC", "Duration"],
    ["Aurora Vale", "Glass Harbour", "GB-XYZ-24-00001", "3:45"],
    ["Aurora Vale", "Paper Moons", "not-an-isrc", "4:01"],
    ["", "Untitled Demo", "", ""],
]


def test_an_xlsx_upload_with_title_rows_shows_its_mapping_and_preview_before_storing_rows(
    alice_client: Client,
) -> None:
    response = upload(alice_client, "export.xlsx", xlsx_bytes({"Catalog": TITLED_SHEET}))
    pending = PendingUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == mapping_url(pending)
    assert Catalog.objects.count() == 0, "nothing counts as a catalog before confirmation"

    page = alice_client.get(mapping_url(pending))
    body = text(page)
    assert page.status_code == 200
    assert "header is on row 3, with 3 rows under it" in body
    assert selected(body, "artist") == "0"
    assert selected(body, "title") == "1"
    assert selected(body, "isrc") == "2"
    assert selected(body, "album") == ""
    # The preview shows sheet row numbers, the mapped columns highlighted, and row problems.
    assert "<td>4</td>" in body and "<td>6</td>" in body
    assert '<td class="mapped">Glass Harbour</td>' in body
    assert '<span class="row-warning">ISRC (C): ISRC "not-an-isrc" ignored' in body
    assert "The artist is empty" in body
    assert '<select name="sheet"' not in body, "one sheet: no sheet picker"


def test_confirming_a_csv_stores_the_rows_starts_the_run_and_goes_to_its_page(
    alice_client: Client, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = csv_bytes([["Artist", "Title"], ["The Beatles", "Yesterday"], ["Nobody", "Nothing"]])
    upload(alice_client, "catalog.csv", data)
    pending = PendingUpload.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            mapping_url(pending), confirm_data(pending.default_sheet, {"artist": 0, "title": 1})
        )
    run = MatchRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("run-detail", args=[run.pk])
    catalog = Catalog.objects.get()
    assert catalog.row_count == 2 and catalog.mapping == {"artist": 0, "title": 1}
    assert not PendingUpload.objects.exists()
    assert (Path(settings.MEDIA_ROOT) / "catalogs" / catalog.stored_file).is_file()
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE
    assert RowResult.objects.filter(run=run, status="matched").count() == 1


def test_with_workers_the_confirmation_answers_at_once_and_the_run_page_says_rows_are_stored(
    alice_client: Client, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    upload(alice_client, "catalog.csv", csv_bytes([["Artist", "Title"], ["A", "B"]]))
    pending = PendingUpload.objects.get()
    # The storing task is queued on commit and not run here, as when a worker will take it.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = alice_client.post(
            mapping_url(pending),
            confirm_data(pending.default_sheet, {"artist": 0, "title": 1}),
            follow=True,
        )
    assert len(queued) == 1
    assert response.status_code == 200
    assert "Storing the catalog's rows; matching starts when they are in." in text(response)
    catalog = Catalog.objects.get()
    assert catalog.status == Catalog.Status.STORING and not CatalogRow.objects.exists()
    assert MatchRun.objects.get().status == MatchRun.Status.QUEUED


def test_the_user_can_pick_the_second_sheet_and_its_rows_are_the_ones_stored(
    alice_client: Client, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    workbook = xlsx_bytes(
        {
            "2023": [["Artist", "Title"], ["Old Band", "Old Song"]],
            "2024": [["Label copy"], ["Performer", "Song", "Mix"], ["New Band", "New Song", "Dub"]],
        }
    )
    upload(alice_client, "two.xlsx", workbook)
    pending = PendingUpload.objects.get()
    assert pending.default_sheet == "2023"
    body = text(alice_client.get(mapping_url(pending)))
    assert '<select name="sheet"' in body and "Old Song" in body

    # Picking the other sheet shows it (its own headers and guess) instead of confirming.
    switch = confirm_data("2023", {"artist": 0, "title": 1}) | {"sheet": "2024"}
    response = alice_client.post(mapping_url(pending), switch)
    body = text(response)
    assert response.status_code == 200
    assert 'Now showing sheet "2024"' in body
    assert "New Song" in body and "Old Song" not in body
    assert selected(body, "version") == "2"
    assert not Catalog.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            mapping_url(pending), confirm_data("2024", {"artist": 0, "title": 1, "version": 2})
        )
    assert response.status_code == 302
    catalog = Catalog.objects.get()
    assert catalog.sheet_name == "2024" and catalog.header_row == 2
    row = CatalogRow.objects.get(catalog=catalog)
    assert (row.row_number, row.artist, row.title, row.version) == (
        3,
        "New Band",
        "New Song",
        "Dub",
    )


def test_a_changed_mapping_decides_which_columns_the_rows_are_read_from(
    alice_client: Client, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = csv_bytes(
        [
            ["Track Artist", "Album Artist", "Title", "Mix"],
            ["Guest feat. Star", "Star", "Song A", "Radio Edit"],
        ]
    )
    upload(alice_client, "compilation.csv", data)
    pending = PendingUpload.objects.get()
    body = text(alice_client.get(mapping_url(pending)))
    assert selected(body, "artist") == "0"
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            mapping_url(pending), confirm_data(pending.default_sheet, {"artist": 1, "title": 2})
        )
    assert response.status_code == 302
    row = CatalogRow.objects.get()
    assert (row.artist, row.title, row.version) == ("Star", "Song A", "")


def test_update_preview_shows_the_new_highlight_and_the_problems_of_an_incomplete_mapping(
    alice_client: Client,
) -> None:
    upload(alice_client, "c.csv", csv_bytes([["Artist", "Title", "Notes"], ["A", "B", "x"]]))
    pending = PendingUpload.objects.get()
    data = confirm_data(pending.default_sheet, {"title": 2}, action="preview")
    response = alice_client.post(mapping_url(pending), data)
    body = text(response)
    assert response.status_code == 400
    assert "Choose the column that holds the artist" in body
    assert '<td class="mapped">x</td>' in body and '<td class="mapped">B</td>' not in body
    assert "Artist (no column chosen): The artist is empty" in body
    assert not Catalog.objects.exists() and PendingUpload.objects.count() == 1


def test_one_column_cannot_hold_two_fields(alice_client: Client, generic_dataset: Any) -> None:
    upload(alice_client, "c.csv", csv_bytes([["Artist", "Title"], ["A", "B"]]))
    pending = PendingUpload.objects.get()
    data = confirm_data(pending.default_sheet, {"artist": 0, "title": 1, "album": 1})
    response = alice_client.post(mapping_url(pending), data)
    assert response.status_code == 400
    assert 'Column B ("Title") is already chosen for the title' in text(response)
    assert not Catalog.objects.exists()


def test_the_last_confirmed_mapping_is_offered_when_the_headers_match(
    alice_client: Client, generic_dataset: Any
) -> None:
    headers = ["Main Artist", "Performer", "Track Title"]
    upload(alice_client, "jan.csv", csv_bytes([headers, ["Orchestra", "Soloist", "Adagio"]]))
    pending = PendingUpload.objects.get()
    assert selected(text(alice_client.get(mapping_url(pending))), "artist") == "0"
    alice_client.post(
        mapping_url(pending), confirm_data(pending.default_sheet, {"artist": 1, "title": 2})
    )
    saved = SavedMapping.objects.get()
    assert saved.columns == {"artist": "Performer", "title": "Track Title"}

    # Same headers in another order: the remembered choice follows the header text.
    reordered = ["track title", "Main Artist", "PERFORMER"]
    upload(alice_client, "feb.csv", csv_bytes([reordered, ["Largo", "Orchestra", "Soloist"]]))
    pending = PendingUpload.objects.get()
    body = text(alice_client.get(mapping_url(pending)))
    assert selected(body, "artist") == "2" and selected(body, "title") == "0"
    assert "confirmed them last time (for “jan.csv”)" in body

    # Different headers: the guess again.
    upload(alice_client, "mar.csv", csv_bytes([["Artist", "Title"], ["A", "B"]]))
    newest = PendingUpload.objects.order_by("-created_at").first()
    assert newest is not None
    body = text(alice_client.get(mapping_url(newest)))
    assert selected(body, "artist") == "0" and "confirmed them last time" not in body


def _bomb() -> bytes:
    data = io.BytesIO(xlsx_bytes({"S": [["Artist", "Title"], ["A", "B"]]}))
    with zipfile.ZipFile(data, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\x00" * (50 * 1024 * 1024))
    return data.getvalue()


ENCRYPTED = OLE2_MAGIC + b"\x00" * 2000 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("catalog.xlsx", lambda: PNG, "PNG image"),
        ("catalog.csv", lambda: b"Year,Label\n1999,X\n", 'no column for "artist" and "title"'),
        ("catalog.csv", lambda: b"", '"catalog.csv" is empty. Choose the catalog file again'),
        ("catalog.csv", lambda: b"Artist,Title\n", "no catalog rows under it"),
        ("catalog.xlsx", lambda: xlsx_bytes({"S": [["Artist", "Title"]]}), "no catalog rows"),
        ("catalog.xlsx", _bomb, "refused"),
        ("catalog.xlsx", lambda: ENCRYPTED, "password-protected"),
    ],
    ids=[
        "png-named-xlsx",
        "no-artist-or-title-column",
        "empty-file",
        "header-only-csv",
        "header-only-xlsx",
        "zip-bomb",
        "encrypted-workbook",
    ],
)
def test_a_bad_upload_gets_a_clear_message_and_stores_nothing(
    alice_client: Client, name: str, make: Any, expected: str
) -> None:
    response = upload(alice_client, name, make())
    body = text(response)
    assert response.status_code == 400
    assert expected in body
    assert 'class="error" role="alert"' in body
    assert not PendingUpload.objects.exists()
    assert not Catalog.objects.exists()
    assert stored_files() == []


def test_a_file_over_the_size_cap_is_refused_while_it_is_copied(
    alice_client: Client, settings: Any
) -> None:
    settings.CATALOG_MAX_BYTES = 2000
    rows = [["Artist", "Title"]] + [[f"Artist {i}", f"Song {i}"] for i in range(200)]
    response = upload(alice_client, "big.csv", csv_bytes(rows))
    assert response.status_code == 400
    assert "is larger than 1.95 KB, the most one upload may be" in text(response)
    assert not PendingUpload.objects.exists() and stored_files() == []


def test_a_request_declaring_more_than_the_cap_is_refused_before_its_body_is_read(
    alice_client: Client, settings: Any
) -> None:
    settings.CATALOG_MAX_BYTES = 2000
    data = csv_bytes([["Artist", "Title"], ["A", "B"]])
    # The declared length is far above the cap; the view must answer from it alone (reading the
    # body would fail: the test client's body is shorter than declared).
    response = upload(alice_client, "c.csv", data, CONTENT_LENGTH=str(10**9))
    assert response.status_code == 400
    assert "The file is larger than 1.95 KB" in text(response)
    assert not PendingUpload.objects.exists() and stored_files() == []


def test_a_file_over_the_row_cap_is_refused_at_upload(alice_client: Client, settings: Any) -> None:
    settings.CATALOG_MAX_ROWS = 5
    rows = [["Artist", "Title"]] + [[f"Artist {i}", f"Song {i}"] for i in range(6)]
    response = upload(alice_client, "long.csv", csv_bytes(rows))
    assert response.status_code == 400
    assert "has more than 5 rows" in text(response)
    assert not PendingUpload.objects.exists() and stored_files() == []


def test_a_reviewer_cannot_upload_nor_confirm(
    client: Client, alice: Any, rita: Any, generic_dataset: Any
) -> None:
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    upload(client, "c.csv", csv_bytes([["Artist", "Title"], ["A", "B"]]))
    pending = PendingUpload.objects.get()
    client.logout()
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    assert client.get(reverse("catalog-upload")).status_code == 403
    assert upload(client, "c.csv", csv_bytes([["Artist", "Title"], ["A", "B"]])).status_code == 403
    assert client.get(mapping_url(pending)).status_code == 403
    data = confirm_data(pending.default_sheet, {"artist": 0, "title": 1})
    assert client.post(mapping_url(pending), data).status_code == 403
    assert PendingUpload.objects.count() == 1 and not Catalog.objects.exists()


def test_an_outsider_gets_404_on_another_labels_pending_upload(
    client: Client, alice: Any, charlie: Any, generic_dataset: Any
) -> None:
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    upload(client, "c.csv", csv_bytes([["Artist", "Title"], ["A", "B"]]))
    pending = PendingUpload.objects.get()
    client.logout()
    client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    assert client.get(mapping_url(pending)).status_code == 404
    data = confirm_data(pending.default_sheet, {"artist": 0, "title": 1})
    assert client.post(mapping_url(pending), data).status_code == 404
    discard = data | {"action": "discard"}
    assert client.post(mapping_url(pending), discard).status_code == 404
    assert PendingUpload.objects.count() == 1 and not Catalog.objects.exists()


def test_a_teammate_can_confirm_a_pending_upload_of_the_label(
    client: Client, alice: Any, bob: Any, generic_dataset: Any
) -> None:
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    upload(client, "c.csv", csv_bytes([["Artist", "Title"], ["A", "B"]]))
    pending = PendingUpload.objects.get()
    client.logout()
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    data = confirm_data(pending.default_sheet, {"artist": 0, "title": 1})
    assert client.post(mapping_url(pending), data).status_code == 302
    run = MatchRun.objects.get()
    assert run.created_by == bob and run.catalog.uploaded_by == alice


def test_discarding_a_pending_upload_removes_it_and_its_file(alice_client: Client) -> None:
    upload(alice_client, "c.csv", csv_bytes([["Artist", "Title"], ["A", "B"]]))
    pending = PendingUpload.objects.get()
    assert len(stored_files()) == 1
    response = alice_client.post(mapping_url(pending), {"action": "discard"})
    assert response.status_code == 302 and response["Location"] == reverse("catalog-upload")
    assert not PendingUpload.objects.exists() and stored_files() == []


def test_confirming_without_any_dataset_keeps_the_pending_upload_and_says_why(
    alice_client: Client,
) -> None:
    upload(alice_client, "c.csv", csv_bytes([["Artist", "Title"], ["A", "B"]]))
    pending = PendingUpload.objects.get()
    data = confirm_data(pending.default_sheet, {"artist": 0, "title": 1})
    response = alice_client.post(mapping_url(pending), data)
    assert response.status_code == 400
    assert "No dataset has been imported yet" in text(response)
    assert not Catalog.objects.exists() and not CatalogRow.objects.exists()
    assert PendingUpload.objects.count() == 1 and len(stored_files()) == 1


def _dataset_from_excerpt(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    """A small generic dataset holding three recordings of the real excerpt (by ISRC or by name)
    and one recording that is not in it."""
    path = tmp_path / "tracks.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["track_id", "artist", "title", "album", "duration_s", "isrc", "url"])
        writer.writerow(["t1", rows[0]["Artist"], rows[0]["Track"], "", "", rows[0]["ISRC"], ""])
        writer.writerow(["t2", rows[1]["Artist"], rows[1]["Track"], "", "", "", ""])
        writer.writerow(["t3", rows[2]["Artist"].upper(), rows[2]["Track"], "", "", "", ""])
        writer.writerow(["t4", "Somebody Else", "A Song Nobody Uploaded", "", "", "", ""])
    dataset_import(slug="excerpt-tracks", paths=[path], file_format="generic-csv")


def test_a_real_export_is_accounted_for_row_by_row(
    alice_client: Client, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    raw = (CATALOGS / "most_streamed_2024_excerpt.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    _dataset_from_excerpt(tmp_path, rows)
    response = upload(alice_client, "Most Streamed Spotify Songs 2024.csv", raw)
    assert response.status_code == 302
    pending = PendingUpload.objects.get()
    assert pending.row_count == len(rows) == 14
    body = text(alice_client.get(mapping_url(pending)))
    assert selected(body, "artist") == "2" and selected(body, "title") == "0"
    assert selected(body, "isrc") == "4" and selected(body, "album") == "1"
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            mapping_url(pending),
            confirm_data(pending.default_sheet, {"title": 0, "album": 1, "artist": 2, "isrc": 4}),
        )
    assert response.status_code == 302
    run = MatchRun.objects.get()
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE
    statuses = list(RowResult.objects.filter(run=run).values_list("status", flat=True))
    matched, unmatched = statuses.count("matched"), statuses.count("unmatched")
    invalid = statuses.count("invalid")
    assert matched >= 3 and unmatched >= 1
    assert matched + unmatched + invalid == run.catalog.row_count == 14
    assert run.catalog.mojibake_repaired >= 0
    page = text(alice_client.get(response["Location"]))
    assert f"{matched} of 14 catalog rows found in at least one dataset" in page


def test_the_mapping_page_of_a_confirmed_upload_leads_to_its_run(
    client: Client, alice: Any, bob: Any, charlie: Any, generic_dataset: Any
) -> None:
    # Back after confirming used to answer "No PendingUpload matches the given query" (issue 17).
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    upload(client, "c.csv", csv_bytes([["Artist", "Title"], ["A", "B"]]))
    pending = PendingUpload.objects.get()
    address = mapping_url(pending)
    client.post(address, confirm_data(pending.default_sheet, {"artist": 0, "title": 1}))
    run = MatchRun.objects.get()
    assert run.catalog.upload_id == pending.pk

    response = client.get(address, follow=True)
    assert response.redirect_chain[-1][0] == reverse("run-detail", args=[run.pk])
    assert "c.csv was already confirmed" in text(response)
    # A teammate's bookmark leads there too; another label's member still gets a 404.
    client.logout()
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    assert client.get(address)["Location"] == reverse("run-detail", args=[run.pk])
    client.logout()
    client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    assert client.get(address).status_code == 404


def test_a_byte_identical_re_upload_is_pointed_out_on_the_mapping_page(
    alice_client: Client, charlie: Any, generic_dataset: Any
) -> None:
    data = csv_bytes([["Artist", "Title"], ["The Beatles", "Yesterday"]])
    upload(alice_client, "first.csv", data)
    first = PendingUpload.objects.get()
    assert "byte-identical" not in text(alice_client.get(mapping_url(first)))
    alice_client.post(
        mapping_url(first), confirm_data(first.default_sheet, {"artist": 0, "title": 1})
    )
    catalog = Catalog.objects.get()

    upload(alice_client, "again.csv", data)
    again = PendingUpload.objects.get()
    body = text(alice_client.get(mapping_url(again)))
    assert "This file is byte-identical to a catalog already uploaded" in body
    assert f'href="{reverse("catalog-detail", args=[catalog.pk])}">first.csv</a>' in body
    # A different file is not; nor is the same file in another label (nothing leaks across).
    upload(alice_client, "other.csv", data + b"Nobody,Nothing\r\n")
    other = PendingUpload.objects.exclude(pk=again.pk).get()
    assert "byte-identical" not in text(alice_client.get(mapping_url(other)))
    alice_client.logout()
    alice_client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    upload(alice_client, "theirs.csv", data)
    theirs = PendingUpload.objects.get(name="theirs.csv")
    assert "byte-identical" not in text(alice_client.get(mapping_url(theirs)))
