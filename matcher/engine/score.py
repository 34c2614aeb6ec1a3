"""Scores one catalog record against one dataset track and names the kind of match.

Per-field scores (artist, title, duration, album) are rapidfuzz similarities on the normalized
forms from matcher.engine.keys; the combination rules are written up in docs/matching.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rapidfuzz import fuzz

from matcher.engine.keys import TrackSide
from matcher.engine.normalize import NORMALIZER_VERSION

ENGINE_VERSION = f"score-1/norm-{NORMALIZER_VERSION}"

IDENTIFIER = "identifier"
EXACT = "exact"
STRONG = "strong"
VERSION = "version"
POSSIBLE = "possible"
KINDS = (IDENTIFIER, EXACT, STRONG, VERSION, POSSIBLE)
CONFIDENT_KINDS = (IDENTIFIER, EXACT, STRONG)

# Durations within this many seconds count as the same length; beyond FULL_PENALTY_S the
# duration is fully against the match (beets forgives 10 s and penalises fully at 30 s more).
DURATION_GRACE_S = 5.0
DURATION_FULL_PENALTY_S = 30.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    strong: int = 90  # artist and title both at least this for a strong or version match
    possible: int = 75  # combined confidence at least this to be reported at all
    artist_min: int = 70  # below this artist similarity the pair is not the same recording
    title_min: int = 70

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        known = {k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Score:
    kind: str
    confidence: int
    artist: float
    title: float
    duration_delta_s: float | None
    album: float | None
    version_note: str
    rules: tuple[str, ...] = field(default=())

    def fields(self) -> dict[str, Any]:
        return {
            "artist": round(self.artist, 1),
            "title": round(self.title, 1),
            "duration_delta_s": (
                None if self.duration_delta_s is None else round(self.duration_delta_s, 1)
            ),
            "album": None if self.album is None else round(self.album, 1),
        }


def artist_similarity(query: TrackSide, candidate: TrackSide) -> tuple[float, str]:
    """Best similarity of a credited query artist to any artist credited on the candidate.

    The catalog's primary artist must appear among the candidate's credits (primary, featured,
    or split off a YouTube-style title); order and extra credits do not count against it.
    """
    if not query.artists or not candidate.artists:
        return 0.0, "no artist on one side"
    best = 0.0
    for q in query.artists[: max(1, query.primary_count)]:
        for c in candidate.artists:
            if q == c:
                return 100.0, ""
            s = fuzz.ratio(q, c)
            if s > best:
                best = s
    joined = fuzz.token_sort_ratio(" ".join(query.artists), " ".join(candidate.artists))
    if joined > best:
        return joined, "artist credits compared as a whole"
    return best, ""


def title_similarity(query: TrackSide, candidate: TrackSide) -> float:
    if query.title_key == candidate.title_key:
        return 100.0
    return max(
        fuzz.ratio(query.title_key, candidate.title_key),
        fuzz.token_sort_ratio(query.title_key, candidate.title_key),
    )


def duration_score(delta: float | None) -> float | None:
    if delta is None:
        return None
    if delta <= DURATION_GRACE_S:
        return 100.0
    if delta >= DURATION_FULL_PENALTY_S:
        return 0.0
    span = DURATION_FULL_PENALTY_S - DURATION_GRACE_S
    return 100.0 * (1 - (delta - DURATION_GRACE_S) / span)


def score_pair(
    query: TrackSide,
    candidate: TrackSide,
    thresholds: Thresholds,
    *,
    identifier: str = "",
) -> Score | None:
    """The match between two records, or None when they are not the same song by the same artist.

    `identifier` names an identifier both sides share (e.g. "spotify:4uLU6hMCjMI75M1A2tKUQC"):
    the pair is then an identifier match whatever the names say, with the name scores kept as
    evidence.
    """
    rules: list[str] = []
    artist, artist_rule = artist_similarity(query, candidate)
    if artist_rule:
        rules.append(artist_rule)
    title = title_similarity(query, candidate)

    delta: float | None = None
    if query.duration_s is not None and candidate.duration_s is not None:
        delta = abs(query.duration_s - candidate.duration_s)
    dur = duration_score(delta)
    album: float | None = None
    if query.album_key and candidate.album_key:
        album = fuzz.token_sort_ratio(query.album_key, candidate.album_key)

    if dur is None:
        confidence = 0.5 * title + 0.5 * artist
    else:
        confidence = 0.45 * title + 0.4 * artist + 0.15 * dur

    version_note = ""
    if query.version != candidate.version:
        version_note = (
            f"version: {query.version or 'original'} vs {candidate.version or 'original'}"
        )

    if identifier:
        rules.append(f"same identifier {identifier}")
        if artist < thresholds.artist_min or title < thresholds.title_min:
            rules.append("names disagree with the identifier: check the evidence")
        return Score(IDENTIFIER, 100, artist, title, delta, album, version_note, tuple(rules))

    if artist < thresholds.artist_min:
        return None  # same title by someone else is a cover, not this recording
    if title < thresholds.title_min:
        return None

    if version_note:
        rules.append(version_note)
        if artist >= thresholds.strong and title >= thresholds.strong:
            # Same song and artist, another recording: reported, but never as confident.
            return Score(
                VERSION,
                min(round(confidence), thresholds.strong - 1),
                artist,
                title,
                delta,
                album,
                version_note,
                tuple(rules),
            )
        confidence = min(confidence, thresholds.possible)
        kind = POSSIBLE
    elif delta is not None and delta > DURATION_FULL_PENALTY_S:
        rules.append(f"duration differs by {delta:.0f} s")
        kind = POSSIBLE
    elif artist == 100.0 and title == 100.0:
        kind = EXACT
        confidence = 100.0 if dur is None or dur == 100.0 else confidence
    elif artist >= thresholds.strong and title >= thresholds.strong:
        kind = STRONG
    else:
        kind = POSSIBLE

    conf = round(confidence)
    if kind == POSSIBLE:
        conf = min(conf, thresholds.strong - 1)
        if conf < thresholds.possible:
            return None
    return Score(kind, conf, artist, title, delta, album, version_note, tuple(rules))
