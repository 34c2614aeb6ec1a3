"""Tiny files that would expand into huge sheets (issue 18): each is refused before the work, with
the message of the other refused files, and in bounded memory.

Each bomb is built in tmp_path and opened in a fresh interpreter: calamine allocates in Rust,
where tracemalloc cannot see, and ru_maxrss only ever rises, so a child process measures its own
peak from a clean start. The child's address space is capped, so a bomb that slips through fails
the test (MemoryError or a kill) instead of taking the machine."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import olefile
import pytest
import xlwt

from tests.uploads.test_parsing import file_error, parse, rewrite_zip, write_ods_table, write_xlsx
from uploads.parsing import CatalogFileError

ROOT = Path(__file__).resolve().parents[2]
MEMORY_BOUND = 200 * 1024**2  # peak RSS a refused file may add; the bombs took 2.5 GB before
ADDRESS_SPACE = 3 * 1024**3

CHILD = """
import json, resource, sys
from pathlib import Path

import pytest

from uploads.parsing import CatalogFileError

resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
from uploads.parsing import CatalogFileError, list_sheets, open_catalog

path = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
message = None
try:
    list_sheets(path, filename=path.name)
    with open_catalog(path, filename=path.name) as catalog:
        for _row in catalog.rows():
            pass
except CatalogFileError as error:
    message = str(error)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"message": message, "peak_bytes": (after - before) * 1024}))
