"""Matching quality on labelled sets of real rows: precision, recall and F1 beside baselines.

    .venv/bin/python bench/bench_quality.py [--set both|generated|shs] [--seed 4]
        [--sources 1500] [--no-baselines] [--errors N]

Two labelled sets (`--set`, default both):

**generated**: the dataset side is the real rows of ../shared/data (Spotify sample, Spotify
playlists, the Million Song Dataset subset), with one row kept per crude (artist, title)
identity so that the labels are unambiguous. Catalog rows are derived from sampled dataset rows
with realistic variation, each labelled with the dataset row it must match and the kind expected:

- confident (identifier/exact/strong): identical, case changed, accents stripped, a typo in the
  artist, in the title or in both, featured artist moved between credit and title, artist order
  swapped, a remaster tag added, the dataset copy replaced by a YouTube upload
  ("Artist - Title (Official Video)" on "ArtistVEVO", "Artist - Topic" or a fan channel), and
  a shared Spotify id with a damaged title;
- version: the catalog row is a live, remix or acoustic version of the dataset's studio row;
- no match (hard negatives): a cover (same title, another artist), the same artist with a song
  the dataset does not hold, and the same title with another part number ("Vol. 2" -> "Vol. 3").
  Distractors are also added to the dataset: covers and live versions of sampled songs.

**shs** (real YouTube rows, ../shared/data/shs100k_youtube_titles_train.csv, 1,947 videos with
the recording each holds): the dataset is (channel, video title) of every row, as LAION-DISCO
and Sleeping-DISCO's YouTube links hold them; the catalog is (performer, work title). Most
(performer, work) pairs are asked for and expected confident, right when the best confident
match is any upload of that pair. The rest are negatives expected to match nothing: covers (for
works that other performers of the set also recorded, one performer's uploads are left out of
the dataset, so only other performers' recordings of the work remain) and the same performer
with a song the set does not hold (titles from the Billboard file). Seeded, deterministic.

The engine runs in-process and without a database: `prepare` on both sides, blocking that mirrors
matcher.runs.blocking.block_candidates (exact title/artist keys with the same caps, then key-prefix
ranges for the rows without a confident match) done with dicts and a sorted key list, then
the service's `Screen` and `rank_candidates`. A row's prediction is its best match.
Never reads ../shared/holdout.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import random
import re
import sys
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from matcher.engine.keys import (  # noqa: E402
    ARTIST_KEY_CAP,
    ARTIST_WHOLE,
    KEY_CAP,
    PREFIX_CAP,
    TrackSide,
    prefix_key,
    prepare,
)
from matcher.engine.readings import (  # noqa: E402
    RUN_TOGETHER,
    run_together_keys,
    run_together_side,
    track_readings,
)
from matcher.engine.score import (  # noqa: E402
    CONFIDENT_KINDS,
    ENGINE_VERSION,
    ONE_EDIT_MIN_LEN,
    POSSIBLE,
    VERSION,
    Score,
    Screen,
    Thresholds,
    one_edit,
    rank_candidates,
)

DATA = ROOT.parent / "shared" / "data"
CONFIDENT = "confident"
NONE = "none"


@dataclass
class Track:
    id: int
    artist: str
    title: str
    group: int  # tracks with the same group are the same recording
    duration_s: float | None = None
    spotify_id: str = ""


@dataclass
class Query:
    artist: str
    title: str
    expected: str  # CONFIDENT, VERSION or NONE
    group: int  # the recording it must match (-1 for NONE)
    variation: str
    duration_s: float | None = None
    spotify_id: str = ""


def _read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _crude(artist: str, title: str) -> tuple[str, str]:
    """An identity independent of the engine: first artist and the title before any tag."""
    first = artist.replace(";", ",").split(",")[0]
    for cut in (" - ", "(", "["):
        title = title.split(cut)[0]
    return "".join(c for c in first.lower() if c.isalnum()), "".join(
        c for c in title.lower() if c.isalnum()
    )


def load_real() -> list[Track]:
    raw: list[tuple[str, str, float | None, str]] = []
    for r in _read("spotify_tracks_sample_886.csv"):
        raw.append((r["artists"], r["track_name"], int(r["duration_ms"]) / 1000, r["track_id"]))
    for r in _read("spotify_playlists_21k.csv"):
        raw.append((r["Artist"], r["Track"], None, ""))
    for r in _read("msd_subset_unique_tracks.csv"):
        raw.append((r["ArtistName"], r["SongTitle"], None, ""))
    seen: set[tuple[str, str]] = set()
    tracks: list[Track] = []
    for artist, title, duration, sid in raw:
        if not artist.strip() or not title.strip():
            continue
        crude = _crude(artist, title)
        if not crude[0] or not crude[1] or crude in seen:
            continue
        seen.add(crude)
        tracks.append(Track(len(tracks), artist, title, len(tracks), duration, sid))
    return tracks


_TAG_START = re.compile(r" - |\(|\[| feat| ft\.| featuring|;|,| & ", re.IGNORECASE)


def _typo(text: str, rng: random.Random) -> str:
    """One typo in the name or title itself, never inside a tag or a feat. credit."""
    cut = _TAG_START.search(text)
    end = cut.start() if cut else len(text)
    positions = [i for i, c in enumerate(text[:end]) if c.isalpha() and i > 0]
    if len(positions) < 3:
        return text
    i = rng.choice(positions)
    op = rng.choice(("sub", "del", "ins", "swap"))
    letter = rng.choice("aeiourstnl")
    if op == "sub":
        return text[:i] + (letter if text[i].lower() != letter else "x") + text[i + 1 :]
    if op == "del":
        return text[:i] + text[i + 1 :]
    if op == "ins":
        return text[:i] + letter + text[i:]
    if i + 1 < end and text[i + 1].isalpha() and text[i + 1] != text[i]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i + 1 :]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _artists(artist: str) -> list[str]:
    return [a.strip() for a in artist.split(";") if a.strip()]


def build(seed: int, n_sources: int) -> tuple[list[Track], list[Query]]:
    rng = random.Random(seed)
    tracks = load_real()
    crude_ids = {_crude(t.artist, t.title) for t in tracks}
    artists = sorted({t.artist for t in tracks})
    sources = rng.sample(tracks, n_sources)
    with_id = [t for t in tracks if t.spotify_id]
    queries: list[Query] = []
    extra: list[Track] = []

    def add_track(artist: str, title: str, group: int) -> None:
        extra.append(Track(len(tracks) + len(extra), artist, title, group))

    for s in sources:
        names = _artists(s.artist)
        roll = rng.random()
        q = Query(s.artist, s.title, CONFIDENT, s.group, "identical", s.duration_s)
        if roll < 0.06:
            pass
        elif roll < 0.12:
            q.artist, q.title, q.variation = s.artist.upper(), s.title.lower(), "case"
        elif roll < 0.17:
            if _strip_accents(s.artist + s.title) != s.artist + s.title:
                q.artist, q.title = _strip_accents(s.artist), _strip_accents(s.title)
                q.variation = "accents"
            else:
                q.title, q.variation = s.title.title(), "title case"
        elif roll < 0.27:
            q.artist, q.variation = _typo(s.artist, rng), "artist typo"
        elif roll < 0.37:
            q.title, q.variation = _typo(s.title, rng), "title typo"
        elif roll < 0.43:
            q.artist, q.title = _typo(s.artist, rng), _typo(s.title, rng)
            q.variation = "typo in both"
        elif roll < 0.50:
            if len(names) > 1:
                q.artist = names[0]
                q.title = f"{s.title} (feat. {' & '.join(names[1:])})"
            else:  # the dataset credits the guest in the title, the catalog in the credit
                guest = rng.choice(artists)
                s.title = f"{s.title} (feat. {guest})"
                q.artist = f"{s.artist} feat. {guest}"
            q.variation = "feat. moved between credit and title"
        elif roll < 0.55:
            if len(names) == 1:
                s.artist = f"{s.artist};{rng.choice(artists)}"
                names = _artists(s.artist)
            q.artist, q.variation = ", ".join(reversed(names)), "artist order"
        elif roll < 0.62:
            q.title = s.title + rng.choice(
                (" - Remastered 2011", " (2009 Remaster)", " - Remastered", " (Mono)")
            )
            q.variation = "remaster tag"
        elif roll < 0.72:
            # The dataset holds a YouTube upload instead of the original row.
            first = names[0] if names else s.artist
            channel = rng.choice(
                (f"{first.replace(' ', '')}VEVO", f"{first} - Topic", "Music Hub Channel")
            )
            cruft = rng.choice(("(Official Video)", "(Official Music Video)", "(Lyrics)", "[HD]"))
            title = s.title if channel.endswith("Topic") else f"{first} - {s.title} {cruft}"
            s.artist, s.title, s.duration_s = channel, title, None
            q.duration_s = None
            q.variation = "YouTube upload in the dataset"
        elif roll < 0.76:
            if not s.spotify_id:
                s = rng.choice(with_id)
                q = Query(s.artist, s.title, CONFIDENT, s.group, "", s.duration_s)
            q.title, q.spotify_id = _typo(_typo(s.title, rng), rng) + " (Radio Edit)", s.spotify_id
            q.variation = "shared Spotify id"
        elif roll < 0.86:
            if _TAG_START.search(s.title):
                continue  # already a tagged title: "X Remix - Remix" is not a fair question
            tag = rng.choice((" (Live)", " - Live at Wembley", " (Acoustic Version)", " - Remix"))
            q.title, q.expected, q.variation = s.title + tag, VERSION, "catalog is a version"
        elif roll < 0.93:
            other = rng.choice(artists)
            if (
                _crude(other, s.title) in crude_ids
                or _crude(other, "x")[0] == _crude(s.artist, "x")[0]
            ):
                continue
            q.artist, q.expected, q.group, q.variation = other, NONE, -1, "cover: other artist"
        else:
            title = rng.choice(tracks).title
            if _crude(s.artist, title) in crude_ids:
                continue
            q.title, q.expected, q.group, q.variation = title, NONE, -1, "same artist, other song"
        if q.duration_s is not None:
            q.duration_s += rng.uniform(-2, 2)
        queries.append(q)
        # Distractors around a sampled song: a cover and a live recording in the dataset.
        if q.expected == CONFIDENT and rng.random() < 0.3:
            add_track(rng.choice(artists), s.title, -2 - len(extra))
        if q.expected == CONFIDENT and rng.random() < 0.2:
            add_track(s.artist, s.title + " (Live)", -2 - len(extra))

    # Part-number negatives: "Vol. 52" must not match "Vol. 53".
    numbered = [
        (t, m)
        for t in tracks
        if "|" not in t.title
        and (m := re.search(r"\b(\d{1,3})\b", re.split(r" - |\(|\[", t.title)[0]))
    ]
    for s, m in rng.sample(numbered, min(len(numbered), n_sources // 20)):
        title = s.title[: m.start(1)] + str(int(m.group(1)) + 1) + s.title[m.end(1) :]
        if _crude(s.artist, title) not in crude_ids:
            queries.append(Query(s.artist, title, NONE, -1, "other part number"))
    return tracks + extra, queries


SHS = "shs100k_youtube_titles_train.csv"


def load_shs() -> list[dict[str, str]]:
    """The SHS100K rows; `\\,` (an escape of the published file) read as `,`."""
    return [{k: v.replace("\\,", ",") for k, v in r.items()} for r in _read(SHS)]


def _lead(performer: str) -> str:
    """The first two words of a credit, folded: the same act under two credits shares them."""
    return " ".join("".join(c for c in w if c.isalnum()) for w in performer.lower().split()[:2])


def build_shs(
    seed: int, cover_share: float = 0.5, other_song_share: float = 0.06
) -> tuple[list[Track], list[Query]]:
    """The real YouTube set: dataset = (channel, video title) of every row not held out,
    catalog = (performer, work title); see the module docstring."""
    rng = random.Random(seed)
    rows = load_shs()
    pairs: dict[tuple[str, str], int] = {}
    for r in rows:
        pairs.setdefault((r["performer"], r["work_title"]), len(pairs))
    performers_of: dict[str, set[str]] = defaultdict(set)
    for performer, work in pairs:
        performers_of[_crude("x", work)[1]].add(performer)
    # Covers: for a share of the works with several performers, one performer's uploads leave
    # the dataset; that catalog row must then not match the other performers' recordings.
    held: set[tuple[str, str]] = set()
    for work in sorted(performers_of):
        performers = sorted(performers_of[work])
        if len(performers) > 1 and rng.random() < cover_share:
            performer = rng.choice(performers)
            if any(_lead(other) == _lead(performer) for other in performers if other != performer):
                # One act under two credits (`Georgie Auld` and `Georgie Auld with Don Costa
                # and His Orchestra`): not a cover of each other, so not a negative.
                continue
            held |= {p for p in pairs if p[0] == performer and _crude("x", p[1])[1] == work}
    # A video labelled with two performers (`Anthony Ventura` and `Anthony Ventura Orchestra`)
    # is one recording: the pairs share its group, so either catalog row may match it.
    video_group: dict[tuple[str, str], int] = {}
    for r in rows:
        pair = (r["performer"], r["work_title"])
        group = video_group.setdefault((r["yt_channel_name"], r["yt_video_title"]), pairs[pair])
        pairs[pair] = group
    tracks: list[Track] = []
    for r in rows:
        pair = (r["performer"], r["work_title"])
        if pair not in held:
            tracks.append(
                Track(len(tracks), r["yt_channel_name"], r["yt_video_title"], pairs[pair])
            )
    queries: list[Query] = []
    for pair, group in pairs.items():
        if pair in held:
            queries.append(Query(pair[0], pair[1], NONE, -1, "cover: own upload not in the set"))
        else:
            queries.append(Query(pair[0], pair[1], CONFIDENT, group, "performer / work"))
    # The same performer with a song the set does not hold (a Billboard title).
    known = {_crude("x", w)[1] for _, w in pairs} | {
        _crude("x", r["yt_video_title"])[1] for r in rows
    }
    songs = sorted({r["song"] for r in _read("billboard_hot100_top40_1980_2021.csv")})
    performers = sorted({p for p, w in pairs if (p, w) not in held})
    for performer in rng.sample(performers, round(len(performers) * other_song_share)):
        song = rng.choice(songs)
        if _crude("x", song)[1] in known or any(
            _crude("x", song)[1] in _crude("x", r["yt_video_title"])[1] for r in rows
        ):
            continue
        queries.append(Query(performer, song, NONE, -1, "same performer, song not in the set"))
    return tracks, queries


# --- the engine, without a database ------------------------------------------------------


class PureIndex:
    """The dataset side as in-memory key indexes, queried like block_candidates queries.

    Every reading of every track (matcher.engine.readings) is one index entry with its own keys,
    as it is one index row in the database; `track_of` and `reading_of` name an entry's track
    and reading.
    """

    def __init__(self, tracks: list[Track]) -> None:
        self.sides: list[TrackSide] = []
        self.track_of: list[int] = []
        self.reading_of: list[str] = []
        self.by: dict[str, dict[str, list[int]]] = {
            "title": defaultdict(list),
            "artist": defaultdict(list),
        }
        self.spotify: dict[str, list[int]] = defaultdict(list)
        for t in tracks:
            for n, reading in enumerate(
                track_readings(artists=t.artist, title=t.title, duration_s=t.duration_s)
            ):
                entry = len(self.sides)
                side = reading.side
                self.sides.append(side)
                self.track_of.append(t.id)
                self.reading_of.append(reading.name)
                self.by["title"][side.title_key].append(entry)
                self.by["artist"][side.artist_key].append(entry)
                if t.spotify_id and n == 0:
                    self.spotify[t.spotify_id].append(entry)
        self.sorted_keys = {c: sorted(self.by[c]) for c in self.by}
        self._run_together: dict[tuple[int, TrackSide, str], int] = {}

    def run_together(self, entry: int, query: TrackSide, artist: str) -> int:
        """The entry of `entry` read as `artist`'s recording of the query's title (as
        runs.blocking builds it for one catalog row): a synthetic entry, made once."""
        side = run_together_side(query, self.sides[entry], artist)
        found = self._run_together.get((entry, side, artist))
        if found is None:
            found = self._run_together[(entry, side, artist)] = len(self.sides)
            self.sides.append(side)
            self.track_of.append(self.track_of[entry])
            self.reading_of.append(RUN_TOGETHER)
        return found

    def exact(self, column: str, key: str, title_key: str = "") -> list[int]:
        ids = self.by[column].get(key, [])
        if column == "artist":
            if len(ids) > ARTIST_KEY_CAP:
                return []
            if len(ids) > ARTIST_WHOLE:  # as block_candidates: with the title's first character
                return [i for i in ids if self.sides[i].title_key[:1] == title_key[:1]]
            return ids
        return [] if len(ids) > KEY_CAP else ids

    def one_typo(self, column: str, key: str) -> list[int]:
        """Entries whose key is one typo from `key` (as search.keys.one_typo_keys finds keys),
        keys with more than PREFIX_CAP entries left out as block_candidates does."""
        if len(key) < ONE_EDIT_MIN_LEN:
            return []
        found: list[int] = []
        for near, _, _ in process.extract_iter(
            key, self.sorted_keys[column], scorer=OSA.distance, score_cutoff=1
        ):
            ids = self.by[column][near]
            if near != key and one_edit(key, near) and len(ids) <= PREFIX_CAP:
                found += ids
        return found

    def prefix(self, column: str, prefix: str) -> list[int]:
        keys = self.sorted_keys[column]
        lo = bisect.bisect_left(keys, prefix)
        hi = bisect.bisect_left(keys, prefix + "\U0010ffff")
        found = [i for k in keys[lo:hi] for i in self.by[column][k]]
        return [] if len(found) > PREFIX_CAP else found


def screened_ranking(
    index: PureIndex,
    side: TrackSide,
    screen: Screen,
    found: dict[int, str],
    thresholds: Thresholds,
) -> list[tuple[Score, int]]:
    """As runs.blocking._score: identifier candidates always, the rest through the screen;
    one result per track, its best-scoring reading's (entries are ranked best first)."""
    passed = [i for i, ident in found.items() if ident]
    passed += screen.keep(
        (i, index.sides[i].title_key, index.sides[i].artists_norm)
        for i, ident in found.items()
        if not ident
    )
    ranked = rank_candidates(side, ((i, index.sides[i], found[i]) for i in passed), thresholds)
    best: list[tuple[Score, int]] = []
    seen: set[int] = set()
    for score, entry in ranked:
        if index.track_of[entry] not in seen:
            seen.add(index.track_of[entry])
            best.append((score, entry))
    return best


