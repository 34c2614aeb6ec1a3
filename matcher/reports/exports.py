"""Report exports: CSV (streamed line by line), XLSX (openpyxl write-only, via a temporary file),
the printable HTML report (matcher.reports.printable) and the evidence pack (zip + SHA-256
manifest). Memory stays flat for any report size, and no cell is read as a formula: the CSV
prefixes such text with an apostrophe (a CSV has no cell types); the XLSX writes it unchanged as
a text cell with Excel's quote prefix, so the value a lawyer sees and copies is the one stored."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.db.models import Prefetch
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from matcher.engine.normalize import NORMALIZER_VERSION
from matcher.models import Match, MatchRun, Verdict, VerdictEvent
from matcher.reports import wording
from matcher.reports.printable import report_html_chunks
from matcher.reports.selectors import RUN_FIGURES, ReportLine, report_lines, report_summary

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
# The reviewers' verdicts follow the contract's columns, so a lawyer sees them first.
REVIEW_COLUMNS = ("verdict", "reviewer", "reviewed_at", "verdict_note")
COLUMNS = CONTRACT_COLUMNS + REVIEW_COLUMNS + EVIDENCE_COLUMNS

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


def _review_values(m: Match) -> list[Any]:
    # Reverse one-to-one: raises when absent unless select_related found nothing (then None).
    try:
        verdict: Verdict | None = m.verdict
    except Verdict.DoesNotExist:
        verdict = None
    if verdict is None:
        return ["", "", "", ""]
    reviewer = verdict.reviewed_by.get_username() if verdict.reviewed_by else ""
    return [
        verdict.value,
        reviewer,
        verdict.reviewed_at.isoformat(timespec="seconds"),
        verdict.note,
    ]


def line_values(line: ReportLine) -> list[Any]:
    row, result, m = line.row, line.result, line.match
    base: list[Any] = [row.row_number, result.status]
    if m is None:
        base += ["", "", "", "", row.artist, row.title, "", ""]
        base += ["", "", "", ""]
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
        *_review_values(m),
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


# --- XLSX -------------------------------------------------------------------------------------

XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet, header included
XLSX_MAX_CELL = 32_767  # Excel's limit on characters in a cell
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1D2330")
_WIDTHS = {
    "catalog_row": 8,
    "status": 11,
    "dataset": 18,
    "dataset_track_id": 24,
    "match_kind": 11,
    "confidence": 11,
    "catalog_artist": 28,
    "catalog_title": 36,
    "dataset_artist": 28,
    "dataset_title": 36,
    "verdict": 11,
    "reviewer": 14,
    "reviewed_at": 20,
    "verdict_note": 30,
    "rules": 40,
    "dataset_url": 40,
    "dataset_version_sha256": 20,
    "note": 30,
}


def _xlsx_value(ws: Any, value: Any) -> Any:
    """A cell value Excel and LibreOffice accept: no XML control character, not longer than a
    cell may be, and never a formula. Text a spreadsheet would evaluate (=, +, -, @...) stays as
    it is, in a text cell (openpyxl would make `=...` a formula) with the quote prefix, which
    keeps it text when edited: no apostrophe is added to the value (issue 17)."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_MAX_CELL]
    if not value.startswith(FORMULA_PREFIXES):
        return value
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _sheet_title(name: str, taken: set[str]) -> str:
    title = re.sub(r"[\[\]:*?/\\]", "-", name)[:31] or "dataset"
    base, n = title, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def _table_sheet(wb: Workbook, title: str, columns: tuple[str, ...]) -> Any:
    ws = wb.create_sheet(title)
    # Widths and the frozen header must be set before the first row is written (write-only).
    for i, name in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(name, 16)
    ws.freeze_panes = "A2"
    header = []
    for name in columns:
        cell = WriteOnlyCell(ws, value=name)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        header.append(cell)
    ws.append(header)
    return ws


# The Summary sheet's figures, in order (selectors.RUN_FIGURES: the API's too).
SUMMARY_FIGURES = RUN_FIGURES


