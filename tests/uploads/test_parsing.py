"""Catalog spreadsheet parsing (uploads/parsing.py): formats, header detection, row validation,
hostile files. Files are generated in tmp_path; real excerpts live in tests/data/catalogs."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from matcher.engine import identifiers
from uploads.parsing import (
    OLE2_MAGIC,
    CatalogFileError,
    Limits,
    ParsedRow,
    RowProblem,
    column_letter,
    list_sheets,
    normalize_isrc,
    open_catalog,
    parse_duration,
    sniff_format,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "catalogs"
SHARED = Path("/work/shared/data")


# --- helpers -----------------------------------------------------------------------------------


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[Any]]], **kwargs: Any) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        worksheet = workbook.create_sheet(name)
        for row_index, row in enumerate(rows, start=1):
            for col_index, value in enumerate(row, start=1):
                if value is not None:
                    worksheet.cell(row=row_index, column=col_index, value=value)
        if kwargs.get("edit"):
            kwargs["edit"](worksheet)
    workbook.save(path)
    return path


def rewrite_zip(path: Path, member: str, change: Callable[[str], str]) -> None:
    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    contents[member] = change(contents[member].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)


def write_ods(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
    def cell(value: Any) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, int | float):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        return (
            '<table:table-cell office:value-type="string">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )

    body = "".join(
        "<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows
    )
    return write_ods_table(path, body)


def write_ods_table(path: Path, body: str) -> Path:
    """An .ods whose one sheet, "Catalog", holds the given table XML (rows, repeats...)."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Catalog">'
        f"{body}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def parse(path: Path, **kwargs: Any) -> list[ParsedRow]:
    with open_catalog(path, filename=kwargs.pop("filename", path.name), **kwargs) as catalog:
        return list(catalog.rows())


def file_error(path: Path, **kwargs: Any) -> str:
    with pytest.raises(CatalogFileError) as caught:
        parse(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- sniffing ----------------------------------------------------------------------------------


def test_sniff_trusts_bytes_over_the_extension(tmp_path: Path) -> None:
    xlsx = write_xlsx(tmp_path / "a.xlsx", {"S": [["Artist", "Title"], ["A", "B"]]})
    assert sniff_format(xlsx.read_bytes()[:8192], "catalog.csv") == "xlsx"
    assert sniff_format(b"Artist,Title\nA,B\n", "catalog.xlsx") == "csv"
    ods = write_ods(tmp_path / "a.ods", [["Artist", "Title"]])
    assert sniff_format(ods.read_bytes()[:8192], "catalog.xlsx") == "ods"


def test_sniff_refuses_encrypted_ooxml() -> None:
    head = OLE2_MAGIC + b"\x00" * 500 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 100
    with pytest.raises(CatalogFileError, match="password-protected"):
        sniff_format(head, "catalog.xlsx")


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
        (b"<!DOCTYPE html><html><table><tr><td>Artist</td>", "web page"),
        (bytes(range(256)) * 4, "binary data"),
        (b"", "empty"),
    ],
)
def test_sniff_refuses_what_is_not_a_spreadsheet(head: bytes, what: str) -> None:
    with pytest.raises(CatalogFileError, match=what) as caught:
        sniff_format(head, "catalog.xlsx")
    assert '"catalog.xlsx"' in str(caught.value)


# --- real files --------------------------------------------------------------------------------


def test_most_streamed_excerpt_loses_its_bom_and_repairs_mojibake_to_replacement_chars() -> None:
    catalog = open_catalog(DATA / "most_streamed_2024_excerpt.csv", filename="most.csv")
    rows = list(catalog.rows())
    assert catalog.encoding == "utf-8-sig"
    assert catalog.sheet.headers[0] == "Track"
    assert catalog.mapping == {"artist": 2, "title": 0, "isrc": 4, "album": 1}
    assert len(rows) == 14
    assert rows[0].isrc == "QM24S2402528"
    laxed = next(row for row in rows if row.row_number == 14)
    assert (
        laxed.cells["Track"] == "Laxed \u00ef\u00bf\u00bd\u00ef\u00bf\u00bd\u00ef\u00bf\u00bd Sire"
    )
    assert laxed.values["title"] == "Laxed \ufffd\ufffd\ufffd Sire"
    # Repaired cells: Cupid's title and album, Laxed, Tití; 3 + 3 + 3 + 3 + 3 + 2 lost characters.
    assert catalog.repaired_mojibake == 4
    assert catalog.replacement_chars == 17


