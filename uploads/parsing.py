"""Read catalog spreadsheets (xlsx/xlsm, xls, ods, csv/tsv/txt) into validated rows, streaming.

Pure Python (no Django). Every whole-file problem, including hostile files, is a CatalogFileError
whose message is written for a label manager; every row problem is a RowProblem on its row.

Decisions worth knowing (also in the tests):
- Row numbers are the ones a spreadsheet program shows: sheet rows for workbooks, records for CSV
  (a quoted cell spanning two lines is still one row, as when Excel opens the file).
- Durations: "3:45" (m:ss), "1:02:03" (h:mm:ss), "PT3M45S", "3m45s", seconds ("225", "225.5",
  "225 s") and milliseconds ("225000 ms"). A bare number of 10000 or more is taken as milliseconds
  (10000 seconds would be a track of 2 h 46 min), and every number is milliseconds when the header
  says so ("Duration (ms)"). A numeric spreadsheet cell below 1 is an Excel time (fraction of a
  day). An Excel time with hours and no seconds (3:45:00) is read as 3 min 45 s: that is what
  Excel makes of a typed "3:45", and no catalog holds 3-hour songs to the minute.
- ISRC: read by the engine's one normalizer (matcher.engine.identifiers.normalize_isrc: hyphens,
  spaces, dots and underscores dropped, uppercased, checked with python-stdnum). An invalid one
  leaves ParsedRow.isrc empty (nothing matches on it) and adds a warning, not a problem: the row
  is still matched on its artist and title. On a row that is invalid anyway (no artist or no
  title) the warning is listed with its problems.
- UPC/EAN typed into a numeric cell loses its leading zero: an 11-digit number from a numeric cell
  is padded back to the 12-digit UPC-A. UPCs are not validated (a bad UPC does not spoil a row).
- Merged cells: openpyxl's streaming mode cannot see merges, so the value stays in the top-left
  cell and the other cells of the range read as empty (rows under a vertically merged artist are
  reported as missing the artist, never silently given a guessed one).
- Formulas: the value Excel cached when it last saved the file is read; a formula never
  calculated (files written by scripts) reads as empty. Macros are never run.
- Hidden rows and sheets are read like the others. Fully empty rows are skipped but do not shift
  the numbers of the rows after them. ParsedRow.cells keeps the text as read (mojibake included);
  ParsedRow.values holds the cleaned text: whitespace collapsed, NFC, mojibake repaired by ftfy.
  U+FFFD replacement characters (bytes lost before the file reached us) cannot be repaired: they
  are kept and counted in Catalog.replacement_chars.
- CSV encodings: BOMs first (UTF-8, UTF-16, UTF-32), then strict UTF-8, then charset-normalizer
  (a Western single-byte guess is read as cp1252, the encoding Excel on Windows writes). Bytes
  that are not valid UTF-8 inside a UTF-8 file are read as cp1252 (files edited by two programs).
- Limits (Limits): the file size is checked before reading, the zip directory of xlsx/xlsm/ods
  (total uncompressed size, compression ratio, size of the shared-strings table, which openpyxl
  holds in memory) before any XML parser sees it, the row count while streaming. Tiny files can
  describe huge sheets: an .xlsx cell reference sets the width of its row and an .ods cell can
  repeat itself across 16,384 columns and a million rows. So .xlsx cells are checked against the
  column limit and the sheet's last row before a row is built from them (empty cells far to the
  right are dropped, never padded to), and an .ods content.xml is scanned for the extent of its
  cells that hold a value (columns, rows, cells) before calamine expands it. openpyxl parses
  through defusedxml (checked at import), the .xlsx sheet rows are read with defusedxml's
  iterparse (faster than openpyxl's cell reader, same values) and the .ods scan with expat and
  defusedxml's handlers, so entity declarations are refused; calamine (xls, ods) does not
  expand them.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import logging
import re
import unicodedata
import warnings
import xml.parsers.expat
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import charset_normalizer
import defusedxml
import ftfy
import olefile
import openpyxl
import openpyxl.xml
import python_calamine

from matcher.engine.identifiers import normalize_isrc
from uploads.columns import FIELDS, column_letter, duration_unit, guess_mapping

__all__ = [
    "FIELDS",
    "Catalog",
    "CatalogFileError",
    "Limits",
    "ParsedRow",
    "RowProblem",
    "SheetInfo",
    "column_letter",
    "list_sheets",
    "open_catalog",
    "parse_duration",
    "sniff_format",
]

logger = logging.getLogger(__name__)

# openpyxl only parses through defusedxml when it is importable; refuse to run without it rather
# than read untrusted workbooks with the stdlib parser.
if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - defusedxml is a hard dependency
    raise ImportError("defusedxml must be installed so that openpyxl refuses XML entity attacks")

HEADER_SCAN_ROWS = 30
SNIFF_BYTES = 8192
CSV_SAMPLE_BYTES = 1024 * 1024
# Small zips compress very well (a sheet of repeated cells); the ratio is only a bomb signal
# once the content is big enough to hurt.
ZIP_RATIO_MIN_BYTES = 10 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
# The grid of Excel and LibreOffice (column XFD, row 1,048,576): a reference past it was not
# written by a spreadsheet program.
SHEET_MAX_COLUMNS = 16_384
SHEET_MAX_ROWS = 1_048_576
# [Content_Types].xml lists a few dozen parts; it is read to find the shared-strings part.
MAX_CONTENT_TYPES_BYTES = 1024 * 1024

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
ENCRYPTED_OOXML_MARKERS = (
    "EncryptionInfo".encode("utf-16-le"),
    "EncryptedPackage".encode("utf-16-le"),
)
BINARY_SIGNATURES: dict[bytes, str] = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"\x7fELF": "a program",
    b"MZ": "a program",
    b"{\\rtf": "a Rich Text document",
    b"ID3": "an audio file",
    b"fLaC": "an audio file",
    b"RIFF": "an audio or video file",
    b"OggS": "an audio file",
}
EXTENSIONS = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xltx": "xlsx",
    ".xltm": "xlsx",
    ".xls": "xls",
    ".ods": "ods",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".tab": "csv",
}
SUPPORTED = "xlsx, xlsm, xls, ods, csv, tsv or txt"
DELIMITERS = ",;\t|"
# Encodings charset-normalizer may report for Western text; cp1252 is what Excel writes there.
WESTERN_SINGLE_BYTE = {
    "ascii",
    "latin_1",
    "iso8859_15",
    "iso8859_2",
    "iso8859_9",
    "iso8859_10",
    "iso8859_13",
    "iso8859_14",
    "iso8859_16",
    "iso8859_3",
    "iso8859_4",
    "cp1250",
    "cp1252",
    "cp1254",
    "cp1257",
    "cp850",
    "cp437",
    "mac_roman",
    "mac_latin2",
    "mac_iceland",
    "mac_turkish",
}


_WESTERN = {codecs.lookup(name).name for name in WESTERN_SINGLE_BYTE}


class CatalogFileError(Exception):
    """A whole-file problem. str(e) is one line for a label manager: what is wrong, where (file,
    sheet), and what to do."""


@dataclass(frozen=True)
class Limits:
    """Caps against oversized and hostile files (documented defaults)."""

    max_bytes: int = 100 * 1024**2
    max_rows: int = 2_000_000
    # A 1,000,000-row, 8-column .xlsx (the parsing benchmark's) expands to 464 MB.
    max_uncompressed_bytes: int = 512 * 1024**2
    max_compression_ratio: int = 200
    # openpyxl loads the whole table, at about three times its XML size.
    max_shared_strings_bytes: int = 100 * 1024**2
    # Columns read from a sheet; empty cells further right are ignored, values there refused.
    max_columns: int = 1_000
    # calamine (.ods) builds the sheet as one grid from A1 to the last value, ~120 bytes a cell.
    max_cells: int = 2_000_000


@dataclass(frozen=True, slots=True)
class SheetInfo:
    name: str
    header_row: int  # 1-based row number as shown; 0 when the sheet is empty
    headers: tuple[str, ...]  # unique header texts, "Column F" for an unnamed column
    guessed_mapping: dict[str, int]  # field -> 0-based column index


@dataclass(frozen=True, slots=True)
class RowProblem:
    column: str  # header text and column letter, e.g. "ISRC (E)"
    message: str


@dataclass(slots=True)
class ParsedRow:
    row_number: int
    cells: dict[str, str]
    values: dict[str, str]
    duration_s: float | None
    isrc: str
    # A problem makes the row invalid (not matched); a warning leaves it valid and says what was
    # ignored (an identifier that fails its check is not used as a key).
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)


# --- small helpers -----------------------------------------------------------------------------


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:,.0f} MB" if size >= 1024**2 else f"{size / 1024:,.0f} KB"


def _sheet_part(sheet: str | None) -> str:
    return f', sheet "{sheet}"' if sheet else ""


def _cell_text(value: Any) -> str:
    """A cell as the text a spreadsheet shows: integers without ".0", dates in ISO form."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return str(value)