def run_engine(
    index: PureIndex, queries: list[Query], thresholds: Thresholds
) -> tuple[list[tuple[str, int]], list[str], float]:
    """Best (kind, track id) per query, ("", -1) when nothing matches; the name of the reading
    that matched; and candidates (index entries) per row."""
    out: list[tuple[str, int]] = []
    readings: list[str] = []
    considered = 0
    for q in queries:
        side = prepare(artists=q.artist, title=q.title, duration_s=q.duration_s).side
        candidates: dict[int, str] = {}
        if q.spotify_id:
            for i in index.spotify.get(q.spotify_id, []):
                candidates[i] = f"spotify:{q.spotify_id}"
        key_hits = 0
        for column, key in (("title", side.title_key), ("artist", side.artist_key)):
            found = index.exact(column, key, side.title_key) if key else []
            key_hits += len(found)
            for i in found:
                candidates.setdefault(i, "")
        # As block_candidates: titles that are the row's artist and title run together.
        for key, artist in run_together_keys(side).items():
            for i in index.exact("title", key):
                candidates.setdefault(index.run_together(i, side, artist), "")
        screen = Screen(side, thresholds)

        ranked = screened_ranking(index, side, screen, candidates, thresholds)
        # Round 2 as in block_candidates: only when both exact keys found nothing.
        if not key_hits and (not ranked or ranked[0][0].kind not in CONFIDENT_KINDS):
            for column, key in (("title", side.title_key), ("artist", side.artist_key)):
                p = prefix_key(key)
                for i in index.prefix(column, p) if p else []:
                    candidates.setdefault(i, "")
            ranked = screened_ranking(index, side, screen, candidates, thresholds)
            # Round 3 as in block_candidates: keys one typo away, if still not confident.
            if not ranked or ranked[0][0].kind not in CONFIDENT_KINDS:
                for column, key in (("title", side.title_key), ("artist", side.artist_key)):
                    for i in index.one_typo(column, key):
                        candidates.setdefault(i, "")
                ranked = screened_ranking(index, side, screen, candidates, thresholds)
        considered += len(candidates)
        if ranked:
            out.append((ranked[0][0].kind, index.track_of[ranked[0][1]]))
            readings.append(index.reading_of[ranked[0][1]])
        else:
            out.append(("", -1))
            readings.append("")
    return out, readings, considered / max(len(queries), 1)


