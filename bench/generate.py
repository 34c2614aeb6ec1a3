"""Seeded generator of realistic dataset files in each native format, at any size.

Names, titles and albums are drawn from the real rows in ../shared/data (or the copies in
tests/data/datasets), with the quirks real files show: several artists, "feat." credits,
remaster and live tags, YouTube video titles, non-Latin scripts and duplicate rows.

Beyond EXPANSION_FROM rows the real vocabulary (about 30,000 titles and 20,000 artists) is too
small: every title would recur hundreds of times and every artist thousands, which no real
training set does. Large sets therefore grow their own names from the real ones, seeded:
one artist per ARTIST_EVERY rows, with a skewed popularity (the most popular of 2.8M artists
has about 13,000 tracks in 22M rows, the median a handful), and titles built from the words of
real titles, so most are rare; a share of rows keeps the real artists and titles (popular songs,
covers and generic titles such as "Intro" recur as they do in real sets).

    python bench/generate.py laion-disco-12m --rows 1000000 --seed 7 --out /tmp/laion
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import gzip
import json
import multiprocessing
import os
import random
import re
import string
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = (
    "generic-csv",
    "spotify-tracks-dataset",
    "free-music-archive",
    "laion-disco-12m",
    "sleeping-disco-9m",
)
ROOT = Path(__file__).resolve().parent.parent
VOCAB_DIRS = (
    Path(os.environ.get("TRAINWATCH_VOCAB_DIR", str(ROOT.parent / "shared" / "data"))),
    ROOT / "tests" / "data" / "datasets",
)
LAION_ROW_GROUP = 65_536
_URLSAFE = bytes.maketrans(b"+/", b"-_")
BASE62 = string.digits + string.ascii_letters
GENRES = (
    "acoustic", "alt-rock", "anime", "blues", "cantopop", "country", "dance", "edm", "folk",
    "hip-hop", "indie", "j-pop", "k-pop", "latin", "mandopop", "metal", "pop", "r-n-b", "rock",
    "soul", "synth-pop", "techno", "turkish",
)  # fmt: skip
LICENCES = (
    "Attribution-NonCommercial-ShareAlike 3.0 International",
    "Attribution-NonCommercial-NoDerivatives (aka Music Sharing) 3.0 International",
    "Attribution 4.0 International",
    "Creative Commons Zero",
)
VIDEO_SUFFIXES = (" (Official Video)", " (Official Audio)", " (Lyrics)", " [Official Music Video]")
_NON_WORD = re.compile(r"[\W_]+")
EXPANSION_FROM = 200_000  # rows; smaller sets use the real vocabulary alone
ARTIST_EVERY = 8  # rows per generated artist in an expanded set
REAL_ARTIST_SHARE = 0.10  # of credits in an expanded set that name a real artist
REAL_TITLE_SHARE = 0.15  # of titles in an expanded set that are real titles
_MIX = 0x9E3779B97F4A7C15
LANGUAGES = ("en", "es", "ja", "ko", "fr", "pt", "de", "zh")


@dataclass(frozen=True)
class Vocabulary:
    artists: tuple[str, ...]
    titles: tuple[str, ...]
    albums: tuple[str, ...]


def _vocab_rows(directory: Path) -> Iterator[tuple[list[str], str, str]]:
    """(artists, title, album) from every known real file found in ``directory``."""
    layouts = {
        # file: (artist column, separator, title column, album column)
        "spotify_tracks_sample_886.csv": ("artists", ";", "track_name", "album_name"),
        "spotify_tracks_multilingual_2000.csv": ("artist", ";", "song_name", ""),
        "msd_subset_unique_tracks.csv": ("ArtistName", "", "SongTitle", ""),
        "spotify_playlists_21k.csv": ("Artist", "", "Track", "album_names"),
        "billboard_hot100_top40_1980_2021.csv": ("artist", "", "song", ""),
        "most_streamed_spotify_2024_isrc.csv": ("Artist", "", "Track", "Album Name"),
        "generic_tracks.csv": ("artist", ";", "title", "album"),
    }
    for file_name, (artist_col, separator, title_col, album_col) in layouts.items():
        path = directory / file_name
        if not path.exists():
            continue
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            for row in csv.DictReader(handle):
                artist_cell = (row.get(artist_col) or "").strip()
                title = (row.get(title_col) or "").strip()
                if not artist_cell or not title:
                    continue
                artists = artist_cell.split(separator) if separator else [artist_cell]
                yield (
                    [a.strip() for a in artists if a.strip()],
                    title,
                    (row.get(album_col) or "").strip() if album_col else "",
                )


@lru_cache(maxsize=4)
def load_vocabulary(directory: str | None = None) -> Vocabulary:
    candidates = [Path(directory)] if directory else list(VOCAB_DIRS)
    for candidate in candidates:
        artists: dict[str, None] = {}
        titles: dict[str, None] = {}
        albums: dict[str, None] = {}
        for row_artists, title, album in _vocab_rows(candidate):
            for artist in row_artists:
                artists[artist] = None
            titles[title] = None
            if album:
                albums[album] = None
        if artists and titles:
            return Vocabulary(tuple(artists), tuple(titles), tuple(albums or titles))
    raise SystemExit(f"no vocabulary files found in {', '.join(map(str, candidates))}")


def _name_parts(artists: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """First and last words of the real artists' names, to build new names from."""
    first: dict[str, None] = {}
    last: dict[str, None] = {}
    for name in artists:
        words = name.split()
        if len(words) >= 2 and all(w.isalpha() for w in (words[0], words[-1])):
            first[words[0]] = None
            last[words[-1]] = None
    return tuple(first) or ("Alex",), tuple(last) or ("Stone",)