def _is_empty(value: Any) -> bool:
    return value is None or (type(value) is str and not value.strip())


# A UTF-8 lead byte read as latin-1/cp1252 followed by a continuation byte read the same way.
_MOJIBAKE_HINT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
    "\u20ac\u2122]"
)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def _clean(text: str) -> str:
    if text.isascii():
        return " ".join(text.split())
    text = unicodedata.normalize("NFC", text.translate(_ZERO_WIDTH))
    return " ".join(text.split())


# --- durations and identifiers -----------------------------------------------------------------

_MSS = re.compile(r"(\d{1,4}):(\d{1,2})(?:[.,](\d+))?")
_HMMSS = re.compile(r"(\d{1,3}):(\d{1,2}):(\d{1,2})(?:[.,](\d+))?")
_NUMBER = re.compile(r"(\d+(?:[.,]\d+)?)\s*(ms|msec|millis|milliseconds|s|sec|secs|seconds)?")
_ISO = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?", re.IGNORECASE)
_MIN_SEC = re.compile(
    r"(?:(\d+)\s*h\s*)?(\d+)\s*(?:m|min|mins|')\s*(?:(\d+)\s*(?:s|sec|secs|\"|'')?)?"
)
MS_THRESHOLD = 10_000
_EXCEL_TIME_EPOCHS = (dt.date(1899, 12, 30), dt.date(1899, 12, 31), dt.date(1900, 1, 1))


def _seconds_of_time(value: dt.time) -> float:
    seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    # Excel turns a typed "3:45" into 3 h 45 min; for a song that can only mean 3 min 45 s.
    if value.hour and not value.second and not value.microsecond:
        return value.hour * 60 + value.minute
    return seconds


def _seconds_of_day_fraction(fraction: float) -> float:
    """An Excel time stored as a number (fraction of a day), read as _seconds_of_time does."""
    seconds = round(fraction * 86400, 3)
    if seconds >= 3600 and seconds % 60 == 0:
        return seconds / 60
    return seconds


def _number_seconds(number: float, unit: str | None) -> float:
    if unit == "ms" or (unit is None and number >= MS_THRESHOLD):
        return number / 1000
    return number


def parse_duration(value: Any, *, unit: str | None = None) -> float | None:
    """Seconds from a duration cell, None when it is empty; ValueError when it cannot be read.

    unit is "ms" or "s" when the header says so (see columns.duration_unit).
    """
    if _is_empty(value):
        return None
    seconds: float | None = None
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, int | float):
        if 0 < value < 1 and unit is None:
            seconds = _seconds_of_day_fraction(value)
        else:
            seconds = _number_seconds(float(value), unit)
    elif isinstance(value, dt.datetime):
        if value.date() in _EXCEL_TIME_EPOCHS:
            seconds = _seconds_of_time(value.time())
    elif isinstance(value, dt.time):
        seconds = _seconds_of_time(value)
    elif isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        seconds = _text_seconds(value.strip(), unit)
    if seconds is None or seconds <= 0 or seconds != seconds:
        raise ValueError(value)
    return round(seconds, 3)


def _text_seconds(text: str, unit: str | None) -> float | None:
    if match := _HMMSS.fullmatch(text):
        hours, minutes, secs, frac = match.groups()
        if int(minutes) < 60 and int(secs) < 60:
            return int(hours) * 3600 + int(minutes) * 60 + int(secs) + float(f"0.{frac or 0}")
        return None
    if match := _MSS.fullmatch(text):
        minutes, secs, frac = match.groups()
        if int(secs) < 60:
            return int(minutes) * 60 + int(secs) + float(f"0.{frac or 0}")
        return None
    if match := _NUMBER.fullmatch(text):
        number = float(match.group(1).replace(",", "."))
        suffix = match.group(2)
        if suffix:
            return number / 1000 if suffix.startswith("m") else number
        return _number_seconds(number, unit)
    if (match := _ISO.fullmatch(text)) and any(match.groups()):
        hours, minutes, secs = match.groups()
        return (
            int(hours or 0) * 3600 + int(minutes or 0) * 60 + float((secs or "0").replace(",", "."))
        )
    if match := _MIN_SEC.fullmatch(text.lower()):
        hours, minutes, secs = match.groups()
        return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs or 0)
    return None


_UPC_SEPARATORS = str.maketrans("", "", " -._\u00a0")


def _normalize_upc(text: str, raw: Any) -> str:
    digits = text.translate(_UPC_SEPARATORS)
    if isinstance(raw, int | float) and not isinstance(raw, bool) and len(digits) == 11:
        return "0" + digits  # a numeric cell dropped the UPC-A's leading zero
    return digits if digits.isdigit() else text


# --- format sniffing ---------------------------------------------------------------------------


def sniff_format(head: bytes, filename: str) -> str:
    """ "xlsx", "xls", "ods" or "csv", from the first bytes of the file (the extension only breaks
    ties). Raises CatalogFileError for empty, encrypted and non-spreadsheet content."""
    extension = Path(filename).suffix.lower()
    if not head:
        raise CatalogFileError(f'"{filename}" is empty. Export the catalog again and upload it.')
    if head.startswith(OLE2_MAGIC):
        if any(marker in head for marker in ENCRYPTED_OOXML_MARKERS):
            raise _password_error(filename)
        return "xls"
    if head.startswith(ZIP_MAGIC):
        if b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet" in head[:100]:
            return "ods"
        if b"mimetypeapplication/vnd.oasis.opendocument" in head[:100]:
            raise _not_spreadsheet(filename, "an OpenDocument file that is not a spreadsheet")
        return "ods" if extension == ".ods" else "xlsx"
    if head.startswith(EMPTY_ZIP_MAGIC):
        raise _not_spreadsheet(filename, "an empty zip archive")
    for signature, what in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise _not_spreadsheet(filename, what)
    start = head.lstrip()[:200].lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table")):
        raise _not_spreadsheet(filename, "a web page saved with a spreadsheet extension")
    if start.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        raise CatalogFileError(
            f'"{filename}" is an old Excel 2003 XML spreadsheet, which is not supported. '
            "Open it in Excel and save it as .xlsx."
        )
    if _looks_like_text(head):
        return "csv"
    raise _not_spreadsheet(filename, "binary data")


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if _utf16_without_bom(head):
        return True
    if b"\x00" in head:
        return False
    # Text in any 8-bit encoding has almost no control bytes; binary formats are full of them.
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 12, 13))
    return controls <= len(head) // 100