# --- baselines ----------------------------------------------------------------------------


def baseline_exact(tracks: list[Track], queries: list[Query]) -> list[tuple[str, int]]:
    index: dict[tuple[str, str], int] = {}
    for t in tracks:
        index.setdefault((t.artist.lower().strip(), t.title.lower().strip()), t.id)
    return [
        ("exact", index[k])
        if (k := (q.artist.lower().strip(), q.title.lower().strip())) in index
        else ("", -1)
        for q in queries
    ]


_CHOICES: list[str] = []


def _token_set_best(text: str) -> tuple[str, int]:
    found = process.extractOne(text, _CHOICES, scorer=fuzz.token_set_ratio, score_cutoff=90)
    return ("exact", found[2]) if found else ("", -1)


def _init_choices(choices: list[str]) -> None:
    _CHOICES[:] = choices


def baseline_token_set(tracks: list[Track], queries: list[Query]) -> list[tuple[str, int]]:
    """Every catalog row against every track, in two processes (one per core)."""
    choices = [f"{t.artist} {t.title}".lower() for t in tracks]
    texts = [f"{q.artist} {q.title}".lower() for q in queries]
    with Pool(2, initializer=_init_choices, initargs=(choices,)) as pool:
        return pool.map(_token_set_best, texts, chunksize=50)