def _title_words(titles: Sequence[str]) -> tuple[str, ...]:
    """The distinct words of the real titles (any script), to build new titles from."""
    words: dict[str, None] = {}
    for title in titles:
        for word in title.split():
            word = word.strip("()[]{}\"'.,!?:;-")
            if len(word) >= 2 and not word.isdigit():
                words[word.lower() if word.isascii() else word] = None
    return tuple(words) or ("song",)


class RowMaker:
    """Draws realistic rows for one format from a seeded random generator."""

    def __init__(
        self,
        seed: int,
        vocabulary: Vocabulary | None = None,
        *,
        stream: int = 0,
        universe: int = 0,
    ) -> None:
        # ids depend on ``seed`` alone, the draws on (seed, stream): parallel writers of one data
        # set share artists' channel ids but do not repeat each other's rows. ``universe`` is
        # the size of the whole data set being written: from EXPANSION_FROM rows, names grow.
        self.rng = random.Random(seed if stream == 0 else f"{seed}/{stream}")
        self.seed = seed
        self.vocab = vocabulary or load_vocabulary()
        self._channel: dict[str, str] = {}
        self._synthetic_artists = universe // ARTIST_EVERY if universe >= EXPANSION_FROM else 0
        if self._synthetic_artists:
            self._first_names, self._last_names = _name_parts(self.vocab.artists)
            self._words = _title_words(self.vocab.titles)
        rng = self.rng
        # pools of pre-drawn values: picking one costs a single random() instead of several calls
        self._durations = [
            int(rng.gauss(225, 60)) if rng.random() > 0.01 else 0 for _ in range(4096)
        ]
        self._views = [self._draw_views() for _ in range(4096)]

    def _draw_views(self) -> str:
        rng = self.rng
        unit = rng.choice(("K", "M", "")) if rng.random() < 0.97 else "B"
        amount = round(rng.uniform(1, 999), 1 if unit in ("M", "B") else 0)
        return f"{amount:g}{unit} plays"

    # -- shared pieces -------------------------------------------------------------------------
    def artists(self) -> list[str]:
        rng, pool = self.rng, self.vocab.artists
        roll = rng.random()
        count = 1 if roll < 0.82 else 2 if roll < 0.95 else 3
        synthetic = self._synthetic_artists
        names = []
        for _ in range(count):
            if synthetic and rng.random() >= REAL_ARTIST_SHARE:
                # popularity skewed towards low indexes: P(index 0) = 1/sqrt(synthetic)
                names.append(self._artist_name(int(synthetic * rng.random() ** 2)))
            else:
                names.append(pool[int(rng.random() * len(pool))])
        return list(dict.fromkeys(names))

    def _artist_name(self, index: int) -> str:
        """The generated artist number ``index``: the same name for the same index and seed."""
        h = ((index + 1) * _MIX ^ self.seed) % 2**64
        first = self._first_names[(h >> 8) % len(self._first_names)]
        last = self._last_names[(h >> 36) % len(self._last_names)]
        shape = h % 10
        if shape == 7:
            return f"The {last}"
        if shape == 8:
            return f"DJ {first}"
        if shape == 9:
            return f"{first} {last} & The {self._last_names[(h >> 20) % len(self._last_names)]}"
        return f"{first} {last}"

    def title(self, artists: Sequence[str]) -> str:
        rng, titles = self.rng, self.vocab.titles
        if self._synthetic_artists and rng.random() >= REAL_TITLE_SHARE:
            words = self._words
            count = 1 + int(rng.random() ** 1.5 * 4)  # 1 to 4 words, short ones more often
            title = " ".join(words[int(rng.random() * len(words))] for _ in range(count))
            title = title[:1].upper() + title[1:]
        else:
            title = titles[int(rng.random() * len(titles))]
        roll = rng.random()
        if roll < 0.06 and len(artists) > 1:
            title = f"{title} (feat. {artists[1]})"
        elif roll < 0.10:
            title = f"{title} - Remastered {rng.randint(1995, 2023)}"
        elif roll < 0.13:
            title = f"{title} (Live)"
        elif roll < 0.15:
            title = f"{title} - Live at {rng.choice(('Wembley', 'Budokan', 'the BBC'))}"
        return title

    def album(self) -> str:
        albums = self.vocab.albums
        return albums[int(self.rng.random() * len(albums))]

    def duration(self) -> int:
        return self._durations[int(self.rng.random() * 4096)]

    def channel_id(self, artist: str) -> str:
        channel = self._channel.get(artist)
        if channel is None:
            # stable per artist within a run, like a real YouTube Music channel
            digest = random.Random(f"{self.seed}:{artist}").getrandbits(132).to_bytes(17, "big")
            channel = "UC" + base64.urlsafe_b64encode(digest).decode()[:22]
            if len(self._channel) > 100_000:  # millions of generated artists: keep memory flat
                self._channel.clear()
            self._channel[artist] = channel
        return channel

    def video_id(self, index: int) -> str:
        # a bijective mix of the row index: unique, looks random, costs no random draws
        mixed = ((index + 1) * 0x9E3779B97F4A7C15 ^ self.seed * 0xBF58476D1CE4E5B9) % 2**64
        encoded = binascii.b2a_base64(mixed.to_bytes(8, "big"), newline=False)
        return encoded[:11].translate(_URLSAFE).decode()

    def spotify_id(self) -> str:
        return "".join(self.rng.choices(BASE62, k=22))

    def isrc(self) -> str:
        rng = self.rng
        country = rng.choice(("US", "GB", "FR", "DE", "JP", "QM", "QZ", "SE"))
        registrant = "".join(rng.choices(string.ascii_uppercase + string.digits, k=3))
        return f"{country}{registrant}{rng.randint(0, 99):02d}{rng.randint(0, 99999):05d}"

    # -- per format ----------------------------------------------------------------------------
    def generic(self, index: int) -> dict[str, Any]:
        artists = self.artists()
        roll = self.rng.random()
        url = ""
        if roll < 0.3:
            url = f"https://www.youtube.com/watch?v={self.video_id(index)}"
        elif roll < 0.5:
            url = f"https://open.spotify.com/track/{self.spotify_id()}"
        return {
            "track_id": f"T{index + 1:09d}",
            "artist": ";".join(artists),
            "title": self.title(artists),
            "album": self.album(),
            "duration_s": self.duration() or "",
            "isrc": self.isrc() if self.rng.random() < 0.4 else "",
            "url": url,
        }

    def spotify(self, index: int) -> dict[str, Any]:
        rng = self.rng
        artists = self.artists()
        return {
            "": index,
            "track_id": self.spotify_id(),
            "artists": ";".join(artists),
            "album_name": self.album(),
            "track_name": self.title(artists),
            "popularity": rng.randint(0, 100),
            "duration_ms": max(self.duration(), 30) * 1000 + rng.randint(0, 999),
            "explicit": rng.random() < 0.1,
            "danceability": round(rng.random(), 3),
            "energy": round(rng.random(), 3),
            "key": rng.randint(0, 11),
            "loudness": round(rng.uniform(-30, 0), 3),
            "mode": rng.randint(0, 1),
            "speechiness": round(rng.random() / 4, 4),
            "acousticness": round(rng.random(), 4),
            "instrumentalness": round(rng.random() / 10, 6),
            "liveness": round(rng.random() / 2, 4),
            "valence": round(rng.random(), 3),
            "tempo": round(rng.uniform(60, 200), 3),
            "time_signature": 4,
            "track_genre": rng.choice(GENRES),
        }

    def fma(self, index: int) -> dict[str, Any]:
        rng = self.rng
        artist = self.artists()[0]
        album = self.album()
        title = self.title([artist])
        duration = max(self.duration(), 1)
        slug = "http://freemusicarchive.org/music/{}/{}/{}".format(
            *(part.replace(" ", "_") for part in (artist, album, title))
        )
        return {
            "track_id": index + 2,
            "album_id": f"{rng.randint(1, 20000)}.0",
            "album_title": album,
            "artist_id": rng.randint(1, 17000),
            "artist_name": artist,
            "track_duration": f"{duration // 60:02d}:{duration % 60:02d}",
            "license_title": rng.choice(LICENCES),
            "track_genre_top": rng.choice(GENRES),
            "track_title": title,
            "track_url": slug,
        }

    def laion(self, index: int) -> dict[str, Any]:
        rng = self.rng
        artists = self.artists()
        title = self.title(artists)
        if rng.random() < 0.18:  # music videos carry the uploader's "Artist - Title (...)" form
            title = f"{artists[0]} - {title}{VIDEO_SUFFIXES[int(rng.random() * 4)]}"
        return {
            "song_id": self.video_id(index),
            "title": title,
            "artist_names": artists,
            "artist_ids": [self.channel_id(artist) for artist in artists],
            "album_name": self.album() if rng.random() < 0.8 else None,
            "album_id": "MPREb_" + self.video_id(index + 7_000_000_000)
            if rng.random() < 0.8
            else None,
            "isExplicit": rng.random() < 0.08,
            "views": self._views[int(rng.random() * 4096)],
            "duration": self.duration(),
        }

    def sleeping(self, index: int) -> dict[str, Any]:
        rng = self.rng
        artists = self.artists()
        title = self.title(artists)
        song_id = 100_000 + index * 7 + rng.randint(0, 6)
        words = _NON_WORD.sub("-", f"{artists[0]} {title}").strip("-").lower()
        slug = words[:1].upper() + words[1:]  # Genius capitalises only the first letter
        links = [
            f"https://www.youtube.com/watch?v={self.video_id(index + j * 3_000_000_000)}"
            for j in range(rng.choice((0, 1, 1, 1, 2)))
        ]
        return {
            "song_id": song_id,
            "title": title,
            "song_url": f"https://genius.com/{slug}-lyrics",
            "primary_artist": artists[0],
            "featured_artists": artists[1:],
            "album_name": self.album() if rng.random() < 0.7 else None,
            "album_release_date": f"{rng.randint(1960, 2024)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}",
            "language": rng.choice(LANGUAGES),
            "youtube_links": links,
            "tags": [rng.choice(GENRES)],
            "lyrics": " ".join(rng.choices(self.vocab.titles, k=8)),
        }