def _utf16_without_bom(head: bytes) -> str | None:
    sample = head[: len(head) - len(head) % 2][:4096]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0) / (len(sample) / 2)
    odd_nuls = sample[1::2].count(0) / (len(sample) / 2)
    if odd_nuls > 0.6 and even_nuls < 0.05:
        return "utf-16-le"
    if even_nuls > 0.6 and odd_nuls < 0.05:
        return "utf-16-be"
    return None


def _not_spreadsheet(filename: str, what: str) -> CatalogFileError:
    return CatalogFileError(
        f'"{filename}" is {what}, not a spreadsheet. Export the catalog as .xlsx or .csv '
        f"({SUPPORTED}) and upload that."
    )


def _password_error(filename: str) -> CatalogFileError:
    return CatalogFileError(
        f'"{filename}" is password-protected, so it cannot be read. Remove the password '
        "(in Excel: File > Info > Protect Workbook > Encrypt with Password, clear it), save, "
        "and upload it again."
    )


def _damaged(
    filename: str, kind: str, detail: object, sheet: str | None = None
) -> CatalogFileError:
    detail_text = " ".join(str(detail).split())[:160] or type(detail).__name__
    return CatalogFileError(
        f'"{filename}"{_sheet_part(sheet)} could not be read as {kind}: it looks damaged '
        f"({detail_text}). Open it in a spreadsheet program, save it as .xlsx or .csv, "
        "and upload it again."
    )


def _check_size(path: Path, filename: str, limits: Limits) -> int:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise CatalogFileError(f'"{filename}" could not be opened ({error.strerror}).') from error
    if size > limits.max_bytes:
        raise CatalogFileError(
            f'"{filename}" is {_megabytes(size)}; the limit is {_megabytes(limits.max_bytes)}. '
            "Split the catalog into smaller files and upload them one by one."
        )
    if size == 0:
        raise CatalogFileError(f'"{filename}" is empty. Export the catalog again and upload it.')
    return size


