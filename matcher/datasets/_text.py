"""Shared helpers for the text-based dataset readers: gzip-transparent UTF-8 opening, CSV rows
with the line number a person would see, and lenient number parsing."""

from __future__ import annotations

import csv
import gzip
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from matcher.datasets.base import DatasetFormatError

# FMA biographies and Genius fields can be long; the csv default (128 KiB) would stop the import.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

_GZIP_MAGIC = b"\x1f\x8b"


def open_text(path: Path) -> IO[str]:
    """Open ``path`` as UTF-8 text (a leading BOM is dropped), gunzipping it when it is gzip."""
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
    except OSError as exc:
        raise DatasetFormatError(f"{path.name}: cannot be opened ({exc.strerror}).") from exc
    if magic == _GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line number of the record, fields) for every CSV record of ``path``.

    A quoted field may span several lines; the record is cited by the line it starts on.
    """
    with open_text(path) as handle:
        reader = csv.reader(handle)
        previous_end = 0
        try:
            for fields in reader:
                start = previous_end + 1
                previous_end = reader.line_num
                yield start, fields
        except UnicodeDecodeError as exc:
            raise DatasetFormatError(
                f"{path.name}: is not UTF-8 text near line {previous_end + 1}; "
                "export the file again as UTF-8."
            ) from exc
        except (csv.Error, gzip.BadGzipFile, EOFError) as exc:
            raise DatasetFormatError(
                f"{path.name}: cannot be read as CSV near line {previous_end + 1} ({exc})."
            ) from exc


def parse_float(text: str | None) -> float | None:
    """A float from a cell, or None for an empty cell; ValueError when it is not a number."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    return float(text)


def parse_mmss(text: str) -> float | None:
    """Seconds from "mm:ss" or "h:mm:ss" (FMA raw_tracks); ValueError when malformed."""
    text = text.strip()
    if not text:
        return None
    seconds = 0.0
    for part in text.split(":"):
        if not part.strip().isdigit():
            raise ValueError(text)
        seconds = seconds * 60 + int(part)
    return seconds
