"""The evidence stored with each match: what a reviewer needs to check it again later."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matcher.engine.normalize import NORMALIZER_VERSION
from matcher.engine.readings import RUN_TOGETHER
from matcher.engine.score import (
    ENGINE_VERSION,
    Score,
    Thresholds,
)
from matcher.models import (
    DatasetVersion,
)
from matcher.runs.blocking import Query
from matcher.runs.track_reads import Candidate


def match_evidence(
    q: Query,
    cand: Candidate,
    score: Score,
    version: DatasetVersion,
    thresholds: Thresholds,
    extra_rules: Sequence[str] = (),
) -> dict[str, Any]:
    """What a reviewer needs to check the match again later, without re-running anything."""
    side = q.prepared.side
    return {
        "catalog": {
            "row": q.row.row_number,
            "artist": q.row.artist,
            "title": q.row.title,
            "version": q.row.version,
            "album": q.row.album,
            "duration_s": q.row.duration_s,
            "identifiers": [f"{k}:{v}" for k, v in q.identifiers],
            "normalized": {
                "artists": list(side.artists),
                "artist_key": side.artist_key,
                "title_key": side.title_key,
                "version": side.version or "original",
            },
        },
        "track": {
            "dataset_track_id": cand.dataset_track_id,
            "artist": cand.artist,
            "title": cand.title,
            "reading": cand.reading_name,
            "normalized": {
                "artists": list(cand.side.artists),
                "artist_key": cand.side.artist_key,
                "title_key": cand.side.title_key,
                "version": cand.side.version or "original",
            },
        },
        "scores": score.fields(),
        "rules": list(q.prepared.rules)
        + _reading_rules(cand)
        + list(score.rules)
        + list(extra_rules),
        "thresholds": thresholds.as_dict(),
        "engine_version": ENGINE_VERSION,
        "normalizer_version": NORMALIZER_VERSION,
        "dataset": {
            "slug": version.dataset.slug,
            "version": version.number,
            "sha256": version.sha256,
        },
        "provenance": {"file": cand.source_file, "row": cand.source_row},
    }


def _reading_rules(cand: Candidate) -> list[str]:
    if not cand.reading:
        return []
    if cand.reading_name == RUN_TOGETHER:
        return [
            f"dataset title '{cand.title}' (credited to '{cand.artist}') read as this row's "
            f"artist '{cand.side.artist_key}' and title '{cand.side.title_key}' run together"
        ]
    return [
        f"dataset track read from its title ({cand.reading_name}): artist "
        f"'{cand.side.artist_key}', title '{cand.side.title_key}' (credited to '{cand.artist}')"
    ]