def _check_zip(path: Path, filename: str, limits: Limits) -> set[str]:
    """Read the zip directory and refuse bombs before any XML parser sees the content."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise _damaged(
            filename, "a spreadsheet", f"the zip container is broken: {error}"
        ) from error
    if len(infos) > MAX_ZIP_ENTRIES:
        raise _bomb_error(filename, f"it holds {len(infos):,} parts")
    # zipfile stops reading a member at its declared size, so these sums bound what is inflated.
    total = sum(info.file_size for info in infos)
    compressed = sum(info.compress_size for info in infos)
    if total > limits.max_uncompressed_bytes:
        raise _bomb_error(
            filename,
            f"it would expand to {_megabytes(total)} (limit "
            f"{_megabytes(limits.max_uncompressed_bytes)})",
        )
    shared_strings = _shared_strings_parts(path, infos, filename)
    for info in infos:
        if info.filename in shared_strings and info.file_size > limits.max_shared_strings_bytes:
            raise _bomb_error(
                filename,
                f"the text of its cells would take {_megabytes(info.file_size)} once unpacked "
                f"(limit {_megabytes(limits.max_shared_strings_bytes)})",
            )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= ZIP_RATIO_MIN_BYTES and ratio > limits.max_compression_ratio:
            raise _bomb_error(
                filename,
                f"a part expands {ratio:,.0f} times (limit {limits.max_compression_ratio})",
            )
    if total >= ZIP_RATIO_MIN_BYTES and total / max(compressed, 1) > limits.max_compression_ratio:
        raise _bomb_error(filename, f"it expands {total / max(compressed, 1):,.0f} times")
    return {info.filename for info in infos}


_SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"


def _shared_strings_parts(path: Path, infos: list[zipfile.ZipInfo], filename: str) -> set[str]:
    """The parts openpyxl would load as the shared-strings table: the ones [Content_Types].xml
    declares with that type (whatever their name), and any named like one."""
    from defusedxml.ElementTree import fromstring

    names = {info.filename for info in infos}
    parts = {name for name in names if name.lower().endswith("sharedstrings.xml")}
    types = next((info for info in infos if info.filename == "[Content_Types].xml"), None)
    if types is None:
        return parts
    if types.file_size > MAX_CONTENT_TYPES_BYTES:
        raise _bomb_error(
            filename, f"its list of parts would take {_megabytes(types.file_size)} once unpacked"
        )
    with zipfile.ZipFile(path) as archive:
        root = fromstring(archive.read(types))
    for override in root.iter(f"{_CONTENT_TYPES_NS}Override"):
        if override.get("ContentType") == _SHARED_STRINGS_TYPE:
            name = (override.get("PartName") or "").lstrip("/")
            if name in names:
                parts.add(name)
    return parts


def _bomb_error(filename: str, detail: str, sheet: str | None = None) -> CatalogFileError:
    return CatalogFileError(
        f'"{filename}"{_sheet_part(sheet)} was refused: {detail}, which no real catalog needs; '
        "it may be damaged or built to crash software. Save it again from your spreadsheet "
        "program or export a CSV."
    )


def _reference_text(reference: str) -> str:
    return reference if len(reference) <= 20 else reference[:17] + "..."


def _wide_error(
    filename: str, sheet: str | None, reference: str, column: int, limits: Limits
) -> CatalogFileError:
    """A value in a column past the limit (column is 0-based)."""
    if column >= SHEET_MAX_COLUMNS:
        detail = (
            f"cell {_reference_text(reference)} is past column XFD, the last column a "
            "spreadsheet can have"
        )
    else:
        detail = (
            f"cell {reference} holds a value in column {column + 1:,}, and a catalog is read up "
            f"to column {column_letter(limits.max_columns - 1)} ({limits.max_columns:,} columns)"
        )
    return _bomb_error(filename, detail, sheet)


def _deep_error(filename: str, sheet: str | None, row: int) -> CatalogFileError:
    return _bomb_error(
        filename,
        f"row {row:,} is past row {SHEET_MAX_ROWS:,}, the last row a spreadsheet can have",
        sheet,
    )


def _ole_encrypted(path: Path) -> bool:
    """Encrypted xlsx files are OLE2 containers with EncryptionInfo/EncryptedPackage streams."""
    overlap = 64
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            window = tail + chunk
            if any(marker in window for marker in ENCRYPTED_OOXML_MARKERS):
                return True
            tail = window[-overlap:]
    return False


# --- row sources -------------------------------------------------------------------------------

RowSource = Iterator[tuple[int, list[Any]]]


@dataclass(slots=True)
class _Scan:
    header_row: int
    headers: tuple[str, ...]
    guessed: dict[str, int]
    has_data: bool  # a non-empty row follows the header


def _scan_header(rows: RowSource) -> _Scan:
    """Find the header: the first of the first 30 non-empty rows that maps artist and title,
    else the first non-empty row."""
    seen: list[tuple[int, list[Any]]] = []
    scores: list[tuple[int, bool]] = []
    header: tuple[int, list[Any]] | None = None
    more = False
    for number, raw in rows:
        if all(_is_empty(value) for value in raw):
            continue
        if header is not None or len(seen) >= HEADER_SCAN_ROWS:
            more = True
            break
        seen.append((number, raw))
        guessed = guess_mapping([_cell_text(value).strip() for value in raw])
        if "artist" in guessed and "title" in guessed:
            header = (number, raw)
        scores.append((len(guessed), sum(not _is_empty(value) for value in raw) > 1))
    if header is not None:
        return _make_scan(header, has_data=more)
    if not seen:
        return _Scan(0, (), {}, has_data=False)
    # No full header: show the likeliest one (most recognised columns, then the first row with
    # several cells), so the user can pick the mapping from it.
    best = max(range(len(seen)), key=lambda index: (*scores[index], -index))
    return _make_scan(seen[best], has_data=more or best < len(seen) - 1)


def _make_scan(row: tuple[int, list[Any]], *, has_data: bool) -> _Scan:
    number, raw = row
    texts = [" ".join(_cell_text(value).split()) for value in raw]
    while texts and not texts[-1]:
        texts.pop()
    headers: list[str] = []
    taken: set[str] = set()
    for index, text in enumerate(texts):
        name = text or f"Column {column_letter(index)}"
        if name in taken:
            name = f"{name} ({column_letter(index)})"
        taken.add(name)
        headers.append(name)
    return _Scan(number, tuple(headers), guess_mapping(texts), has_data)


# The custom error handler reads stray non-UTF-8 bytes in a UTF-8 file as cp1252.
def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("cp1252", errors="replace"), error.end


codecs.register_error("trainwatch-cp1252", _cp1252_fallback)


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


def _detect_encoding(sample: bytes, filename: str) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if utf16 := _utf16_without_bom(sample):
        return utf16
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(sample) - 3 and len(sample) >= CSV_SAMPLE_BYTES:
            return "utf-8"
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        # Mostly UTF-8 with stray cp1252 bytes (the decoding error handler reads those), or an
        # 8-bit encoding charset-normalizer cannot tell apart: cp1252 is the likeliest there.
        return "utf-8" if _UTF8_SEQUENCE.search(sample) else "cp1252"
    if codecs.lookup(best.encoding).name in _WESTERN:
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    return best.encoding


def _sniff_delimiter(text: str, filename: str) -> str:
    lines = [line for line in text.splitlines()[:60] if line.strip()]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines.pop()  # possibly cut by the end of the sample
    preferred = "\t" if Path(filename).suffix.lower() in (".tsv", ".tab") else ","
    best, best_score = preferred, (0, 0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        if not widths:
            continue
        width, frequency = Counter(widths).most_common(1)[0]
        if width < 2:
            continue
        score = (frequency, width, delimiter == preferred)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _NulError(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _checked_lines(text: io.TextIOBase) -> Iterator[str]:
    for number, line in enumerate(text, start=1):
        if "\x00" in line:
            raise _NulError(number)
        yield line


# --- the catalog -------------------------------------------------------------------------------


class Catalog:
    """An opened catalog: which sheet and mapping are used, and rows() to stream its rows once.

    The counters (rows_read, repaired_mojibake, replacement_chars) are complete after rows() ends.
    Use as a context manager (or call close()) to release a workbook not read to the end.
    """

    def __init__(
        self,
        *,
        filename: str,
        format: str,
        sheet: SheetInfo,
        mapping: dict[str, int],
        limits: Limits,
        open_rows: Callable[[], RowSource],
        close: Callable[[], None],
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.filename = filename
        self.format = format
        self.sheet = sheet
        self.mapping = mapping
        self.limits = limits
        self.encoding = encoding
        self.delimiter = delimiter
        self.rows_read = 0
        self.repaired_mojibake = 0
        self.replacement_chars = 0
        self._open_rows = open_rows
        self._close = close
        self._closed = False
        self._unit = self._duration_unit()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rows(self) -> Iterator[ParsedRow]:
        """Stream the data rows under the header; raises CatalogFileError for a file that turns
        out damaged or too long while it is read."""
        self.rows_read = self.repaired_mojibake = self.replacement_chars = 0
        sheet_name = self.sheet.name if self.format != "csv" else None
        number = self.sheet.header_row
        try:
            for number, raw in self._open_rows():
                if number <= self.sheet.header_row or all(_is_empty(v) for v in raw):
                    continue
                self.rows_read += 1
                if self.rows_read > self.limits.max_rows:
                    raise CatalogFileError(
                        f'"{self.filename}"{_sheet_part(sheet_name)} has more than '
                        f"{self.limits.max_rows:,} rows, the most one upload may hold. Split the "
                        "catalog into smaller files and upload them one by one."
                    )
                yield self._parse_row(number, raw)
        except CatalogFileError:
            raise
        except _NulError as error:
            raise CatalogFileError(
                f'"{self.filename}" contains binary data (NUL bytes) on line {error.line}, so it '
                "is not a plain-text CSV. Open it in a spreadsheet program and export it as "
                "CSV UTF-8 or .xlsx."
            ) from error
        except csv.Error as error:
            raise CatalogFileError(
                f'"{self.filename}" could not be read after row {number}: {error}. Check that '
                "row in a spreadsheet program, export the file again and upload it."
            ) from error
        except Exception as error:
            if _refused_xml(error):
                raise _entities_error(self.filename) from error
            # Library errors (zip, XML, calamine, decoding) must reach the user as a message,
            # never as a crash; log them so a parser bug is still visible.
            logger.warning(
                "catalog read failed",
                extra={"catalog_file": self.filename, "row": number, "error": repr(error)},
            )
            kind = {"csv": "a CSV file", "xls": "an .xls workbook", "ods": "an .ods workbook"}
            raise _damaged(
                self.filename,
                kind.get(self.format, "an .xlsx workbook"),
                f"after row {number}: {error}",
                sheet_name,
            ) from error
        finally:
            self.close()

    def _parse_row(self, number: int, raw: list[Any]) -> ParsedRow:
        headers = self.sheet.headers
        width = len(headers)
        texts = [_cell_text(value) for value in raw]
        cells = dict(zip(headers, texts, strict=False))
        for index in range(width, len(texts)):
            if texts[index].strip():
                cells[f"Column {column_letter(index)}"] = texts[index]
        values = dict.fromkeys(FIELDS, "")
        problems: list[RowProblem] = []
        for name, index in self.mapping.items():
            if index < len(texts) and texts[index]:
                value = _clean(texts[index])
                if not value.isascii():
                    # ftfy is slow; only text with a UTF-8-read-as-cp1252 pair can be mojibake.
                    if _MOJIBAKE_HINT.search(value):
                        repaired = ftfy.fix_encoding(value)
                        if repaired != value:
                            self.repaired_mojibake += 1
                            value = repaired
                    if "\ufffd" in value:
                        self.replacement_chars += value.count("\ufffd")
                values[name] = value
        for name in ("artist", "title"):
            if not values[name]:
                problems.append(
                    RowProblem(
                        self._column_label(name),
                        f"The {name} is empty; fill it in or remove the row.",
                    )
                )
        isrc = ""
        bad_isrc: RowProblem | None = None  # a warning, unless the row is invalid anyway
        isrc_at = len(problems)  # where it goes among the problems: in the order checked
        if values["isrc"]:
            normalized = normalize_isrc(values["isrc"])
            if normalized is None:
                bad_isrc = RowProblem(
                    self._column_label("isrc"),
                    f'ISRC "{values["isrc"]}" ignored: not a valid ISRC (12 characters: '
                    "country, registrant, year, number)",
                )
            else:
                isrc = normalized
        if values["upc"]:
            values["upc"] = _normalize_upc(values["upc"], raw[self.mapping["upc"]])
        duration: float | None = None
        if "duration" in self.mapping and self.mapping["duration"] < len(raw):
            index = self.mapping["duration"]
            try:
                duration = parse_duration(raw[index], unit=self._unit)
            except ValueError:
                problems.append(
                    RowProblem(
                        self._column_label("duration"),
                        f'"{texts[index]}" is not a duration that can be read; write it as '
                        "m:ss (3:45), h:mm:ss (1:02:03) or a number of seconds (225)",
                    )
                )
        row_warnings: list[RowProblem] = []
        if bad_isrc is not None:
            # An invalid row is not matched at all: everything wrong with it is one list.
            if problems:
                problems.insert(isrc_at, bad_isrc)
            else:
                row_warnings.append(bad_isrc)
        return ParsedRow(number, cells, values, duration, isrc, problems, row_warnings)

    def _duration_unit(self) -> str | None:
        index = self.mapping.get("duration")
        if index is None or index >= len(self.sheet.headers):
            return None
        return duration_unit(self.sheet.headers[index])

    def _column_label(self, name: str) -> str:
        index = self.mapping.get(name)
        if index is None:  # a preview of an incomplete mapping (open_catalog partial_mapping)
            return f"{name.capitalize()} (no column chosen)"
        header = self.sheet.headers[index] if index < len(self.sheet.headers) else name
        return f"{header} ({column_letter(index)})"


def _refused_xml(error: BaseException) -> bool:
    """Whether defusedxml refused the XML somewhere in the chain (openpyxl re-raises it as a
    ValueError)."""
    seen: BaseException | None = error
    for _depth in range(10):
        if seen is None:
            return False
        if isinstance(seen, defusedxml.DefusedXmlException):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _entities_error(filename: str) -> CatalogFileError:
    return CatalogFileError(
        f'"{filename}" contains XML entity declarations, which Excel, LibreOffice and Google '
        "Sheets never write; it was refused for safety. Save it again from your spreadsheet "
        "program and upload the new file."
    )


# --- per-format readers ------------------------------------------------------------------------


@dataclass(slots=True)
class _Reader:
    """What open_catalog needs from one format: the sheets and a fresh row source per sheet."""

    format: str
    sheet_names: list[str]
    open_rows: Callable[[str], RowSource]
    close: Callable[[], None]
    encoding: str | None = None
    delimiter: str | None = None


MAX_CSV_CELL = 131_072  # no catalog cell is legitimately longer


def _csv_reader(path: Path, filename: str) -> _Reader:
    with path.open("rb") as handle:
        sample = handle.read(CSV_SAMPLE_BYTES)
    encoding = _detect_encoding(sample, filename)
    errors = "trainwatch-cp1252" if encoding in ("utf-8", "utf-8-sig") else "replace"
    text_sample = sample.decode(encoding, errors=errors)
    if "\x00" in text_sample:
        line = text_sample[: text_sample.index("\x00")].count("\n") + 1
        raise CatalogFileError(
            f'"{filename}" contains binary data (NUL bytes) on line {line}, so it is not a '
            "plain-text CSV. Open it in a spreadsheet program and export it as CSV UTF-8 or .xlsx."
        )
    delimiter = _sniff_delimiter(text_sample.lstrip("\ufeff"), filename)

    def open_rows(_sheet: str) -> RowSource:
        with (
            path.open("rb") as raw,
            io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="") as text,
        ):
            reader = csv.reader(_checked_lines(text), delimiter=delimiter)
            for number, row in enumerate(reader, start=1):
                if number == 1 and row and row[0].startswith("\ufeff"):
                    row[0] = row[0][1:]
                # csv's own field limit is process-wide (the dataset importer raises it), so
                # the cap on one cell is checked here.
                if any(len(cell) > MAX_CSV_CELL for cell in row):
                    raise csv.Error(f"a cell is longer than {MAX_CSV_CELL:,} characters")
                yield number, row

    return _Reader("csv", [filename], open_rows, lambda: None, encoding, delimiter)


def _openpyxl_reader(path: Path, filename: str, limits: Limits) -> _Reader:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # A file object, not a path: openpyxl refuses paths whose extension it does not know.
            handle = path.open("rb")
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except BaseException as error:
        handle.close()
        if _refused_xml(error):
            raise _entities_error(filename) from error
        raise
    sheets = {ws.title: ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")}

    def open_rows(name: str) -> RowSource:
        worksheet = sheets[name]
        if _fast_sheet_supported(worksheet):
            yield from _fast_sheet_rows(worksheet, filename, limits)
            return
        # A wrong <dimension> (A1:XFD1048576 from some exporters) would pad every row.
        worksheet.reset_dimensions()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for number, row in enumerate(worksheet.iter_rows(values_only=True), start=1):
                yield number, list(row)

    def close() -> None:
        workbook.close()
        handle.close()

    return _Reader("xlsx", list(sheets), open_rows, close)


# The sheet XML itself is read here rather than by openpyxl's cell reader, which builds a cell
# object per value and was the bulk of the time (4,400 rows/s on 8 columns). openpyxl still reads
# the workbook, its styles, the shared strings and the date formats; the values are converted the
# way its read-only reader converts them (see openpyxl.worksheet._reader.WorkSheetParser).
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_SHEET_DATA = f"{_MAIN_NS}sheetData"
_ROW = f"{_MAIN_NS}row"
_CELL = f"{_MAIN_NS}c"
_VALUE = f"{_MAIN_NS}v"
_INLINE = f"{_MAIN_NS}is"
_TEXT = f"{_MAIN_NS}t"
_RUN = f"{_MAIN_NS}r"


def _fast_sheet_supported(worksheet: Any) -> bool:
    workbook = getattr(worksheet, "parent", None)
    return (
        hasattr(worksheet, "_get_source")
        and hasattr(worksheet, "_shared_strings")
        and hasattr(workbook, "_date_formats")
        and hasattr(workbook, "_timedelta_formats")
        and hasattr(workbook, "epoch")
    )


def _column_index(reference: str) -> int:
    """ "A1" -> 0, "AB12" -> 27; SHEET_MAX_COLUMNS for any reference past column XFD (so that a
    hostile reference of a million letters is no million-digit number)."""
    number = 0
    for char in reference:
        if char <= "9":
            break
        number = number * 26 + (ord(char.upper()) - 64)
        if number > SHEET_MAX_COLUMNS:
            return SHEET_MAX_COLUMNS
    return number - 1


def _inline_text(node: Any) -> str | None:
    parts = []
    plain = node.find(_TEXT)
    if plain is not None and plain.text:
        parts.append(plain.text)
    for run in node.findall(_RUN):
        text = run.find(_TEXT)
        if text is not None and text.text:
            parts.append(text.text)
    return "".join(parts) if parts or plain is not None else None


def _fast_sheet_rows(worksheet: Any, filename: str, limits: Limits) -> RowSource:
    """The sheet's non-empty rows as (row number, values). The <dimension> is not trusted (some
    exporters write A1:XFD1048576): each row is as wide as its last value, and a reference past
    the sheet's grid, or a value past limits.max_columns, is refused before the row is built."""
    from defusedxml.ElementTree import iterparse
    from openpyxl.utils.datetime import from_excel, from_ISO8601

    workbook = worksheet.parent
    strings = worksheet._shared_strings
    date_formats = workbook._date_formats
    timedelta_formats = workbook._timedelta_formats
    epoch = workbook.epoch
    expected = 1
    sheet_data: Any = None
    with worksheet._get_source() as source:
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if element.tag == _SHEET_DATA:
                    sheet_data = element
                continue
            if element.tag != _ROW:
                continue
            reference = element.get("r")
            number = int(reference) if reference else expected
            if number > SHEET_MAX_ROWS:
                raise _deep_error(filename, worksheet.title, number)
            values: list[Any] = []
            column = 0
            for cell in element:
                if cell.tag != _CELL:
                    continue
                coordinate = cell.get("r")
                column = _column_index(coordinate) if coordinate else column
                if column >= SHEET_MAX_COLUMNS:
                    where = coordinate or f"{column_letter(column)}{number}"
                    raise _wide_error(filename, worksheet.title, where, column, limits)
                kind = cell.get("t", "n")
                value: Any
                if kind == "inlineStr":
                    inline = cell.find(_INLINE)
                    value = _inline_text(inline) if inline is not None else None
                else:
                    value = cell.findtext(_VALUE) or None
                    if value is None:
                        pass
                    elif kind == "n":
                        number_value: float = (
                            float(value)
                            if ("." in value or "e" in value or "E" in value)
                            else int(value)
                        )
                        value = number_value
                        style = int(cell.get("s", 0) or 0)
                        if style in date_formats:
                            try:
                                value = from_excel(
                                    number_value, epoch, timedelta=style in timedelta_formats
                                )
                            except (OverflowError, ValueError):
                                value = "#VALUE!"
                    elif kind == "s":
                        value = strings[int(value)]
                    elif kind == "b":
                        value = bool(int(value))
                    elif kind == "d":
                        value = from_ISO8601(value)
                if column >= limits.max_columns:
                    if not _is_empty(value):
                        where = coordinate or f"{column_letter(column)}{number}"
                        raise _wide_error(filename, worksheet.title, where, column, limits)
                    column += 1
                    continue
                if column >= len(values):
                    values.extend([None] * (column - len(values)))
                    values.append(value)
                else:
                    values[column] = value
                column += 1
            # Rows missing from the XML are empty: readers skip those, so none is made up here
            # (a first row at 1,000,000 would otherwise be a million empty rows).
            yield number, values
            expected = number + 1
            # Drop the parsed row from the tree so that memory stays flat however long the sheet.
            element.clear()
            if sheet_data is not None:
                sheet_data.clear()


