"""Old Excel (.xls, BIFF8) catalogs: a real workbook written with xlwt (tests/uploads/
xls_workbooks.py) read through python-calamine, with several sheets, and under a wrong name."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tests.uploads.xls_workbooks import write_label_export
from uploads.parsing import OLE2_MAGIC, list_sheets, open_catalog, sniff_format
from uploads.services import pending_upload_create

COMMITTED = Path(__file__).resolve().parents[1] / "data" / "catalogs" / "label_export.xls"


@pytest.fixture
def xls(tmp_path: Path) -> Path:
    return write_label_export(tmp_path / "label_export.xls")


def test_the_committed_xls_fixture_is_the_workbook_the_generator_writes(xls: Path) -> None:
    assert xls.read_bytes().startswith(OLE2_MAGIC), "a real OLE2/BIFF8 file, not a renamed xlsx"
    assert COMMITTED.read_bytes() == xls.read_bytes(), (
        "tests/data/catalogs/label_export.xls is stale: write it again with "
        "`.venv/bin/python -m tests.uploads.xls_workbooks tests/data/catalogs/label_export.xls`"
    )


def test_an_xls_export_is_read_with_its_values_identifiers_dates_and_durations(xls: Path) -> None:
    with open_catalog(xls, filename=xls.name) as catalog:
        rows = list(catalog.rows())
        assert catalog.format == "xls"
        assert (catalog.sheet.name, catalog.sheet.header_row) == ("Catalog 2024", 3)
    assert [row.row_number for row in rows] == [4, 5, 6, 8, 9], "sheet row numbers, blank skipped"
    first, second, third, bad, prince = rows

    assert (first.values["artist"], first.values["title"]) == ("Sigur Rós", "Hoppípolla")
    assert (second.values["artist"], second.values["version"]) == ("東京事変", "Live")
    # Identifiers: text keeps its leading zero; a UPC typed as a number gets it back.
    assert first.isrc == "GBAYE0600001" and first.values["upc"] == "060254724421"
    assert second.isrc == "JPTO00400123", "display form and lower case are normalized"
    assert second.cells["UPC"] == "60254724421" and second.values["upc"] == "060254724421"
    # Numbers stored as text stay text; numbers lose Excel's ".0".
    assert third.values["title"] == "007" and prince.values["title"] == "1999"
    # Dates read as dates, shown in ISO form; a year typed as a number stays a number.
    assert first.cells["Release Date"] == "2024-03-01"
    assert second.cells["Release Date"] == "2023-12-24"
    assert prince.cells["Release Date"] == "1982"
    # Durations: an mm:ss time, "3:45" typed into an h:mm cell, seconds, and m:ss text.
    assert [r.duration_s for r in (first, second, third, prince)] == [225, 225, 241, 379]
    assert not any(r.problems for r in (first, second, third, prince))
    assert [p.column for p in bad.problems] == ["Track Artist (A)", "ISRC (D)", "Duration (F)"]


def test_an_xls_with_several_sheets_lists_each_and_reads_the_chosen_one(xls: Path) -> None:
    sheets = list_sheets(xls, filename=xls.name)
    assert [(s.name, s.header_row) for s in sheets] == [
        ("Read me", 1),
        ("Catalog 2024", 3),
        ("Catalog 2023", 1),
    ]
    assert "artist" not in sheets[0].guessed_mapping, "the read-me has no catalog header"
    assert sheets[2].guessed_mapping == {"artist": 0, "title": 1, "duration": 2}
    with open_catalog(xls, filename=xls.name, sheet="Catalog 2023") as catalog:
        rows = list(catalog.rows())
    assert [(r.row_number, r.values["title"], r.duration_s) for r in rows] == [
        (2, "Old Song", 241),
        (3, "Older Song", 199),
    ]


def test_an_xls_renamed_xlsx_is_sniffed_from_its_bytes_and_read_as_xls(
    xls: Path, tmp_path: Path
) -> None:
    renamed = tmp_path / "catalog.xlsx"
    renamed.write_bytes(xls.read_bytes())
    assert sniff_format(renamed.read_bytes()[:8192], "catalog.xlsx") == "xls"
    with open_catalog(renamed, filename="catalog.xlsx") as catalog:
        assert catalog.format == "xls"
        titles = [row.values["title"] for row in catalog.rows()]
    assert titles == ["Hoppípolla", "群青日和", "007", "Untitled Demo", "1999"]


def test_an_xls_renamed_xlsx_uploads_as_xls_with_its_catalog_sheet_by_default(
    xls: Path, label: Any
) -> None:
    pending = pending_upload_create(
        organization=label, stream=io.BytesIO(xls.read_bytes()), filename="catalog.xlsx"
    )
    assert pending.file_format == "xls"
    assert pending.default_sheet == "Catalog 2024" and pending.row_count == 5
    assert [s["name"] for s in pending.sheets] == ["Read me", "Catalog 2024", "Catalog 2023"]
