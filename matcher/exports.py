"""Report exports. The CSV is written line by line (constant memory), with every cell that a
spreadsheet would read as a formula neutralized."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from matcher.models import MatchRun
from matcher.selectors import ReportLine, report_lines

# The command-line contract's columns come first and keep their names and order.
CONTRACT_COLUMNS = (
    "catalog_row",
    "status",
    "dataset",
    "dataset_track_id",
    "match_kind",
    "confidence",
    "catalog_artist",
    "catalog_title",
    "dataset_artist",
    "dataset_title",
)
EVIDENCE_COLUMNS = (
    "catalog_album",
    "catalog_isrc",
    "catalog_duration_s",
    "dataset_album",
    "dataset_duration_s",
    "dataset_url",
    "artist_score",
    "title_score",
    "duration_delta_s",
    "version_note",
    "rules",
    "dataset_version",
    "dataset_version_sha256",
    "source_file",
    "source_row",
    "note",
)
COLUMNS = CONTRACT_COLUMNS + EVIDENCE_COLUMNS

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """Prefix text a spreadsheet would evaluate (=, +, -, @, tab, CR) with an apostrophe.

    Numbers stay numbers: only text cells can carry a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _fmt(value: float | None, digits: int = 1) -> str | float:
    return "" if value is None else round(value, digits)


def line_values(line: ReportLine) -> list[Any]:
    row, result, m = line.row, line.result, line.match
    base: list[Any] = [row.row_number, result.status]
    if m is None:
        base += ["", "", "", "", row.artist, row.title, "", ""]
        base += [row.album, row.isrc, _fmt(row.duration_s), "", "", "", "", "", "", "", "", ""]
        base += ["", "", "", result.note]
        return base
    track = m.track
    evidence = m.evidence or {}
    base += [
        m.dataset.slug,
        track.track_id,
        m.kind,
        m.confidence,
        row.artist,
        row.title,
        track.artist,
        track.title,
        row.album,
        row.isrc,
        _fmt(row.duration_s),
        track.album,
        _fmt(track.duration_s),
        track.url,
        _fmt(m.artist_score),
        _fmt(m.title_score),
        _fmt(m.duration_delta_s),
        m.version_note,
        " | ".join(evidence.get("rules", [])),
        track.version.number,
        track.version.sha256,
        track.source_file,
        track.source_row,
        result.note,
    ]
    return base


class _Echo:
    def write(self, value: str) -> str:
        return value


def report_csv_lines(run: MatchRun, *, bom: bool = False) -> Iterator[str]:
    """The report as CSV text, one line at a time."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    if bom:
        yield "\ufeff"
    yield writer.writerow(COLUMNS)
    for line in report_lines(run):
        yield writer.writerow([neutralize(v) for v in line_values(line)])


def report_csv_write(run: MatchRun, out: io.TextIOBase) -> int:
    count = -1
    for text in report_csv_lines(run):
        out.write(text)
        count += 1
    return count