@contextlib.contextmanager
def _panics_as_errors() -> Iterator[None]:
    """calamine's Rust code panics on some damaged files (a record shorter than its fields,
    found by mutating a real .xls); pyo3 raises that as PanicException, a BaseException that
    `except Exception` lets through as a 500. Made an ordinary error, it reaches the user as
    a damaged file."""
    try:
        yield
    except BaseException as error:
        if type(error).__name__ != "PanicException":
            raise
        raise RuntimeError(f"the reader stopped on damaged content ({error})") from error


def _calamine_reader(path: Path, filename: str, kind: str) -> _Reader:
    try:
        with path.open("rb") as handle, _panics_as_errors():
            # calamine reads the whole workbook (xls and ods are small by nature); from_filelike
            # sniffs the content instead of trusting the extension.
            workbook = python_calamine.CalamineWorkbook.from_filelike(handle)
    except python_calamine.PasswordError as error:
        raise _password_error(filename) from error
    names = list(workbook.sheet_names)

    def open_rows(name: str) -> RowSource:
        with _panics_as_errors():
            sheet = workbook.get_sheet_by_name(name)
            # iter_rows starts at A1 whatever the first used cell is, so numbering is absolute.
            yield from enumerate(sheet.iter_rows(), start=1)

    def close() -> None:
        workbook.close()

    return _Reader(kind, names, open_rows, close)