def generate_rows(
    fmt: str,
    n: int,
    seed: int,
    *,
    start: int = 0,
    duplicate_rate: float = 0.01,
    universe: int | None = None,
) -> Iterator[dict[str, Any]]:
    """``n`` rows of ``fmt`` as dicts keyed by the native field names, deterministic in ``seed``.

    Duplicates: about ``duplicate_rate`` of rows repeat an earlier row exactly (a re-upload);
    for the Spotify layout they repeat an earlier track under another genre instead, as the
    original does for about a fifth of its rows. ``start`` offsets the row index (and so the
    generated ids) for writers that produce one data set in several parts; ``universe`` is then
    the size of the whole set (default ``n``), which decides how far names grow.
    """
    maker = RowMaker(seed, stream=start, universe=n if universe is None else universe)
    make = {
        "generic-csv": maker.generic,
        "spotify-tracks-dataset": maker.spotify,
        "free-music-archive": maker.fma,
        "laion-disco-12m": maker.laion,
        "sleeping-disco-9m": maker.sleeping,
    }[fmt]
    rng = maker.rng
    recent: list[dict[str, Any]] = []
    repeat_rate = 0.2 if fmt == "spotify-tracks-dataset" else duplicate_rate
    for index in range(start, start + n):
        if recent and rng.random() < repeat_rate:
            row = dict(recent[int(rng.random() * len(recent))])
            if fmt == "spotify-tracks-dataset":
                row[""] = index
                row["track_genre"] = rng.choice(GENRES)
        else:
            row = make(index)
            if len(recent) < 1000:  # a bounded pool keeps memory flat
                recent.append(row)
            else:
                recent[int(rng.random() * 1000)] = row
        yield row


