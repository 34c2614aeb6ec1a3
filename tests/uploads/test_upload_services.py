"""The upload services and selectors without the web layer: pending uploads, confirmation,
remembered mappings, purging, and the CLI's automatic mapping."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.conf import settings
from django.utils import timezone

from accounts.scoping import user_actor
from matcher.catalogs import catalog_upload_confirm
from matcher.models import MatchRun
from uploads.columns import mapping_from_headers, mapping_headers
from uploads.models import Catalog, CatalogRow, PendingUpload, SavedMapping
from uploads.selectors import (
    SheetChoice,
    offered_mapping,
    pending_sheets,
    pending_uploads_for,
    upload_preview,
)
from uploads.services import (
    UploadError,
    catalog_create,
    pending_upload_confirm,
    pending_upload_create,
    pending_uploads_purge,
    size_text,
)


def stored_files() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "catalogs"
    return sorted(folder.iterdir()) if folder.exists() else []


def csv_stream(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def test_mapping_headers_and_back_survive_a_reordered_header_row() -> None:
    columns = mapping_headers({"artist": 1, "title": 2}, ["Main Artist", "Performer", "Song"])
    assert columns == {"artist": "Performer", "title": "Song"}
    assert mapping_from_headers(columns, ["SONG", "performer", "Main Artist"]) == {
        "artist": 1,
        "title": 0,
    }


def test_a_remembered_mapping_is_not_applied_when_one_of_its_headers_is_missing() -> None:
    assert (
        mapping_from_headers({"artist": "Performer", "title": "Song"}, ["Song", "Artist"]) is None
    )
    assert mapping_from_headers({"nonsense": "Song"}, ["Song"]) is None


def test_offered_mapping_prefers_the_remembered_one_only_when_it_fits(label: Any) -> None:
    saved = SavedMapping.objects.create(
        organization=label, columns={"artist": "Performer", "title": "Song"}
    )
    fits = SheetChoice("S", 1, ("Artist", "Performer", "Song"), {"artist": 0, "title": 2})
    assert offered_mapping(saved=saved, sheet=fits) == ({"artist": 1, "title": 2}, True)
    other = SheetChoice("S", 1, ("Artist", "Title"), {"artist": 0, "title": 1})
    assert offered_mapping(saved=saved, sheet=other) == ({"artist": 0, "title": 1}, False)


def test_pending_upload_counts_rows_and_is_no_catalog(label: Any, alice: Any) -> None:
    pending = pending_upload_create(
        organization=label,
        stream=csv_stream("Artist,Title\nA,B\nC,D\n\nE,F\n"),
        filename="../../etc/c.csv",
        uploaded_by=alice,
    )
    assert pending.name == "c.csv", "no directory part of the client's name is kept"
    assert pending.row_count == 3 and pending.file_format == "csv"
    assert [s.headers for s in pending_sheets(pending)] == [("Artist", "Title")]
    assert not Catalog.objects.exists()
    assert [p.name for p in stored_files()] == [pending.stored_file]
    assert pending.stored_file.endswith(".upload") and "c.csv" not in pending.stored_file


def test_the_default_sheet_skips_a_header_only_sheet(label: Any, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "Template"
    first.append(["Artist", "Title"])
    second = workbook.create_sheet("Catalog")
    second.append(["Artist", "Title"])
    second.append(["A", "B"])
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    pending = pending_upload_create(organization=label, stream=out, filename="w.xlsx")
    assert pending.default_sheet == "Catalog" and pending.row_count == 1


def test_a_remembered_mapping_lets_a_file_through_whose_headers_the_guess_misses(
    label: Any,
) -> None:
    text = "Interpreter Name,Piece\nOrchestra,Adagio\n"
    with pytest.raises(UploadError, match='no column for "artist" and "title"'):
        pending_upload_create(organization=label, stream=csv_stream(text), filename="a.csv")
    SavedMapping.objects.create(
        organization=label, columns={"artist": "Interpreter Name", "title": "Piece"}
    )
    pending = pending_upload_create(organization=label, stream=csv_stream(text), filename="a.csv")
    sheet = pending_sheets(pending)[0]
    mapping, remembered = offered_mapping(saved=label.saved_mapping, sheet=sheet)
    assert remembered and mapping == {"artist": 0, "title": 1}


def test_confirm_stores_rows_remembers_the_mapping_and_removes_the_pending_upload(
    label: Any, alice: Any, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pending = pending_upload_create(
        organization=label,
        stream=csv_stream("Performer,Main Artist,Song\nSoloist,Orchestra,Adagio\n"),
        filename="c.csv",
        uploaded_by=alice,
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = catalog_upload_confirm(
            pending=pending,
            sheet=pending.default_sheet,
            mapping={"artist": 1, "title": 2},
            confirmed_by=alice,
        )
    catalog = Catalog.objects.get(pk=run.catalog_id)
    assert catalog.status == Catalog.Status.READY and catalog.row_count == 1
    row = CatalogRow.objects.get(catalog=catalog)
    assert (row.artist, row.title) == ("Orchestra", "Adagio")
    assert catalog.stored_file == pending.stored_file
    assert not PendingUpload.objects.exists()
    saved = SavedMapping.objects.get(organization=label)
    assert saved.columns == {"artist": "Main Artist", "title": "Song"}
    assert saved.source_name == "c.csv" and saved.updated_by == alice


def test_a_mapping_that_does_not_fit_the_file_is_refused_at_confirmation_with_nothing_created(
    label: Any, generic_dataset: Any
) -> None:
    pending = pending_upload_create(
        organization=label, stream=csv_stream("Artist,Title\nA,B\n"), filename="c.csv"
    )
    with pytest.raises(UploadError, match='puts "album" in column 7'):
        pending_upload_confirm(
            pending=pending,
            sheet=pending.default_sheet,
            mapping={"artist": 0, "title": 1, "album": 7},
        )
    assert not Catalog.objects.exists() and not SavedMapping.objects.exists()
    assert PendingUpload.objects.filter(pk=pending.pk).exists()
    assert [p.name for p in stored_files()] == [pending.stored_file]


def test_a_catalog_found_bad_while_its_rows_are_stored_is_failed_with_no_rows_and_says_why(
    label: Any, settings: Any, generic_dataset: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pending = pending_upload_create(
        organization=label, stream=csv_stream("Artist,Title\nA,B\nC,D\nE,F\n"), filename="c.csv"
    )
    settings.CATALOG_MAX_ROWS = 2
    with django_capture_on_commit_callbacks(execute=True):
        run = catalog_upload_confirm(
            pending=pending, sheet=pending.default_sheet, mapping={"artist": 0, "title": 1}
        )
    catalog = Catalog.objects.get()
    assert catalog.status == Catalog.Status.FAILED
    assert "more than 2 rows" in catalog.error
    assert catalog.row_count == 0 and not CatalogRow.objects.exists()
    run.refresh_from_db()
    assert run.status == MatchRun.Status.FAILED
    assert "more than 2 rows" in run.error
    assert stored_files() == [], "the file of a failed catalog is removed"


def test_preview_reads_only_the_first_rows_with_their_problems_and_warnings(label: Any) -> None:
    lines = ["Artist,Title,ISRC"] + [f"A{i},T{i},{'bad' if i == 2 else ''}" for i in range(30)]
    pending = pending_upload_create(
        organization=label, stream=csv_stream("\n".join(lines) + "\n"), filename="c.csv"
    )
    sheet = pending_sheets(pending)[0]
    preview = upload_preview(
        pending=pending, sheet=sheet, mapping={"artist": 0, "title": 1, "isrc": 2}, limit=5
    )
    assert [r.row_number for r in preview.rows] == [2, 3, 4, 5, 6]
    assert preview.rows[0].cells == ["A0", "T0", ""]
    assert preview.rows[2].problems == [], "a bad ISRC does not make the row invalid"
    assert preview.rows[2].warnings == [
        'ISRC (C): ISRC "bad" ignored: not a valid ISRC (12 characters: country, registrant, '
        "year, number)"
    ]
    assert preview.rows[1].warnings == []
    assert [h[2] for h in preview.headers] == ["artist", "title", "isrc"]


def test_pending_uploads_are_scoped_to_the_users_organizations(
    label: Any, other_label: Any, alice: Any, charlie: Any
) -> None:
    mine = pending_upload_create(
        organization=label, stream=csv_stream("Artist,Title\nA,B\n"), filename="c.csv"
    )
    assert list(pending_uploads_for(user_actor(alice))) == [mine]
    assert list(pending_uploads_for(user_actor(charlie))) == []


def test_purge_removes_stale_pending_uploads_and_their_files_only(label: Any) -> None:
    old = pending_upload_create(
        organization=label, stream=csv_stream("Artist,Title\nA,B\n"), filename="old.csv"
    )
    fresh = pending_upload_create(
        organization=label, stream=csv_stream("Artist,Title\nC,D\n"), filename="new.csv"
    )
    PendingUpload.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    assert pending_uploads_purge(older_than=dt.timedelta(days=1)) == 1
    assert list(PendingUpload.objects.all()) == [fresh]
    assert [p.name for p in stored_files()] == [fresh.stored_file]


def test_the_cli_path_keeps_the_automatic_mapping_whatever_was_remembered(label: Any) -> None:
    SavedMapping.objects.create(
        organization=label, columns={"artist": "Main Artist", "title": "Track Title"}
    )
    catalog = catalog_create(
        organization=label,
        stream=csv_stream("Track Artist,Main Artist,Track Title\nGuest,Host,Song\n"),
        filename="c.csv",
    )
    assert catalog.mapping == {"artist": 0, "title": 2}
    assert catalog.status == Catalog.Status.READY, "the CLI stores the rows at once"
    assert CatalogRow.objects.get(catalog=catalog).artist == "Guest"


def test_size_text_reads_as_a_person_would_write_it() -> None:
    assert size_text(100 * 1024 * 1024) == "100 MB"
    assert size_text(2000) == "1.95 KB"
    assert size_text(512 * 1024) == "512 KB"


def test_the_purge_command_reports_how_many_it_removed(label: Any) -> None:
    from django.core.management import call_command

    pending = pending_upload_create(
        organization=label, stream=csv_stream("Artist,Title\nA,B\n"), filename="old.csv"
    )
    PendingUpload.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=5)
    )
    out = io.StringIO()
    call_command("purge_pending_uploads", "--hours", "4", stdout=out)
    assert out.getvalue().strip() == "1 pending upload(s) removed"
    assert not PendingUpload.objects.exists() and stored_files() == []