@dataclass(slots=True)
class _Grid:
    """The extent of a sheet's values as calamine builds it: one grid from A1 to the last
    value. value() refuses a value past the limits before calamine would allocate for it."""

    filename: str
    sheet: str | None
    limits: Limits
    width: int = 0
    height: int = 0

    def value(self, right: int, bottom: int, reference: str) -> None:
        """A value (or a block of repeated ones) reaching column `right` and row `bottom`
        (1-based); reference names its first cell."""
        if right > self.limits.max_columns:
            raise _wide_error(self.filename, self.sheet, reference, right - 1, self.limits)
        if bottom > SHEET_MAX_ROWS:
            raise _deep_error(self.filename, self.sheet, bottom)
        self.width = max(self.width, right)
        self.height = max(self.height, bottom)
        cells = self.width * self.height
        if cells > self.limits.max_cells:
            raise _bomb_error(
                self.filename,
                f"its values would fill {self.height:,} rows by {self.width:,} columns "
                f"({cells:,} cells) once unpacked, and a sheet is read up to "
                f"{self.limits.max_cells:,} cells",
                self.sheet,
            )


@dataclass(slots=True)
class _OdsTable:
    grid: _Grid
    row: int = 0  # rows before the current one
    rows_repeated: int = 1
    column: int = 0  # columns before the current cell
    columns_repeated: int = 1
    cell_depth: int = 0  # > 0 inside a cell
    cell_has_value: bool = False


_ODS_TABLE = "table:table"
_ODS_ROW = "table:table-row"
_ODS_CELLS = frozenset({"table:table-cell", "table:covered-table-cell"})
_ODS_ROWS_REPEATED = "table:number-rows-repeated"
_ODS_COLUMNS_REPEATED = "table:number-columns-repeated"


def _ods_repeat(value: str | None) -> int:
    try:
        return max(int(value), 1) if value else 1
    except ValueError:
        return 1


class _OdsExtent:
    """Follows content.xml as calamine reads it, counting repeated rows and cells without
    expanding them, and refuses a sheet whose values reach past the limits. Empty cells and
    rows only move the position: LibreOffice writes the rest of every row and sheet as repeated
    empty cells (number-columns-repeated="16384"), and calamine does not keep those.

    Names are matched as written, "table:table-cell", as calamine matches them (a cell under
    another prefix bound to the same namespace is ignored by calamine, so it cannot expand).
    A cell counts as holding a value when it has an office:value-type (calamine keeps a string
    cell even when empty) or any element inside (a paragraph of text; counting the rare empty
    ones too costs nothing real, and watching every piece of text would slow the scan)."""

    def __init__(self, filename: str, limits: Limits) -> None:
        self.filename = filename
        self.limits = limits
        self.tables: list[_OdsTable] = []
        self.table: _OdsTable | None = None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        table = self.table
        if name == _ODS_TABLE:
            grid = _Grid(self.filename, attrs.get("table:name", ""), self.limits)
            self.table = _OdsTable(grid)
            self.tables.append(self.table)
        elif table is None:
            return
        elif table.cell_depth:
            table.cell_depth += 1
            table.cell_has_value = True
        elif name == _ODS_ROW:
            table.rows_repeated = _ods_repeat(attrs.get(_ODS_ROWS_REPEATED))
            table.column = 0
        elif name in _ODS_CELLS:
            table.cell_depth = 1
            table.columns_repeated = _ods_repeat(attrs.get(_ODS_COLUMNS_REPEATED))
            table.cell_has_value = "office:value-type" in attrs

    def end(self, name: str) -> None:
        table = self.table
        if table is None:
            return
        if table.cell_depth > 1:
            table.cell_depth -= 1
        elif table.cell_depth == 1:
            table.cell_depth = 0
            if table.cell_has_value:
                self._check(table)
            table.column += table.columns_repeated
        elif name == _ODS_ROW:
            table.row += table.rows_repeated
        elif name == _ODS_TABLE:
            self.tables.pop()
            self.table = self.tables[-1] if self.tables else None

    def _check(self, table: _OdsTable) -> None:
        right = table.column + table.columns_repeated
        reference = f"{column_letter(right - 1)}{table.row + 1}"
        table.grid.value(right, table.row + table.rows_repeated, reference)