def report_xlsx_write(run: MatchRun, target: Any) -> dict[str, int]:
    """Write the report as an XLSX workbook (openpyxl write-only: rows go straight to disk).

    Sheets: Summary (report_summary's figures, each with what it counts), All rows (the CSV's
    lines: `lines`), then one per dataset with its match lines (`match_lines` of the dataset).
    Returns the number of lines written per sheet.
    """
    summary = report_summary(run)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Summary")
    ws.column_dimensions["A"].width = 34
    for letter in "BCDEFGHIJ":
        ws.column_dimensions[letter].width = 16
    bold = Font(bold=True)

    def label_row(*values: Any) -> list[Any]:
        first = _xlsx_value(ws, values[0])
        if not isinstance(first, Cell):
            first = WriteOnlyCell(ws, value=first)
        first.font = bold
        return [first, *(_xlsx_value(ws, v) for v in values[1:])]

    ws.append(label_row(f"trainwatch overlap report, run {run.pk}"))
    ws.append(label_row("Catalog", run.catalog.name))
    ws.append(label_row("Engine", run.engine_version))
    ws.append(label_row(summary.headline))
    ws.append([])
    # Each figure with its label and what it counts, worded once (matcher.reports.wording).
    ws.append(label_row("Figure", "Value", "What it counts"))
    for name in SUMMARY_FIGURES:
        if name == "unchecked" and not summary.unchecked:
            continue
        ws.append(label_row(wording.label(name), getattr(summary, name), wording.definition(name)))
    ws.append([])
    kinds = [k for k, _label, _n in summary.kind_rows]
    ws.append(
        label_row(
            "Dataset",
            "Version",
            "SHA-256",
            wording.label("dataset_found"),
            "of them duplicates",
            "Share",
            "Matches",
            "Match lines",
            "Rows with a confirmed match",
            *kinds,
        )
    )
    for d in summary.datasets:
        ws.append(
            label_row(
                d.name,
                d.version,
                d.version_sha256,
                d.found,
                d.found_duplicates,
                round(d.share, 4),
                d.matches,
                d.match_lines,
                d.confirmed,
                *(n for _k, n in d.kind_bars),
            )
        )
    ws.append([])
    ws.append(
        label_row(
            "Presence of a recording in a dataset is not proof that a model was trained on it."
        )
    )

    taken = {"summary", "all rows"}
    sheets = {"": _table_sheet(wb, "All rows", COLUMNS)}
    for d in summary.datasets:
        sheets[d.slug] = _table_sheet(wb, _sheet_title(d.slug, taken), COLUMNS)
    counts = dict.fromkeys(sheets, 0)
    for line in report_lines(run):
        values = [_xlsx_value(ws, v) for v in line_values(line)]
        targets = [""] + ([line.match.dataset.slug] if line.match is not None else [])
        for key in targets:
            sheet = sheets.get(key)
            if sheet is None or counts[key] >= XLSX_MAX_ROWS - 1:
                continue
            sheet.append(values)
            counts[key] += 1
    last = get_column_letter(len(COLUMNS))
    for key, sheet in sheets.items():
        sheet.auto_filter.ref = f"A1:{last}{counts[key] + 1}"
    wb.save(target)
    return counts