def _write_csv(path: Path, header: Sequence[str], rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])
            count += 1
    return count


def _write_fma_tracks(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    columns = (
        ("album", "id", "album_id"),
        ("album", "title", "album_title"),
        ("artist", "id", "artist_id"),
        ("artist", "name", "artist_name"),
        ("track", "duration", "track_duration"),
        ("track", "genre_top", "track_genre_top"),
        ("track", "license", "license_title"),
        ("track", "title", "track_title"),
    )
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", *(group for group, _, _ in columns)])
        writer.writerow(["", *(field for _, field, _ in columns)])
        writer.writerow(["track_id"] + [""] * len(columns))
        for row in rows:
            minutes, seconds = row["track_duration"].split(":")
            values = dict(row, track_duration=int(minutes) * 60 + int(seconds))
            values["album_id"] = int(float(values["album_id"]))
            writer.writerow([row["track_id"], *(values[key] for _, _, key in columns)])
            count += 1
    return count


LAION_SCHEMA = pa.schema(
    [
        ("song_id", pa.string()),
        ("title", pa.string()),
        ("artist_names", pa.list_(pa.string())),
        ("artist_ids", pa.list_(pa.string())),
        ("album_name", pa.string()),
        ("album_id", pa.string()),
        ("isExplicit", pa.bool_()),
        ("views", pa.string()),
        ("duration", pa.int64()),
    ]
)


def _write_laion_file(path: Path, seed: int, start: int, count: int, universe: int) -> Path:
    names = LAION_SCHEMA.names
    rows = generate_rows("laion-disco-12m", count, seed, start=start, universe=universe)
    with pq.ParquetWriter(path, LAION_SCHEMA, compression="snappy") as writer:
        remaining = count
        while remaining > 0:
            size = min(LAION_ROW_GROUP, remaining)
            columns: dict[str, list[Any]] = {name: [] for name in names}
            appenders = [(columns[name].append, name) for name in names]
            for _, row in zip(range(size), rows, strict=False):
                for append, name in appenders:
                    append(row[name])
            writer.write_table(pa.table(columns, schema=LAION_SCHEMA))
            remaining -= size
    return path


def _write_laion(out: Path, n: int, seed: int, files: int, workers: int) -> list[Path]:
    per_file = -(-n // files) if n else 0
    parts = []
    for i in range(files):
        start = min(i * per_file, n)
        parts.append(
            (out / f"train-{i:05d}-of-{files:05d}.parquet", start, min(per_file, n - start))
        )
    if workers <= 1 or files == 1:
        return [_write_laion_file(path, seed, start, count, n) for path, start, count in parts]
    # one process per file: generation is CPU-bound Python, and each file has its own stream
    # spawn, not fork: forking a process that holds threads (a test run's database and broker
    # connections) can deadlock the child.
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        futures = [
            pool.submit(_write_laion_file, path, seed, start, count, n)
            for path, start, count in parts
        ]
        return [future.result() for future in futures]


def _write_sleeping(out: Path, rows: Iterator[dict[str, Any]], compress: bool) -> list[Path]:
    """One JSON Lines file per first letter of the primary artist, as the original is split."""
    suffix = ".jsonl.gz" if compress else ".jsonl"
    handles: dict[str, IO[str]] = {}
    with ExitStack() as stack:
        for row in rows:
            first = row["primary_artist"][:1].lower()
            letter = first if "a" <= first <= "z" else "0"  # digits, symbols, other scripts
            handle = handles.get(letter)
            if handle is None:
                path = out / f"{letter}{suffix}"
                if compress:
                    opened = stack.enter_context(gzip.open(path, "wt", encoding="utf-8"))
                else:
                    opened = stack.enter_context(open(path, "w", encoding="utf-8"))
                handle = handles[letter] = opened
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
    return sorted(out / f"{letter}{suffix}" for letter in handles)


def write_files(
    fmt: str,
    n: int,
    seed: int,
    out: Path,
    *,
    files: int | None = None,
    fma_layout: str = "tracks",
    compress: bool = False,
    workers: int | None = None,
) -> list[Path]:
    """Write ``n`` generated rows of ``fmt`` under ``out`` in the publisher's file layout.

    LAION output is split into ``files`` parquet files (default 5 from 1M rows, like the
    original), written by up to ``workers`` processes (default: one per CPU).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "laion-disco-12m":
        files = files or (5 if n >= 1_000_000 else 1)
        return _write_laion(out, n, seed, files, workers or os.cpu_count() or 1)
    rows = generate_rows(fmt, n, seed)
    if fmt == "generic-csv":
        path = out / "tracks.csv"
        _write_csv(
            path, ("track_id", "artist", "title", "album", "duration_s", "isrc", "url"), rows
        )
        return [path]
    if fmt == "spotify-tracks-dataset":
        path = out / "dataset.csv"
        header = list(RowMaker(seed).spotify(0))
        _write_csv(path, header, rows)
        return [path]
    if fmt == "free-music-archive":
        if fma_layout == "raw":
            path = out / "raw_tracks.csv"
            raw_header = [
                *("track_id", "album_id", "album_title", "artist_id", "artist_name"),
                *("license_title", "track_duration", "track_title", "track_url"),
            ]
            _write_csv(path, raw_header, rows)
        else:
            path = out / "tracks.csv"
            _write_fma_tracks(path, rows)
        return [path]
    return _write_sleeping(out, rows, compress)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("format", choices=FORMATS)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--files", type=int, help="parquet files for LAION (default 5 from 1M rows)"
    )
    parser.add_argument("--fma-layout", choices=("tracks", "raw"), default="tracks")
    parser.add_argument("--gzip", action="store_true", help="gzip Sleeping-DISCO JSON Lines")
    parser.add_argument("--workers", type=int, help="processes writing LAION files (default: CPUs)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = write_files(
        args.format,
        args.rows,
        args.seed,
        args.out,
        files=args.files,
        fma_layout=args.fma_layout,
        compress=args.gzip,
        workers=args.workers,
    )
    elapsed = time.perf_counter() - started
    size = sum(path.stat().st_size for path in paths)
    print(
        f"{args.rows:,} {args.format} rows in {len(paths)} file(s), {size / 1e6:,.1f} MB, "
        f"{elapsed:,.1f} s ({args.rows / max(elapsed, 1e-9):,.0f} rows/s) -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