# --- metrics ------------------------------------------------------------------------------


def metrics(
    tracks: list[Track],
    queries: list[Query],
    predicted: list[tuple[str, int]],
    kinds: tuple[str, ...],
    expected: str,
) -> tuple[float, float, float, int, int, int]:
    tp = fp = 0
    wanted = sum(q.expected == expected for q in queries)
    for q, (kind, track) in zip(queries, predicted, strict=True):
        if kind not in kinds:
            continue
        if q.expected == expected and tracks[track].group == q.group:
            tp += 1
        else:
            fp += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / wanted if wanted else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp, fp, wanted


def evaluate(
    label: str, tracks: list[Track], queries: list[Query], args: argparse.Namespace
) -> None:
    """Run the engine and the baselines on one labelled set and print the figures."""
    print(
        f"== {label}: engine {ENGINE_VERSION}; {len(tracks):,} dataset tracks; "
        f"{len(queries):,} catalog rows"
    )
    by_variation: dict[str, int] = defaultdict(int)
    for q in queries:
        by_variation[q.variation] += 1
    print(
        "catalog rows by variation: "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_variation.items()))
    )

    started = time.perf_counter()
    index = PureIndex(tracks)
    prepared_s = time.perf_counter() - started
    readings_count: dict[str, int] = defaultdict(int)
    for name in index.reading_of:  # the stored entries, before matching makes any for a row
        readings_count[name] += 1
    stored = len(index.sides)
    started = time.perf_counter()
    engine, matched_by, per_row = run_engine(index, queries, Thresholds())
    engine_s = time.perf_counter() - started
    print(
        f"engine: dataset prepared in {prepared_s:.1f} s ({stored:,} index entries: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(readings_count.items()))
        + f"; {len(index.sides) - stored:,} read at match time for one row), "
        f"rows matched in {engine_s:.2f} s, {per_row:.1f} candidates per row"
    )
    right_by: dict[str, int] = defaultdict(int)
    for q, (kind, track), name in zip(queries, engine, matched_by, strict=True):
        if kind in CONFIDENT_KINDS and q.expected == CONFIDENT and tracks[track].group == q.group:
            right_by[name] += 1
    print(
        "right confident matches by reading: "
        + ", ".join(f"{k} {v}" for k, v in sorted(right_by.items()))
    )

    results = {"trainwatch engine": engine}
    if not args.no_baselines:
        results["baseline: exact after lower()"] = baseline_exact(tracks, queries)
        started = time.perf_counter()
        results["baseline: token_set_ratio >= 90"] = baseline_token_set(tracks, queries)
        print(f"token_set_ratio brute force: {time.perf_counter() - started:.1f} s")

    print()
    print(
        f"{'method':36} {'kinds':10} {'precision':>9} {'recall':>7} {'F1':>6} {'TP':>6} "
        f"{'FP':>5} {'expected':>8}"
    )
    expects_version = any(q.expected == VERSION for q in queries)
    for name, predicted in results.items():
        is_engine = name == "trainwatch engine"
        kinds = CONFIDENT_KINDS if is_engine else ("exact",)
        p, r, f, tp, fp, n = metrics(tracks, queries, predicted, kinds, CONFIDENT)
        print(f"{name:36} {'confident':10} {p:9.4f} {r:7.4f} {f:6.4f} {tp:6} {fp:5} {n:8}")
        if is_engine and expects_version:
            p, r, f, tp, fp, n = metrics(tracks, queries, predicted, (VERSION,), VERSION)
            print(f"{name:36} {'version':10} {p:9.4f} {r:7.4f} {f:6.4f} {tp:6} {fp:5} {n:8}")
        if is_engine:
            # Rows whose best match is only `possible`: what a reviewer would have to confirm.
            p, r, f, tp, fp, n = metrics(tracks, queries, predicted, (POSSIBLE,), CONFIDENT)
            print(f"{name:36} {'possible':10} {p:9.4f} {r:7.4f} {f:6.4f} {tp:6} {fp:5} {n:8}")
            every = (*CONFIDENT_KINDS, VERSION, POSSIBLE)
            p, r, f, tp, fp, n = metrics(tracks, queries, predicted, every, CONFIDENT)
            print(f"{name:36} {'any kind':10} {p:9.4f} {r:7.4f} {f:6.4f} {tp:6} {fp:5} {n:8}")
    if args.errors:
        print()
        shown: dict[str, int] = defaultdict(int)
        for q, (kind, track), name in zip(queries, engine, matched_by, strict=True):
            ok = (
                (
                    q.expected == CONFIDENT
                    and kind in CONFIDENT_KINDS
                    and tracks[track].group == q.group
                )
                or (q.expected == VERSION and kind == VERSION and tracks[track].group == q.group)
                or (q.expected == NONE and kind not in (*CONFIDENT_KINDS, VERSION))
            )
            if ok or shown[q.variation] >= args.errors:
                continue
            shown[q.variation] += 1
            got = (
                f"{kind} ({name}) {tracks[track].artist!r} / {tracks[track].title!r}"
                if track >= 0
                else "nothing"
            )
            want = ""
            if q.expected == CONFIDENT:
                want = "; wanted " + " or ".join(
                    f"{t.artist!r} / {t.title!r}" for t in tracks if t.group == q.group
                )
            print(
                f"[{q.variation}] {q.artist!r} / {q.title!r} expected {q.expected}: got {got}{want}"
            )
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set",
        choices=("both", "generated", "shs"),
        default="both",
        help="which labelled set: generated from ../shared/data, real YouTube rows, or both",
    )
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--sources", type=int, default=1500, help="generated set only")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--errors", type=int, default=0, help="print this many errors per kind")
    args = parser.parse_args(argv)

    if args.set in ("both", "generated"):
        tracks, queries = build(args.seed, args.sources)
        evaluate(f"generated set, seed {args.seed}", tracks, queries, args)
    if args.set in ("both", "shs"):
        tracks, queries = build_shs(args.seed)
        evaluate(f"real YouTube rows (SHS100K dev set), seed {args.seed}", tracks, queries, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