"""


def refusal(path: Path) -> str:
    """The message the file is refused with, asserting that opening it stayed in bounded memory.
    (The timeout only keeps a failing run short; it is no assertion about speed.)"""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(ADDRESS_SPACE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["peak_bytes"] < MEMORY_BOUND, outcome
    assert outcome["message"] is not None, "the file was read, not refused"
    message: str = outcome["message"]
    assert "\n" not in message and "was refused" in message
    return message


# --- xlsx: cell references far outside the sheet ------------------------------------------------


def test_a_cell_at_column_zzzzzz_is_refused_naming_the_cell(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "wide.xlsx", {"Tracks": [["Artist", "Title"], ["A", "B"]]})
    rewrite_zip(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace('r="B2"', 'r="ZZZZZZ2"'))
    assert path.stat().st_size < 10_000
    message = refusal(path)
    assert message.startswith('"wide.xlsx", sheet "Tracks" was refused: cell ZZZZZZ2 ')
    assert "XFD" in message


def test_a_value_past_the_column_limit_is_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "wide.xlsx", {"Tracks": [["Artist", "Title"], ["A", "B"]]})
    # Column 5,000 exists in Excel, but no catalog has that many columns.
    rewrite_zip(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace('r="B2"', 'r="GJH2"'))
    message = refusal(path)
    assert "cell GJH2" in message and "1,000 columns" in message


def test_empty_styled_cells_far_to_the_right_are_ignored(tmp_path: Path) -> None:
    # Some exporters write formatted empty cells up to the last column: they are not padded.
    path = write_xlsx(tmp_path / "styled.xlsx", {"Tracks": [["Artist", "Title"], ["A", "B"]]})
    rewrite_zip(
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace("</row>", '<c r="XFD1" s="0"/></row>', 1),
    )
    rows = parse(path)
    assert [(row.row_number, row.cells) for row in rows] == [(2, {"Artist": "A", "Title": "B"})]


def move_rows_down(path: Path, header_row: int) -> None:
    """Rows 1 and 2 of the sheet moved to `header_row` and the row after it."""

    def move_down(xml: str) -> str:
        for old, new in (("1", str(header_row)), ("2", str(header_row + 1))):
            xml = xml.replace(f'<row r="{old}"', f'<row r="{new}"')
            xml = xml.replace(f'A{old}"', f'A{new}"').replace(f'B{old}"', f'B{new}"')
        return xml

    rewrite_zip(path, "xl/worksheets/sheet1.xml", move_down)


def test_a_header_at_row_100_million_is_refused_naming_the_row(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "deep.xlsx", {"Tracks": [["Artist", "Title"], ["A", "B"]]})
    move_rows_down(path, 100_000_000)
    message = refusal(path)
    assert message.startswith('"deep.xlsx", sheet "Tracks" was refused: row 100,000,000 ')
    assert "1,048,576" in message


def test_a_header_far_down_inside_the_sheet_is_read_without_walking_the_gap(
    tmp_path: Path,
) -> None:
    path = write_xlsx(tmp_path / "low.xlsx", {"Tracks": [["Artist", "Title"], ["A", "B"]]})
    move_rows_down(path, 1_000_000)
    assert [row.row_number for row in parse(path)] == [1_000_001]


def break_styles_for_openpyxl(path: Path) -> None:
    # openpyxl refuses a non-numeric number format id; calamine reads the workbook anyway.
    rewrite_zip(path, "xl/styles.xml", lambda xml: xml.replace('numFmtId="0"', 'numFmtId="x"', 1))


def test_an_xlsx_only_calamine_can_read_is_still_read(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "quirk.xlsx", {"Tracks": [["Artist", "Title"], ["A", "B"]]})
    break_styles_for_openpyxl(path)
    assert [(row.row_number, row.cells) for row in parse(path)] == [
        (2, {"Artist": "A", "Title": "B"})
    ]


def test_a_cell_at_column_zzzzzz_is_refused_before_calamine_reads_it_too(tmp_path: Path) -> None:
    # calamine would allocate the grid up to that cell and abort the process when it cannot.
    path = write_xlsx(tmp_path / "wide.xlsx", {"Tracks": [["Artist", "Title"], ["A", "B"]]})
    break_styles_for_openpyxl(path)
    rewrite_zip(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace('r="B2"', 'r="ZZZZZZ2"'))
    assert refusal(path).startswith('"wide.xlsx" was refused: cell ZZZZZZ2 is past column XFD')


def test_a_header_at_row_30_million_is_refused_before_calamine_reads_it(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "deep.xlsx", {"Tracks": [["Artist", "Title"], ["A", "B"]]})
    break_styles_for_openpyxl(path)
    rewrite_zip(
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace('<row r="2"', '<row r="30000000"').replace('2"', '30000000"'),
    )
    assert "row 30,000,000 is past row 1,048,576" in refusal(path)


# --- xlsx: shared strings that expand far beyond the file ---------------------------------------


def test_shared_strings_that_expand_past_their_limit_are_refused_before_reading(
    tmp_path: Path,
) -> None:
    path = write_xlsx(tmp_path / "strings.xlsx", {"Tracks": [["Artist", "Title"], ["A", "B"]]})
    # 110 MB of distinct strings compressing about 11 times (a 10 MB file): under the ratio limit,
    # so only a bound on the part itself stops openpyxl from loading them all into memory.
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part,
    ):
        part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
        written = 0
        number = 0
        while written < 110 * 1024**2:
            chunk = "".join(
                f"<si><t>Track {index:09d}</t></si>" for index in range(number, number + 50_000)
            ).encode()
            number += 50_000
            written += part.write(chunk)
        part.write(b"</sst>")

    def register(xml: str) -> str:
        return xml.replace(
            "</Types>",
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )

    rewrite_zip(path, "[Content_Types].xml", register)
    info = zipfile.ZipFile(path).getinfo("xl/sharedStrings.xml")
    assert info.file_size / info.compress_size < 200 and path.stat().st_size < 20 * 1024**2
    message = refusal(path)
    assert message.startswith('"strings.xlsx" was refused: the text of its cells')
    assert "100 MB" in message


# --- ods: repeated cells --------------------------------------------------------------------------

STRING_CELL = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'
HEADER_ROW = (
    "<table:table-row>"
    + STRING_CELL.format("Artist")
    + STRING_CELL.format("Title")
    + "</table:table-row>"
)


def test_an_ods_of_a_thousand_rows_of_16384_repeated_values_is_refused(tmp_path: Path) -> None:
    path = write_ods_table(
        tmp_path / "repeat.ods",
        HEADER_ROW + '<table:table-row table:number-rows-repeated="1000">'
        '<table:table-cell office:value-type="string" table:number-columns-repeated="16384">'
        "<text:p>x</text:p></table:table-cell></table:table-row>",
    )
    assert path.stat().st_size < 2_000
    message = refusal(path)
    assert message.startswith('"repeat.ods", sheet "Catalog" was refused: ')
    assert "column 16,384" in message and "1,000 columns" in message


def test_an_ods_of_many_repeated_rows_of_values_is_refused(tmp_path: Path) -> None:
    # Narrow but long: 20 columns on 1,000,000 rows would be 20 million cells in memory.
    path = write_ods_table(
        tmp_path / "long.ods",
        HEADER_ROW + '<table:table-row table:number-rows-repeated="1000000">'
        '<table:table-cell office:value-type="string" table:number-columns-repeated="20">'
        "<text:p>x</text:p></table:table-cell></table:table-row>",
    )
    message = refusal(path)
    assert "20,000,020 cells" in message


def test_an_ods_header_at_row_100_million_is_refused(tmp_path: Path) -> None:
    path = write_ods_table(
        tmp_path / "deep.ods",
        '<table:table-row table:number-rows-repeated="99999999"><table:table-cell/>'
        "</table:table-row>" + HEADER_ROW,
    )
    message = refusal(path)
    assert "row 100,000,000" in message and "1,048,576" in message


def test_a_libreoffice_ods_with_trailing_empty_repeated_cells_still_parses(
    tmp_path: Path,
) -> None:
    # What LibreOffice writes: the rest of each row and of the sheet as repeated empty cells.
    empty_rest = '<table:table-cell table:number-columns-repeated="16382"/>'
    row = (
        "<table:table-row>"
        + STRING_CELL.format("{}")
        + STRING_CELL.format("{}")
        + empty_rest
        + "</table:table-row>"
    )
    path = write_ods_table(
        tmp_path / "lo.ods",
        '<table:table-column table:number-columns-repeated="16384"/>'
        + row.format("Artist", "Title")
        + row.format("A", "B")
        + '<table:table-row table:style-name="ro1" table:number-rows-repeated="1048574">'
        '<table:table-cell table:style-name="ce1" table:number-columns-repeated="16384"/>'
        "</table:table-row>",
    )
    assert [(row.row_number, row.cells) for row in parse(path)] == [
        (2, {"Artist": "A", "Title": "B"})
    ]


def test_entity_declarations_in_an_ods_are_refused_by_the_scan(tmp_path: Path) -> None:
    path = write_ods_table(tmp_path / "ent.ods", HEADER_ROW)
    rewrite_zip(
        path,
        "content.xml",
        lambda xml: xml.replace("?>", '?><!DOCTYPE x [<!ENTITY e "lol">]>', 1),
    )
    with pytest.raises(CatalogFileError, match="contains XML entity declarations"):
        parse(path)


def test_repeated_rows_of_values_within_the_limits_are_read_as_rows(tmp_path: Path) -> None:
    # LibreOffice writes identical rows once, with number-rows-repeated.
    path = write_ods_table(
        tmp_path / "same.ods",
        HEADER_ROW
        + '<table:table-row table:number-rows-repeated="3">'
        + STRING_CELL.format("A")
        + '<table:table-cell office:value-type="string" table:number-columns-repeated="1">'
        "<text:p>B</text:p></table:table-cell></table:table-row>",
    )
    assert [(row.row_number, row.values["title"]) for row in parse(path)] == [
        (2, "B"),
        (3, "B"),
        (4, "B"),
    ]


# --- xls: one value far out, size records no sheet can have, records too short -------------------


def write_xls(path: Path, cells: dict[tuple[int, int], object], sheet: str = "Tracks") -> Path:
    """A real BIFF8 workbook (xlwt) with the header row and the given cells ((row, column), both
    0-based as xlwt counts)."""
    workbook = xlwt.Workbook()
    worksheet = workbook.add_sheet(sheet)
    for (row, column), value in {(0, 0): "Artist", (0, 1): "Title", **cells}.items():
        worksheet.write(row, column, value)
    workbook.save(str(path))
    return path


def patch_xls_record(
    path: Path, record_type: int, change: Callable[[bytearray, int], None]
) -> None:
    """Change the first BIFF record of a type in place: change(stream, offset of its header)."""
    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        stream = bytearray(ole.openstream("Workbook").read())
        position = 0
        while position + 4 <= len(stream):
            kind, size = struct.unpack_from("<HH", stream, position)
            if kind == record_type:
                change(stream, position)
                ole.write_stream("Workbook", bytes(stream))
                return
            position += 4 + size
    raise AssertionError(f"no record {record_type:#06x} in {path}")


@pytest.mark.parametrize("value", ["a text", 12345.5, 7], ids=["text", "number", "rk-number"])
def test_an_xls_value_at_iv65536_is_refused_before_calamine_builds_the_grid(
    tmp_path: Path, value: object
) -> None:
    # 6 KB; calamine built a 65,536 x 256 grid for it, 1 GB (measured).
    path = write_xls(tmp_path / "far.xls", {(1, 0): "A", (1, 1): "B", (65535, 255): value})
    assert path.stat().st_size < 10_000
    message = refusal(path)
    assert message.startswith('"far.xls", sheet "Tracks" was refused: its values would fill ')
    assert "65,536 rows by 256 columns (16,777,216 cells)" in message


def test_an_xls_size_record_whose_first_row_is_past_its_last_is_refused(tmp_path: Path) -> None:
    # calamine subtracted the rows and asked for 171 GB, which aborts the whole process.
    path = write_xls(tmp_path / "dims.xls", {(1, 0): "A", (1, 1): "B"})
    patch_xls_record(
        path, 0x0200, lambda stream, at: struct.pack_into("<I", stream, at + 4, 16_777_215)
    )
    message = refusal(path)
    assert message.startswith('"dims.xls", sheet "Tracks" was refused: its size record claims ')
    assert "rows 16,777,216 to 2 and columns 1 to 2, the first after the last," in message


def test_an_xls_size_record_past_the_last_row_of_a_sheet_is_refused(tmp_path: Path) -> None:
    path = write_xls(tmp_path / "tall.xls", {(1, 0): "A", (1, 1): "B"})
    patch_xls_record(
        path, 0x0200, lambda stream, at: struct.pack_into("<IIHH", stream, at + 4, 0, 2**31, 0, 2)
    )
    message = refusal(path)
    assert "claims rows 1 to 2,147,483,648 and columns 1 to 2, past the 65,536 rows" in message


def test_the_sheets_are_checked_where_calamine_reads_them_not_in_stream_order(
    tmp_path: Path,
) -> None:
    # Found by mutating the committed .xls at random: a damaged record length in the workbook
    # globals hid the sheet from a front-to-back scan, while calamine jumps to the sheet's
    # offset (BOUNDSHEET), met its bad size record there and aborted the process.
    path = write_xls(tmp_path / "hidden.xls", {(1, 0): "A", (1, 1): "B"})
    patch_xls_record(
        path, 0x0200, lambda stream, at: struct.pack_into("<I", stream, at + 4, 16_777_215)
    )
    patch_xls_record(path, 0x000A, lambda stream, at: struct.pack_into("<H", stream, at + 2, 16))
    assert "the first after the last" in refusal(path)


def test_an_xls_size_record_within_the_sheet_is_no_reason_to_refuse(tmp_path: Path) -> None:
    # A record claiming the whole sheet costs calamine nothing until values fill it (12 MB).
    path = write_xls(tmp_path / "wide.xls", {(1, 0): "A", (1, 1): "B"})
    patch_xls_record(
        path, 0x0200, lambda stream, at: struct.pack_into("<IIHH", stream, at + 4, 0, 65536, 0, 256)
    )
    assert [(row.row_number, row.values["title"]) for row in parse(path)] == [(2, "B")]


def test_an_xls_record_too_short_for_its_fields_is_a_damaged_file_not_a_crash(
    tmp_path: Path,
) -> None:
    # calamine panics on it (a Rust panic is a BaseException in Python, past `except Exception`).
    path = write_xls(tmp_path / "short.xls", {(1, 0): "A", (1, 1): "B"})
    patch_xls_record(path, 0x0085, lambda stream, at: struct.pack_into("<H", stream, at + 2, 0))
    message = file_error(path)
    assert message.startswith('"short.xls" could not be read as an .xls workbook')