@pytest.mark.skipif(not SHARED.exists(), reason="shared real data not mounted")
def test_all_4600_rows_of_the_real_most_streamed_file_parse_with_their_isrcs() -> None:
    catalog = open_catalog(
        SHARED / "most_streamed_spotify_2024_isrc.csv", filename="Most Streamed.csv"
    )
    rows = list(catalog.rows())
    assert len(rows) == 4600
    assert catalog.sheet.headers[0] == "Track"
    assert catalog.sheet.headers[catalog.mapping["isrc"]] == "ISRC"
    assert rows[-1].row_number == 4601
    assert sum(1 for row in rows if row.isrc) >= 4590
    assert catalog.repaired_mojibake > 100
    assert catalog.replacement_chars > 100
    assert not any("\u00ef\u00bf\u00bd" in value for row in rows for value in row.values.values())


@pytest.mark.skipif(not SHARED.exists(), reason="shared real data not mounted")
def test_the_real_billboard_file_maps_artist_and_song() -> None:
    catalog = open_catalog(SHARED / "billboard_hot100_top40_1980_2021.csv", filename="bb.csv")
    rows = list(catalog.rows())
    assert catalog.mapping == {"artist": 0, "title": 1}
    assert len(rows) == 5811
    assert not any(row.problems for row in rows)
    assert rows[0].values["artist"] == '"Weird Al" Yankovic'


def test_billboard_excerpt_keeps_quoted_quotes() -> None:
    rows = parse(DATA / "billboard_hot100_excerpt.csv")
    assert [rows[0].values["artist"], rows[0].values["title"]] == ['"Weird Al" Yankovic', "Eat It"]
    assert rows[0].row_number == 2


# --- CSV flavours ------------------------------------------------------------------------------


def test_cp1252_semicolon_csv_from_excel_on_windows_is_decoded(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "c.csv", "Künstler;Titel;Dauer\r\nBeyoncé;Café del Mar;3:45\r\n", "cp1252"
    )
    with open_catalog(path, filename="c.csv") as catalog:
        rows = list(catalog.rows())
        assert (catalog.encoding, catalog.delimiter) == ("cp1252", ";")
    assert rows[0].values["artist"] == "Beyoncé"
    assert rows[0].values["title"] == "Café del Mar"
    assert rows[0].duration_s == 225


def test_utf16_tab_separated_unicode_text_is_read(tmp_path: Path) -> None:
    text = "Artist\tTitle\tISRC\r\n宇多田ヒカル\tFirst Love\tJPTO09900001\r\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    rows = parse(path)
    assert rows[0].values["artist"] == "宇多田ヒカル"
    assert rows[0].isrc == "JPTO09900001"


def test_pipe_delimited_file_is_sniffed(tmp_path: Path) -> None:
    rows = parse(write_text(tmp_path / "p.txt", "artist|title|album\nA, B|C; D|E\n"))
    assert rows[0].values == rows[0].values | {"artist": "A, B", "title": "C; D", "album": "E"}


def test_stray_cp1252_bytes_in_a_utf8_file_are_read_as_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("Artist,Title\nSigur Rós,Hoppípolla\n".encode() + b"Beyonc\xe9,Halo\n")
    rows = parse(path)
    assert [row.values["artist"] for row in rows] == ["Sigur Rós", "Beyoncé"]


def test_csv_title_rows_and_blank_lines_keep_true_row_numbers(tmp_path: Path) -> None:
    text = "Label catalog 2024,,\n,,\nArtist,Title,ISRC\nA,One,\n,,\n\nB,Two,\n"
    with open_catalog(write_text(tmp_path / "t.csv", text), filename="t.csv") as catalog:
        rows = list(catalog.rows())
        assert catalog.sheet.header_row == 3
    assert [(row.row_number, row.values["title"]) for row in rows] == [(4, "One"), (7, "Two")]


def test_a_quoted_cell_over_two_lines_is_one_row(tmp_path: Path) -> None:
    rows = parse(write_text(tmp_path / "m.csv", 'Artist,Title\nA,"One\nTwo"\nB,Three\n'))
    assert [(row.row_number, row.values["title"]) for row in rows] == [(2, "One Two"), (3, "Three")]
    assert rows[0].cells["Title"] == "One\nTwo"


def test_nul_bytes_deep_in_a_csv_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"Artist,Title\n" + b"A,B\n" * 300_000 + b"C,\x00D\n")
    message = file_error(path)
    assert "NUL" in message and "300002" in message


