"""Property: any bytes give parsed rows or a CatalogFileError, never another exception."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uploads.parsing import CatalogFileError, Limits, ParsedRow, open_catalog

VALID_CSV = (
    "Label catalog\n\nArtist;Title;ISRC;Duration;UPC\n"
    "Beyoncé;Halo;USSM10804556;4:21;886443671595\n"
    'Sigur Rós;"Hoppípolla, live";GBUM70500001;268000;\n'
    ";Missing artist;bad;three;\n"
).encode()


def _valid_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Track Artist", "Track Title", "ISRC", "Length"])
    sheet.append(["Daft Punk", "One More Time", "GBDUW0000053", 320])
    sheet.append(["Röyksopp", "Eple", "not an isrc", "5:22"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


VALID_XLSX = _valid_xlsx()
FILENAMES = st.sampled_from(["catalog.csv", "catalog.xlsx", "catalog.ods", "catalog.xls", "x"])
# Small caps so that hostile shapes hit the limits quickly.
LIMITS = Limits(max_bytes=2_000_000, max_rows=1_000, max_uncompressed_bytes=20_000_000)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            del data[position : position + draw(st.integers(1, 64))]
    return bytes(data)


def _read_all(content: bytes, filename: str) -> list[ParsedRow]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "upload"
        path.write_bytes(content)
        with open_catalog(path, filename=filename, limits=LIMITS) as catalog:
            return list(catalog.rows())


def _check(content: bytes, filename: str) -> None:
    try:
        rows = _read_all(content, filename)
    except CatalogFileError as error:
        message = str(error)
        assert message and "\n" not in message
        assert f'"{filename}"' in message
    else:
        for row in rows:
            assert isinstance(row, ParsedRow) and row.row_number >= 1
            assert all(isinstance(value, str) for value in row.values.values())


SETTINGS = settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(content=st.binary(max_size=4096), filename=FILENAMES)
def test_random_bytes_give_rows_or_a_catalog_file_error(content: bytes, filename: str) -> None:
    _check(content, filename)


@SETTINGS
@given(content=mutated(VALID_CSV), filename=FILENAMES)
def test_mutated_csv_gives_rows_or_a_catalog_file_error(content: bytes, filename: str) -> None:
    _check(content, filename)


@SETTINGS
@given(content=mutated(VALID_XLSX), filename=FILENAMES)
def test_mutated_xlsx_gives_rows_or_a_catalog_file_error(content: bytes, filename: str) -> None:
    _check(content, filename)


def test_the_unmutated_seeds_parse() -> None:
    assert len(_read_all(VALID_CSV, "catalog.csv")) == 3
    assert len(_read_all(VALID_XLSX, "catalog.xlsx")) == 2
