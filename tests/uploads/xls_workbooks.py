"""A real BIFF8 .xls label export written with xlwt, for the parser tests.

The tests write it again at run time; tests/data/catalogs/label_export.xls is the same workbook,
committed so that a reader can open it. After changing this file, write it again with:

    .venv/bin/python -m tests.uploads.xls_workbooks tests/data/catalogs/label_export.xls
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import xlwt

TITLE = "Northern Lights Records \u2013 royalty export"  # an en dash, as Excel types it
HEADER_2024 = ["Track Artist", "Track Title", "Version", "ISRC", "UPC", "Duration", "Release Date"]
MMSS = "mm:ss"
HMM = "h:mm"
DATE = "YYYY-MM-DD"
TEXT = "@"

# (value, number format or None) per cell; None value = empty cell.
ROWS_2024: list[list[tuple[Any, str | None]]] = [
    [
        ("Sigur Rós", None),
        ("Hoppípolla", None),
        ("", None),
        ("GBAYE0600001", TEXT),
        ("060254724421", TEXT),  # a UPC kept as text, leading zero included
        (dt.time(0, 3, 45), MMSS),  # an Excel time formatted as minutes:seconds
        (dt.date(2024, 3, 1), DATE),
    ],
    [
        ("東京事変", None),
        ("群青日和", None),
        ("Live", None),
        ("jp-to0-04-00123", None),  # display form, lower case
        (60254724421, None),  # the same UPC typed as a number: the leading zero is lost
        (0.15625, HMM),  # "3:45" typed into an h:mm cell: Excel keeps 3 h 45 min
        (dt.datetime(2023, 12, 24), DATE),
    ],
    [
        ("Aurora", None),
        ("007", TEXT),  # a title that looks like a number, stored as text
        ("Radio Edit", None),
        ("GBXYZ2400001", None),
        (None, None),
        (241, None),  # seconds as a plain number
        (None, None),
    ],
    [],  # a blank row inside the data
    [
        (None, None),
        ("Untitled Demo", None),
        (None, None),
        ("not-an-isrc", None),
        (None, None),
        ("long", None),
        (None, None),
    ],
    [
        ("Prince", None),
        (1999, None),  # a title typed as a number
        ("", None),
        ("USWB19902945", None),
        (None, None),
        ("6:19", None),
        (1982, None),
    ],
]

ROWS_2023 = [
    ["Artist", "Title", "Length"],
    ["Old Band", "Old Song", "4:01"],
    ["Older Band", "Older Song", 199],
]


def _style(number_format: str | None, cache: dict[str, Any]) -> Any:
    if number_format is None:
        return xlwt.Style.default_style
    if number_format not in cache:
        cache[number_format] = xlwt.easyxf(num_format_str=number_format)
    return cache[number_format]


def write_label_export(path: Path) -> Path:
    """Three sheets: a read-me without a header, this year's catalog below two title rows (the
    default sheet), last year's catalog with its header on row 1."""
    styles: dict[str, Any] = {}
    workbook = xlwt.Workbook(encoding="utf-8")
    notes = workbook.add_sheet("Read me")
    notes.write(0, 0, TITLE)
    notes.write(1, 0, "Exported for the trainwatch parser tests.")

    current = workbook.add_sheet("Catalog 2024")
    current.write(0, 0, TITLE)
    for column, header in enumerate(HEADER_2024):
        current.write(2, column, header)
    for offset, row in enumerate(ROWS_2024):
        for column, (value, number_format) in enumerate(row):
            if value is not None:
                current.write(3 + offset, column, value, _style(number_format, styles))

    previous = workbook.add_sheet("Catalog 2023")
    for row_index, values in enumerate(ROWS_2023):
        for column, value in enumerate(values):
            previous.write(row_index, column, value)
    workbook.save(str(path))
    return path


if __name__ == "__main__":
    print(write_label_export(Path(sys.argv[1])))