def test_nul_bytes_near_the_start_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"Artist,Title\nA,B\x00\x00C\n")
    assert "nul.csv" in file_error(path)


def test_a_giant_field_is_a_file_error(tmp_path: Path) -> None:
    path = write_text(tmp_path / "big.csv", 'Artist,Title\nA,"' + "x" * 200_000 + '"\n')
    assert "big.csv" in file_error(path)


# --- row validation ----------------------------------------------------------------------------


def test_row_problems_name_the_column_with_its_letter(tmp_path: Path) -> None:
    text = (
        "Artist,Title,Album,Duration,ISRC\n"
        ",Song,,3:45,US-ABC-12\n"
        "Band,,,three minutes,us-s1z-99-00001\n"
    )
    rows = parse(write_text(tmp_path / "p.csv", text))
    assert rows[0].problems == [
        RowProblem("Artist (A)", "The artist is empty; fill it in or remove the row."),
        RowProblem(
            "ISRC (E)",
            'ISRC "US-ABC-12" ignored: not a valid ISRC (12 characters: country, registrant, '
            "year, number)",
        ),
    ]
    assert rows[0].isrc == "" and rows[0].warnings == [], "an invalid row lists it as a problem"
    assert [problem.column for problem in rows[1].problems] == ["Title (B)", "Duration (D)"]
    assert rows[1].isrc == "USS1Z9900001"


def test_row_with_a_bad_isrc_but_an_artist_and_title_is_valid_with_a_warning(
    tmp_path: Path,
) -> None:
    text = "Artist,Title,ISRC\nRay Dawn,Night Drive,RDRAY2200003\nRay Dawn,Morning,\n"
    rows = parse(write_text(tmp_path / "w.csv", text))
    assert rows[0].problems == []
    assert rows[0].warnings == [
        RowProblem(
            "ISRC (C)",
            'ISRC "RDRAY2200003" ignored: not a valid ISRC (12 characters: country, registrant, '
            "year, number)",
        )
    ]
    assert rows[0].isrc == "", "the bad ISRC is not a key"
    assert (rows[0].values["artist"], rows[0].values["title"]) == ("Ray Dawn", "Night Drive")
    assert rows[1].problems == rows[1].warnings == []


def test_row_with_only_a_bad_isrc_is_invalid_and_says_what_is_missing(tmp_path: Path) -> None:
    rows = parse(write_text(tmp_path / "i.csv", "Artist,Title,ISRC\n,,XX-BAD\n"))
    assert [(p.column, p.message) for p in rows[0].problems] == [
        ("Artist (A)", "The artist is empty; fill it in or remove the row."),
        ("Title (B)", "The title is empty; fill it in or remove the row."),
        (
            "ISRC (C)",
            'ISRC "XX-BAD" ignored: not a valid ISRC (12 characters: country, registrant, '
            "year, number)",
        ),
    ]
    assert rows[0].warnings == []


def test_rows_with_problems_are_still_yielded_with_their_numbers(tmp_path: Path) -> None:
    rows = parse(write_text(tmp_path / "p.csv", "Artist,Title\n,\u00a0\nA,B\n,X\n"))
    assert [row.row_number for row in rows] == [3, 4]
    assert rows[1].problems and not rows[0].problems


def test_values_are_cleaned_and_cells_keep_the_text_as_read(tmp_path: Path) -> None:
    rows = parse(
        write_text(tmp_path / "w.csv", "Artist,Title\n  Daft\u00a0 Punk ,One\u200b More\n")
    )
    assert rows[0].values["artist"] == "Daft Punk"
    assert rows[0].values["title"] == "One More"
    assert rows[0].cells["Artist"] == "  Daft\u00a0 Punk "


def test_extra_cells_beyond_the_header_are_kept_under_their_letter(tmp_path: Path) -> None:
    rows = parse(write_text(tmp_path / "x.csv", "Artist,Title\nA,B,,note\n"))
    assert rows[0].cells == {"Artist": "A", "Title": "B", "Column D": "note"}