def report_xlsx_tempfile(run: MatchRun) -> IO[bytes]:
    """The workbook in an anonymous temporary file, rewound, for a FileResponse to stream."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 -- FileResponse closes it
    report_xlsx_write(run, handle)
    handle.seek(0)
    return handle


# --- evidence pack ----------------------------------------------------------------------------

PACK_FORMAT = "trainwatch-evidence-pack/1"


def match_evidence_document(m: Match) -> dict[str, Any]:
    """One match as a self-contained JSON document: both sides, scores, provenance, verdict."""
    row, track = m.catalog_row, m.track
    try:
        verdict: Verdict | None = m.verdict
    except Verdict.DoesNotExist:
        verdict = None
    return {
        "match": m.pk,
        "run": m.run_id,
        "kind": m.kind,
        "confidence": m.confidence,
        "rank_in_dataset": m.rank,
        "catalog_row": {
            "row": row.row_number,
            "cells": row.cells,
            "artist": row.artist,
            "title": row.title,
            "version": row.version,
            "album": row.album,
            "isrc": row.isrc,
            "duration_s": row.duration_s,
            "warnings": row.warnings,
        },
        "dataset_track": {
            "dataset": m.dataset.slug,
            "dataset_version": track.version.number,
            "dataset_version_sha256": track.version.sha256,
            "track_id": track.track_id,
            "artist": track.artist,
            "title": track.title,
            "album": track.album,
            "duration_s": track.duration_s,
            "isrc": track.isrc,
            "url": track.url,
            "source_file": track.source_file,
            "source_row": track.source_row,
        },
        "scores": {
            "artist": m.artist_score,
            "title": m.title_score,
            "duration_delta_s": m.duration_delta_s,
            "version_note": m.version_note,
        },
        "evidence": m.evidence,
        "verdict": None
        if verdict is None
        else {
            "value": verdict.value,
            "note": verdict.note,
            "reviewer": verdict.reviewed_by.get_username() if verdict.reviewed_by else "",
            "reviewed_at": verdict.reviewed_at.isoformat(),
            "carried_from_run": verdict.carried_from_run_id,
        },
        "verdict_history": [
            {
                "at": e.at.isoformat(),
                "user": e.user_name,
                "old": e.old_value,
                "new": e.new_value,
                "note": e.note,
                "carried_from_run": e.carried_from_run,
                "undoes_at": e.undoes.at.isoformat() if e.undoes else None,
            }
            for e in m.verdict_events.all()
        ],
    }


class _HashingWriter:
    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.digest, self.size = raw, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.raw.write(data)


def evidence_pack_write(run: MatchRun, target: Any) -> dict[str, Any]:
    """Write the evidence pack (a zip) and return its manifest.

    The zip holds report.csv, report.html (the printable report), one
    evidence/<row>-<dataset>-<match>.json per match and manifest.json, which lists the SHA-256
    and size of every other file, the report's figures, the dataset versions (with their
    content hashes) and the engine and normalizer versions, so a third party can check that
    nothing was altered (see evidence_pack_verify).
    """
    files: list[dict[str, Any]] = []
    summary = report_summary(run)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("report.csv", "w", force_zip64=True) as raw:
            out = _HashingWriter(raw)
            for text in report_csv_lines(run):
                out.write(text.encode("utf-8"))
        files.append({"path": "report.csv", "sha256": out.digest.hexdigest(), "bytes": out.size})
        with zf.open("report.html", "w", force_zip64=True) as raw:
            out = _HashingWriter(raw)
            for text in report_html_chunks(run):
                out.write(text.encode("utf-8"))
        files.append({"path": "report.html", "sha256": out.digest.hexdigest(), "bytes": out.size})
        matches = (
            Match.objects.filter(run=run)
            .select_related(
                "catalog_row", "track", "track__version", "dataset", "verdict__reviewed_by"
            )
            .prefetch_related(
                Prefetch("verdict_events", queryset=VerdictEvent.objects.select_related("undoes"))
            )
            .order_by("catalog_row__row_number", "dataset__slug", "rank")
        )
        for m in matches.iterator(chunk_size=1000):
            data = json.dumps(
                match_evidence_document(m), ensure_ascii=False, indent=2, sort_keys=True
            ).encode("utf-8")
            name = f"evidence/row-{m.catalog_row.row_number:07d}-{m.dataset.slug}-{m.pk}.json"
            zf.writestr(name, data)
            files.append(
                {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            )
        manifest = {
            "format": PACK_FORMAT,
            "created_at": timezone.now().isoformat(),
            "run": run.pk,
            "catalog": {
                "name": run.catalog.name,
                "sha256": run.catalog.sha256,
                "rows": run.catalog.row_count,
            },
            "engine_version": run.engine_version,
            "normalizer_version": NORMALIZER_VERSION,
            "thresholds": run.thresholds,
            # The report's figures (wording.FIGURES says what each counts): report.csv has
            # `lines` lines, evidence/ one document per match.
            "figures": {
                "headline": summary.headline,
                **{name: getattr(summary, name) for name in SUMMARY_FIGURES},
                "datasets": {
                    d.slug: {
                        "found": d.found,
                        "found_duplicates": d.found_duplicates,
                        "matches": d.matches,
                        "match_lines": d.match_lines,
                        "confirmed_rows": d.confirmed,
                    }
                    for d in summary.datasets
                },
            },
            "datasets": [
                {
                    "slug": v.dataset.slug,
                    "name": v.dataset.name,
                    "version": v.number,
                    "sha256": v.sha256,
                    "files": v.files,
                    "normalizer_version": v.normalizer_version,
                }
                for v in run.dataset_versions.select_related("dataset").order_by("dataset__slug")
            ],
            "files": files,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


def evidence_pack_tempfile(run: MatchRun) -> IO[bytes]:
    handle = tempfile.TemporaryFile(suffix=".zip")  # noqa: SIM115 -- FileResponse closes it
    evidence_pack_write(run, handle)
    handle.seek(0)
    return handle


def evidence_pack_verify(source: Any) -> list[str]:
    """Recompute every file's SHA-256 against the manifest. Returns the problems found (an
    empty list means the pack is intact)."""
    problems: list[str] = []
    with zipfile.ZipFile(source) as zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except KeyError:
            return ["manifest.json is missing"]
        listed = {f["path"]: f for f in manifest.get("files", [])}
        present = set(zf.namelist()) - {"manifest.json"}
        for path in sorted(present - set(listed)):
            problems.append(f"{path} is not listed in the manifest")
        for path, entry in listed.items():
            if path not in present:
                problems.append(f"{path} is listed in the manifest but missing")
                continue
            digest = hashlib.sha256()
            with zf.open(path) as fh:
                for block in iter(lambda: fh.read(1 << 16), b""):
                    digest.update(block)
            if digest.hexdigest() != entry["sha256"]:
                problems.append(f"{path} does not match its SHA-256 in the manifest")
    return problems


# --- the downloads as HTTP responses (the same for the pages and the API) ---------------------

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download_name(run: MatchRun, kind: str, extension: str) -> str:
    """The file name a download is saved under: catalog, run, kind and the day it was taken
    (verdicts change a report), so that two downloads never overwrite each other, e.g.
    `northern-lights-export_run-12_report-excel_2026-12-07.csv`."""
    catalog = slugify(Path(run.catalog.name).stem)[:60].strip("-") or "catalog"
    day = timezone.localdate().isoformat()
    return f"{catalog}_run-{run.pk}_{kind}_{day}.{extension}"


def report_csv_response(run: MatchRun, *, bom: bool = False) -> StreamingHttpResponse:
    """The report CSV, streamed line by line."""
    response = StreamingHttpResponse(
        report_csv_lines(run, bom=bom), content_type="text/csv; charset=utf-8"
    )
    name = download_name(run, "report-excel" if bom else "report", "csv")
    # Never None with as_attachment (typeshed allows None for inline without a name).
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    return response


def report_html_response(run: MatchRun) -> StreamingHttpResponse:
    """The printable report (HTML with print CSS), streamed piece by piece, as a file to save:
    it is opened from disk, away from the site (no script, nothing loaded from elsewhere)."""
    response = StreamingHttpResponse(
        (text.encode("utf-8") for text in report_html_chunks(run)),
        content_type="text/html; charset=utf-8",
    )
    name = download_name(run, "printable-report", "html")
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    return response


def report_xlsx_response(run: MatchRun) -> FileResponse:
    """The report workbook, written to a temporary file first and sent from it."""
    return FileResponse(
        report_xlsx_tempfile(run),
        as_attachment=True,
        filename=download_name(run, "report", "xlsx"),
        content_type=XLSX_TYPE,
    )


def evidence_pack_response(run: MatchRun) -> FileResponse:
    """The evidence pack (zip), written to a temporary file first and sent from it."""
    return FileResponse(
        evidence_pack_tempfile(run),
        as_attachment=True,
        filename=download_name(run, "evidence", "zip"),
        content_type="application/zip",
    )