def _check_xlsx_extent(path: Path, filename: str, limits: Limits) -> None:
    """Before calamine reads an .xlsx that openpyxl could not: bound the extent of every
    sheet's values, as for .ods (calamine would allocate the grid up to a cell at ZZZZZZ2 or
    row 10^8, and abort the process when that fails). Every part whose root is a worksheet is
    scanned, whatever its name; only this rare path pays for the extra read."""
    from xml.etree.ElementTree import ParseError

    from defusedxml.ElementTree import iterparse

    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as source, contextlib.suppress(ParseError):
                # Images and macros are no XML; a broken sheet calamine cannot read either
                # (its values are checked as they are met, up to the break).
                _check_worksheet_extent(
                    iterparse(source, events=("start", "end")), filename, limits
                )


def _check_worksheet_extent(
    events: Iterator[tuple[str, Any]], filename: str, limits: Limits
) -> None:
    grid = _Grid(filename, None, limits)
    row = column = 0
    open_elements: list[Any] = []
    for event, element in events:
        local = element.tag.rpartition("}")[2]
        if event == "start":
            if not open_elements and local != "worksheet":
                return  # not a sheet (styles, strings, drawings...): calamine reads no cells there
            open_elements.append(element)
            if local == "row":
                reference = element.get("r")
                row = int(reference) if reference else row + 1
                column = -1
            elif local == "c":
                coordinate = element.get("r")
                column = _column_index(coordinate) if coordinate else column + 1
            continue
        open_elements.pop()
        if local == "c":
            if any(child.tag.rpartition("}")[2] in ("v", "is") for child in element):
                reference = element.get("r") or f"{column_letter(column)}{row}"
                grid.value(column + 1, row, _reference_text(reference))
        elif any(e.tag.rpartition("}")[2] == "c" for e in open_elements):
            continue  # inside a cell: its value is looked at when the cell ends
        # Drop what has been looked at, so that memory stays flat however long the part.
        if open_elements:
            open_elements[-1].remove(element)


def _check_ods_extent(path: Path, filename: str, limits: Limits) -> None:
    """Refuse an .ods whose repeated cells would expand past the limits, before calamine
    builds its sheets (it expands every repeated cell that holds a value)."""
    extent = _OdsExtent(filename, limits)
    # expat directly rather than defusedxml's SAX driver, whose per-element Python layer made
    # the scan three times as slow as calamine's whole read; the handlers that refuse entity
    # declarations and external references are the ones defusedxml's driver installs.
    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = extent.start
    parser.EndElementHandler = extent.end
    parser.EntityDeclHandler = _forbid_entity
    parser.UnparsedEntityDeclHandler = _forbid_unparsed_entity
    parser.ExternalEntityRefHandler = _forbid_external_reference
    with zipfile.ZipFile(path) as archive:
        if "content.xml" not in archive.namelist():
            return  # calamine reports the missing part
        with archive.open("content.xml") as content:
            parser.ParseFile(content)


# BIFF records (.xls) that put a value in a cell, which calamine places in its grid (blanks
# and the DIMENSIONS record it ignores, measured): type -> True when the record is a run of
# cells whose last column closes the record (MULRK).
_XLS_VALUE_RECORDS = {
    0x0203: False,  # NUMBER
    0x0204: False,  # LABEL
    0x0205: False,  # BOOLERR
    0x0006: False,  # FORMULA
    0x027E: False,  # RK
    0x00FD: False,  # LABELSST
    0x00D6: False,  # RSTRING
    0x00BD: True,  # MULRK
}
_XLS_BOF = 0x0809
_XLS_EOF = 0x000A
_XLS_BOUNDSHEET = 0x0085
_XLS_DIMENSIONS = 0x0200
# An .xls sheet ends at row 65,536 and column IV (256 columns).
_XLS_MAX_ROWS = 65_536
_XLS_MAX_COLUMNS = 256


def _xls_sheet_name(record: bytes, biff8: bool) -> tuple[int, str]:
    """The stream offset and name a BOUNDSHEET record gives a sheet."""
    offset = int.from_bytes(record[0:4], "little")
    length = record[6] if len(record) > 6 else 0
    if not biff8:
        return offset, record[7 : 7 + length].decode("latin-1")
    wide = len(record) > 7 and record[7] & 1
    raw = record[8 : 8 + length * (2 if wide else 1)]
    return offset, raw.decode("utf-16-le" if wide else "latin-1", errors="replace")


def _check_xls_dimensions(record: bytes, grid: _Grid) -> None:
    """calamine reserves a sheet's cells from its DIMENSIONS record before reading them: a
    record claiming more than an .xls can hold, or a first row past the last (it subtracts),
    made it ask for 171 GB and abort the process, a worker with it. A record within the sheet's
    bounds costs nothing until values fill it (measured: 12 MB for 65,536 x 256), and the values
    are bounded on their own."""
    # calamine takes the record's layout from its length, as here: 16-bit rows in 8 or 10
    # bytes (BIFF5), 32-bit rows from 12 (BIFF8), whatever the BOF record said.
    if len(record) >= 12:
        first_row = int.from_bytes(record[0:4], "little")
        end_row = int.from_bytes(record[4:8], "little")
        first_column = int.from_bytes(record[8:10], "little")
        end_column = int.from_bytes(record[10:12], "little")
    elif len(record) >= 8:
        first_row, end_row, first_column, end_column = (
            int.from_bytes(record[i : i + 2], "little") for i in (0, 2, 4, 6)
        )
    else:
        return
    if first_row <= end_row <= _XLS_MAX_ROWS and first_column <= end_column <= _XLS_MAX_COLUMNS:
        return
    claim = (
        f"its size record claims rows {first_row + 1:,} to {end_row:,} and columns "
        f"{first_column + 1:,} to {end_column:,}"
    )
    if first_row > end_row or first_column > end_column:
        detail = f"{claim}, the first after the last"
    else:
        bounds = f"{_XLS_MAX_ROWS:,} rows and {_XLS_MAX_COLUMNS} columns"
        detail = f"{claim}, past the {bounds} of an .xls sheet"
    raise _bomb_error(grid.filename, detail, grid.sheet)


def _xls_records(data: bytes, position: int) -> Iterator[tuple[int, bytes]]:
    """(type, body) of the BIFF records from `position` to the end of the substream (its EOF
    record), read as calamine reads them: a header of type and length, then the body."""
    end = len(data)
    while position + 4 <= end:
        kind = data[position] | data[position + 1] << 8
        size = data[position + 2] | data[position + 3] << 8
        body = position + 4
        yield kind, data[body : body + size]
        if kind == _XLS_EOF:
            return
        position = body + size


def _check_xls_extent(path: Path, filename: str, limits: Limits) -> None:
    """Refuse an .xls whose values would make calamine build a grid past the limits: it sizes
    each sheet from A1 to its farthest value, so one cell at IV65536 in a 6 KB file costs
    1 GB. The record headers are read before calamine reads them, and where calamine reads
    them: the workbook globals from the start of the stream, then each sheet from the offset
    its BOUNDSHEET record gives (so a damaged record length upsets both readings alike)."""
    with contextlib.suppress(OSError):
        if not olefile.isOleFile(str(path)):
            return  # not a compound file (a BIFF2-4 or mislabeled file): calamine reports it
    try:
        with olefile.OleFileIO(str(path)) as ole:
            name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
            if name is None:
                return  # calamine reports the missing stream
            data = ole.openstream(name).read()
    except OSError:
        return  # a damaged container: calamine reports it in its own words
    sheets: dict[int, str] = {}
    biff8 = True
    for index, (kind, record) in enumerate(_xls_records(data, 0)):
        if index == 0 and kind == _XLS_BOF and len(record) >= 2:
            biff8 = (record[0] | record[1] << 8) >= 0x0600
        elif kind == _XLS_BOUNDSHEET and len(record) >= 8:
            offset, sheet = _xls_sheet_name(record, biff8)
            sheets.setdefault(offset, sheet)
    for offset, sheet in sheets.items():
        grid = _Grid(filename, sheet, limits)
        for kind, record in _xls_records(data, offset):
            if kind == _XLS_DIMENSIONS:
                _check_xls_dimensions(record, grid)
            elif kind in _XLS_VALUE_RECORDS and len(record) >= 4:
                row = (record[0] | record[1] << 8) + 1
                first = record[2] | record[3] << 8
                last = first
                if _XLS_VALUE_RECORDS[kind] and len(record) >= 6:
                    last = record[-2] | record[-1] << 8
                grid.value(max(first, last) + 1, row, f"{column_letter(first)}{row}")