def test_duplicate_and_blank_headers_get_unique_names(tmp_path: Path) -> None:
    sheet = list_sheets(
        write_text(tmp_path / "d.csv", "Artist,Title,,Title\nA,B,C,D\n"), filename="d.csv"
    )
    assert sheet[0].headers == ("Artist", "Title", "Column C", "Title (D)")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3:45", 225), ("03:45", 225), ("1:02:03", 3723), ("225", 225), ("225.5", 225.5),
        ("225,5", 225.5), ("225000", 225), ("225000 ms", 225), ("225 s", 225), ("PT3M45S", 225),
        ("3m45s", 225), ("3 min 45", 225), (225, 225), (225000, 225), (225.0, 225),
        (dt.time(0, 3, 45), 225), (dt.time(3, 45), 225), (0.15625, 225),
        (3.75 / 1440, 225), (dt.timedelta(minutes=3, seconds=45), 225),
        (dt.datetime(1899, 12, 30, 0, 3, 45), 225), ("", None), (None, None), ("  ", None),
    ],
)  # fmt: skip
def test_durations_in_the_usual_forms_are_read_as_seconds(value: Any, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", ["three", "3:75", "0", "-5", "1:2:3:4", True, dt.datetime(2024, 1, 1, 3, 45)]
)
def test_unreadable_durations_raise_value_error(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_a_millisecond_header_makes_small_numbers_milliseconds() -> None:
    assert parse_duration("5000", unit="ms") == 5
    assert parse_duration(5000, unit="ms") == 5
    assert parse_duration("5000") == 5000


def test_isrc_normalization_accepts_display_forms_only_when_valid() -> None:
    assert normalize_isrc("us-abc-12-00001") == "USABC1200001"
    assert normalize_isrc("ISRC: GB AYE 69 00531") == "GBAYE6900531"
    assert normalize_isrc("USABC120000") is None
    assert normalize_isrc("XXABC1200001") is None  # unknown country prefix


def test_an_isrc_written_with_dots_or_underscores_is_read_as_the_engine_reads_it(
    tmp_path: Path,
) -> None:
    text = "Artist,Title,ISRC\nA,B,US.RC1.76.07839\nC,D,us_rc1_76_07839\n"
    rows = parse(write_text(tmp_path / "c.csv", text))
    assert [(r.isrc, r.problems) for r in rows] == [("USRC17607839", []), ("USRC17607839", [])]
    assert identifiers.normalize_isrc("US.RC1.76.07839") == "USRC17607839"
    assert identifiers.normalize_isrc("US_RC1_76_07839") == "USRC17607839"


def test_column_letters_go_past_z() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


# --- whole-file errors -------------------------------------------------------------------------


def test_missing_title_column_names_the_header_row_and_its_columns(tmp_path: Path) -> None:
    text = "Catalog\n\nArtist,Album,Year\nA,B,2020\n"
    message = file_error(write_text(tmp_path / "n.csv", text))
    assert 'no column for "title" was found' in message
    assert "(row 3) has: Artist, Album, Year" in message
    assert "Rename a column or choose the mapping" in message


def test_a_chosen_mapping_replaces_the_guess(tmp_path: Path) -> None:
    path = write_text(tmp_path / "n.csv", "Artist,Album,Name2\nA,B,C\n")
    rows = parse(path, mapping={"artist": 0, "title": 2})
    assert rows[0].values["title"] == "C"


def test_a_mapping_pointing_outside_the_header_is_refused(tmp_path: Path) -> None:
    path = write_text(tmp_path / "n.csv", "Artist,Title\nA,B\n")
    assert "column 7" in file_error(path, mapping={"artist": 0, "title": 7})


@pytest.mark.parametrize("content", [b"", b"\n\n\r\n", b",,,\n,,\n"])
def test_empty_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert "empty" in file_error(path)


def test_a_file_with_only_a_header_is_refused(tmp_path: Path) -> None:
    message = file_error(write_text(tmp_path / "h.csv", "Artist,Title,ISRC\n\n"))
    assert "no catalog rows" in message and "row 1" in message


def test_the_size_cap_is_checked_before_reading(tmp_path: Path) -> None:
    path = write_text(tmp_path / "s.csv", "Artist,Title\n" + "A,B\n" * 1000)
    assert "the limit is" in file_error(path, limits=Limits(max_bytes=1000))


def test_the_row_cap_stops_the_stream_once_exceeded(tmp_path: Path) -> None:
    path = write_text(tmp_path / "r.csv", "Artist,Title\n" + "A,B\n" * 10)
    seen = []
    with pytest.raises(CatalogFileError, match="more than 3 rows"):
        for row in open_catalog(path, filename="r.csv", limits=Limits(max_rows=3)).rows():
            seen.append(row)
    assert len(seen) == 3


# --- xlsx --------------------------------------------------------------------------------------


def test_xlsx_header_below_title_rows_and_true_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "t.xlsx",
        {
            "Catalog": [
                ["Acme Records - catalog export"],
                [],
                [None, "Generated 2024-05-01"],
                ["Track Artist", "Track Title", "ISRC"],
                ["A", "One", "USABC1200001"],
                [],
                [],
                ["B", "Two", None],
            ]
        },
        edit=lambda ws: setattr(ws.row_dimensions[8], "hidden", True),
    )
    with open_catalog(path, filename="t.xlsx") as catalog:
        rows = list(catalog.rows())
        assert catalog.sheet.header_row == 4
    assert [(row.row_number, row.values["title"]) for row in rows] == [(5, "One"), (8, "Two")]


def test_default_sheet_is_the_first_with_a_recognisable_header(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "two.xlsx",
        {
            "Read me": [["This workbook lists our recordings."], ["Contact: x@example.com"]],
            "Tracks": [["Artist", "Title"], ["A", "One"]],
            "Old": [["Artist", "Title"], ["B", "Two"]],
        },
    )
    sheets = list_sheets(path, filename="two.xlsx")
    assert [s.name for s in sheets] == ["Read me", "Tracks", "Old"]
    assert sheets[1].guessed_mapping == {"artist": 0, "title": 1}
    with open_catalog(path, filename="two.xlsx") as catalog:
        assert catalog.sheet.name == "Tracks"
    assert parse(path, sheet="Old")[0].values["artist"] == "B"
    message = file_error(path, sheet="Nope")
    assert '"Tracks"' in message and "Nope" in message


def test_numbers_stored_as_text_keep_leading_zeros_and_numbers_lose_the_dot_zero(
    tmp_path: Path,
) -> None:
    path = write_xlsx(
        tmp_path / "n.xlsx",
        {
            "S": [
                ["Artist", "Title", "UPC", "ISRC", "Year", "Rating"],
                ["A", "B", "012345678905", "usabc1200001", 2024, 4.5],
                ["C", 1999, 12345678905, "USABC1200002", 2024.0, None],
            ]
        },
    )
    rows = parse(path)
    assert rows[0].values["upc"] == "012345678905"
    assert rows[0].cells["Year"] == "2024" and rows[0].cells["Rating"] == "4.5"
    assert rows[0].isrc == "USABC1200001"
    assert rows[1].values["title"] == "1999"
    assert rows[1].values["upc"] == "012345678905"  # numeric cell: leading zero restored
    assert rows[1].cells["Year"] == "2024"


def test_excel_time_durations_are_read(tmp_path: Path) -> None:
    def format_times(ws: Any) -> None:
        ws["C2"].number_format = "mm:ss"
        ws["C3"].number_format = "h:mm"

    path = write_xlsx(
        tmp_path / "d.xlsx",
        {
            "S": [
                ["Artist", "Title", "Length"],
                ["A", "B", dt.time(0, 3, 45)],
                ["A", "C", 0.15625],  # a typed 3:45 that Excel stored as 3 h 45 min
                ["A", "D", 225],
                ["A", "E", "4:01"],
                ["A", "F", "long"],
            ]
        },
        edit=format_times,
    )
    rows = parse(path)
    assert [row.duration_s for row in rows] == [225, 225, 225, 241, None]
    assert rows[4].problems[0].column == "Length (C)"


def test_formula_cells_give_the_cached_value_or_nothing(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "f.xlsx",
        {"S": [["Artist", "Title"], ["A", '="One"&" Two"'], ["B", "=UPPER(A3)"]]},
    )

    # openpyxl writes no cached value; add one to B2 as Excel would when saving.
    def add_cached_value(xml: str) -> str:
        return re.sub(
            r'<c r="B2"([^>]*)><f>(.*?)</f><v\s*/>',
            r'<c r="B2" t="str"\1><f>\2</f><v>One Two</v>',
            xml,
        )

    rewrite_zip(path, "xl/worksheets/sheet1.xml", add_cached_value)
    rows = parse(path)
    assert rows[0].values["title"] == "One Two"
    assert rows[1].values["title"] == ""
    assert rows[1].problems[0].column == "Title (B)"