def _forbid_entity(name: str, _parameter: bool, value: str | None, *rest: str | None) -> None:
    base, sysid, pubid, notation = rest
    raise defusedxml.EntitiesForbidden(name, value, base, sysid, pubid, notation)


def _forbid_unparsed_entity(name: str, *rest: str | None) -> None:
    base, sysid, pubid, notation = rest
    raise defusedxml.EntitiesForbidden(name, None, base, sysid, pubid, notation)


def _forbid_external_reference(context: str, *rest: str | None) -> int:
    base, sysid, pubid = rest
    raise defusedxml.ExternalReferenceForbidden(context, base, sysid, pubid)


def _open_reader(path: Path, filename: str, limits: Limits) -> _Reader:
    _check_size(path, filename, limits)
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    kind = sniff_format(head, filename)
    try:
        if kind == "csv":
            return _csv_reader(path, filename)
        if kind == "xls":
            if _ole_encrypted(path):
                raise _password_error(filename)
            _check_xls_extent(path, filename, limits)
            return _calamine_reader(path, filename, "xls")
        names = _check_zip(path, filename, limits)
        if kind == "ods":
            _check_ods_extent(path, filename, limits)
            return _calamine_reader(path, filename, "ods")
        if "xl/workbook.xml" not in names and not any(n.endswith("workbook.xml") for n in names):
            if "word/document.xml" in names:
                raise _not_spreadsheet(filename, "a Word document")
            if "ppt/presentation.xml" in names:
                raise _not_spreadsheet(filename, "a PowerPoint presentation")
            raise _not_spreadsheet(filename, "a zip archive")
        try:
            return _openpyxl_reader(path, filename, limits)
        except CatalogFileError:
            raise
        except Exception as error:
            # openpyxl is strict about some exporters' quirks; calamine often still reads them.
            logger.info("openpyxl failed, trying calamine", extra={"error": repr(error)})
            _check_xlsx_extent(path, filename, limits)
            try:
                return _calamine_reader(path, filename, "xlsx")
            except Exception:
                raise _damaged(filename, "an .xlsx workbook", error) from error
    except CatalogFileError:
        raise
    except Exception as error:
        if _refused_xml(error):
            raise _entities_error(filename) from error
        raise _damaged(
            filename, {"csv": "a CSV file"}.get(kind, f"an .{kind} workbook"), error
        ) from error


def _sheet_infos(reader: _Reader, filename: str) -> list[tuple[SheetInfo, _Scan]]:
    infos = []
    for name in reader.sheet_names:
        try:
            scan = _scan_header(reader.open_rows(name))
        except _NulError as error:
            raise CatalogFileError(
                f'"{filename}" contains binary data (NUL bytes) on line {error.line}, so it is '
                "not a plain-text CSV. Export it again as CSV UTF-8 or .xlsx."
            ) from error
        except CatalogFileError:
            raise
        except Exception as error:
            if _refused_xml(error):
                raise _entities_error(filename) from error
            sheet = name if reader.format != "csv" else None
            raise _damaged(filename, f"a {reader.format} file", error, sheet) from error
        info = SheetInfo(name, scan.header_row, scan.headers, scan.guessed)
        infos.append((info, scan))
    return infos


def list_sheets(path: Path, *, filename: str, limits: Limits | None = None) -> list[SheetInfo]:
    """Every sheet with its detected header row and guessed mapping (a CSV is one sheet named
    after the file)."""
    reader = _open_reader(Path(path), filename, limits or Limits())
    try:
        return [info for info, _scan in _sheet_infos(reader, filename)]
    finally:
        reader.close()


def open_catalog(
    path: Path,
    *,
    filename: str,
    sheet: str | None = None,
    mapping: dict[str, int] | None = None,
    limits: Limits | None = None,
    partial_mapping: bool = False,
) -> Catalog:
    """Open a catalog file for streaming: pick the sheet (default: the first with a recognisable
    header), check the mapping, and refuse empty or header-only sheets.

    partial_mapping=True (previews only) accepts a mapping without artist or title; every row
    then reports the missing field as a problem.
    """
    limits = limits or Limits()
    reader = _open_reader(Path(path), filename, limits)
    try:
        catalog = _make_catalog(reader, filename, sheet, mapping, limits, partial_mapping)
    except BaseException:
        reader.close()
        raise
    return catalog


def _make_catalog(
    reader: _Reader,
    filename: str,
    sheet: str | None,
    mapping: dict[str, int] | None,
    limits: Limits,
    partial_mapping: bool = False,
) -> Catalog:
    infos = _sheet_infos(reader, filename)
    if not infos:
        raise CatalogFileError(f'"{filename}" has no sheets. Export the catalog again.')
    if sheet is not None and reader.format != "csv":
        chosen = next((pair for pair in infos if pair[0].name == sheet), None)
        if chosen is None:
            names = ", ".join(f'"{info.name}"' for info, _ in infos)
            raise CatalogFileError(
                f'"{filename}" has no sheet named "{sheet}"; its sheets are {names}.'
            )
    else:
        recognised = [
            pair for pair in infos if {"artist", "title"} <= pair[0].guessed_mapping.keys()
        ]
        filled = [pair for pair in infos if pair[0].header_row]
        chosen = (recognised or filled or infos)[0]
    info, scan = chosen
    where = f'"{filename}"' + (_sheet_part(info.name) if reader.format != "csv" else "")
    if not info.header_row:
        raise CatalogFileError(
            f"{where} is empty. Export the catalog again with a header row (artist, title...) "
            "and one row per recording."
        )
    used = dict(info.guessed_mapping if mapping is None else mapping)
    unknown = set(used) - set(FIELDS)
    if unknown:
        raise CatalogFileError(
            f"{where}: unknown fields in the mapping: {', '.join(sorted(unknown))}."
        )
    for name, index in used.items():
        if not isinstance(index, int) or not 0 <= index < max(len(info.headers), 1):
            raise CatalogFileError(
                f'{where}: the mapping puts "{name}" in column {index}, but the header row '
                f"(row {info.header_row}) has {len(info.headers)} columns. "
                "Choose the mapping again."
            )
    for required in ("artist", "title"):
        if required not in used and not partial_mapping:
            headers = ", ".join(info.headers)
            raise CatalogFileError(
                f'{where}: no column for "{required}" was found; the header row '
                f"(row {info.header_row}) has: {headers}. Rename a column or choose the mapping."
            )
    if not scan.has_data:
        raise CatalogFileError(
            f"{where} has a header row (row {info.header_row}) but no catalog rows under it. "
            "Add one row per recording below the header and upload it again."
        )
    return Catalog(
        filename=filename,
        format=reader.format,
        sheet=info,
        mapping=used,
        limits=limits,
        open_rows=lambda: reader.open_rows(info.name),
        close=reader.close,
        encoding=reader.encoding,
        delimiter=reader.delimiter,
    )