def test_merged_cells_keep_the_value_in_the_top_left_cell_only(tmp_path: Path) -> None:
    def merge(ws: Any) -> None:
        ws.merge_cells("A2:A3")

    path = write_xlsx(
        tmp_path / "m.xlsx", {"S": [["Artist", "Title"], ["A", "One"], [None, "Two"]]}, edit=merge
    )
    rows = parse(path)
    assert rows[0].values["artist"] == "A" and not rows[0].problems
    assert rows[1].values["artist"] == "" and rows[1].problems[0].column == "Artist (A)"


def test_xlsx_named_csv_is_read_as_xlsx(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "wrong.csv", {"S": [["Artist", "Title"], ["A", "B"]]})
    with open_catalog(path, filename="wrong.csv") as catalog:
        assert catalog.format == "xlsx"
        assert [row.values["title"] for row in catalog.rows()] == ["B"]


def test_xlsx_with_only_a_header_is_refused_naming_the_sheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "h.xlsx", {"Tracks": [["Artist", "Title"]]})
    message = file_error(path)
    assert '"h.xlsx", sheet "Tracks"' in message and "no catalog rows" in message


def test_billion_laughs_in_a_sheet_is_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "lol.xlsx", {"S": [["Artist", "Title"], ["A", "B"]]})
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 or "")) * 10}">' for i in range(1, 10)
    )

    def attack(xml: str) -> str:
        xml = f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>' + xml
        return xml.replace("<t>B</t>", "<t>&lol9;</t>")

    rewrite_zip(path, "xl/worksheets/sheet1.xml", attack)
    assert "contains XML entity declarations" in file_error(path)


def test_entity_declarations_in_the_workbook_part_are_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "ent.xlsx", {"S": [["Artist", "Title"], ["A", "B"]]})
    rewrite_zip(
        path,
        "xl/workbook.xml",
        lambda xml: '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + xml,
    )
    assert "contains XML entity declarations" in file_error(path)


def test_zip_bomb_xlsx_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bomb.xlsx", {"S": [["Artist", "Title"], ["A", "B"]]})
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\x00" * (50 * 1024 * 1024))
    message = file_error(path)
    assert "refused" in message and "times" in message


def test_total_uncompressed_size_limit_is_applied(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", {"S": [["Artist", "Title"], ["A", "B"]]})
    assert "would expand" in file_error(path, limits=Limits(max_uncompressed_bytes=1000))


def test_truncated_xlsx_is_a_damaged_file(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "cut.xlsx", {"S": [["Artist", "Title"], ["A", "B"]]})
    path.write_bytes(path.read_bytes()[:2000])
    assert "damaged" in file_error(path)


def test_a_word_document_renamed_xlsx_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    assert "Word document" in file_error(path)


def test_encrypted_workbook_is_refused_even_when_the_marker_is_far_in(tmp_path: Path) -> None:
    path = tmp_path / "secret.xlsx"
    path.write_bytes(
        OLE2_MAGIC + b"\x00" * 20_000 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512
    )
    assert "password-protected" in file_error(path)


def test_a_plain_ole2_file_that_is_no_workbook_is_a_damaged_xls(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(OLE2_MAGIC + b"\x00" * 4096)
    assert "old.xls" in file_error(path)


# --- ods (calamine) ----------------------------------------------------------------------------


def test_ods_rows_keep_sheet_row_numbers(tmp_path: Path) -> None:
    path = write_ods(
        tmp_path / "c.ods",
        [
            [None],
            [None, "Label catalog"],
            [],
            ["Artiste", "Titre", "ISRC", "Durée"],
            ["A", "Un", "FRZ039800212", 225],
            [],
            ["B", "Deux", "bad", None],
        ],
    )
    with open_catalog(path, filename="c.ods") as catalog:
        rows = list(catalog.rows())
        assert catalog.format == "ods" and catalog.sheet.header_row == 4
    assert [row.row_number for row in rows] == [5, 7]
    assert rows[0].cells["Durée"] == "225" and rows[0].duration_s == 225
    assert rows[1].problems == [] and rows[1].warnings[0].column == "ISRC (C)"


def test_catalog_io_does_not_leak_into_cells(tmp_path: Path) -> None:
    # The workbook is closed after streaming; a second catalog on the same path still works.
    path = write_xlsx(tmp_path / "c.xlsx", {"S": [["Artist", "Title"], ["A", "B"]]})
    assert parse(path)[0].cells == parse(path)[0].cells == {"Artist": "A", "Title": "B"}
    assert isinstance(io.BytesIO(path.read_bytes()).read(2), bytes)
