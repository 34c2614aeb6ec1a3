"""The same catalog and dataset give the same matches on PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SPOTIFY = ROOT / "tests" / "data" / "datasets" / "spotify_tracks_sample_886.csv"
YOUTUBE = ROOT / "tests" / "data" / "youtube" / "uploads.csv"
# Catalog rows found only through a reading of a YouTube upload's title, or as two copies.
YOUTUBE_ROWS = {
    ("Chris Montez", "Our Day Will Come"): {"yt-montez"},
    ("Aimee Mann", "The Scientist"): {"yt-mann"},
    ("Jim Lowe", "The Green Door"): {"copy-a", "copy-b"},
    ("Dollar", "I Wanna Hold Your Hand"): {"yt-dollar"},  # artist and title run together
    ("Irma Thomas", "For the Good Times"): {"yt-irma"},
}
IMPORTS = (
    ("spotify", SPOTIFY, "spotify-tracks-dataset"),
    ("youtube", YOUTUBE, "generic-csv"),
)
COMPARED = ("catalog_row", "status", "dataset_track_id", "match_kind", "confidence")


def _typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(text)) if len(text) > 1 else 0
    return text[:i] + rng.choice("aeiou") + text[i + 1 :]


def _early_typo(text: str) -> str:
    """A letter dropped near the start, where key-prefix ranges cannot find the track."""
    return text[:1] + text[2:] if len(text) > 6 else text


def _catalog(path: Path) -> list[int]:
    """Real rows with typos, tags, case changes and covers, so all blocking rounds run.
    Returns the sheet rows with an early typo in both fields."""
    rng = random.Random(20)
    with SPOTIFY.open(encoding="utf-8", newline="") as fh:
        tracks = list(csv.DictReader(fh))
    rows = [("Artist", "Track Title", "Duration")]
    early: list[int] = []
    for t in rng.sample(tracks, 120):
        artist, title = t["artists"].replace(";", ", "), t["track_name"]
        minutes, seconds = divmod(round(int(t["duration_ms"]) / 1000), 60)
        variation = rng.randrange(8)
        if variation == 1:
            artist = _typo(artist, rng)
        elif variation == 2:
            title = _typo(title, rng)
        elif variation == 3:
            artist, title = _typo(artist, rng), _typo(title, rng)
        elif variation == 4:
            title += rng.choice((" (Live)", " - Remastered 2011", " (Acoustic Version)"))
        elif variation == 5:
            artist = rng.choice(tracks)["artists"]  # same title, another artist
        elif variation == 6:
            artist, title = artist.upper(), title.lower()
        elif variation == 7 and len(artist) > 6 and len(title) > 6 and "," not in artist:
            artist, title = _early_typo(artist), _early_typo(title)
            early.append(len(rows) + 1)  # sheet row: the header is row 1
        rows.append((artist, title, f"{minutes}:{seconds:02d}"))
    rows += [(artist, title, "") for artist, title in YOUTUBE_ROWS]
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return early


def _catalog_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))[1:]


def _report(path: Path) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [tuple(line[c] for c in COMPARED) for line in csv.DictReader(fh)]


def _sqlite_run(tmp_path: Path, catalog: Path) -> list[tuple[str, ...]]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        TRAINWATCH_EMBEDDED="true",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    out = tmp_path / "sqlite.csv"
    manage = [sys.executable, str(ROOT / "manage.py")]
    for args in (
        ["migrate", "-v0"],
        *(["import_dataset", slug, str(path), "--format", fmt, "--no-progress"]
          for slug, path, fmt in IMPORTS),
        ["match_catalog", str(catalog), "--org", "same-label", "--out", str(out)],
    ):  # fmt: skip
        done = subprocess.run(
            manage + args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (args[0], done.stderr[-2000:])
    return _report(out)


@pytest.mark.django_db(transaction=True)
def test_postgresql_and_sqlite_give_the_same_matches(tmp_path):
    assert connection.vendor == "postgresql"
    catalog = tmp_path / "catalog.csv"
    early = _catalog(catalog)
    for slug, path, fmt in IMPORTS:
        call_command("import_dataset", slug, str(path), "--format", fmt, "--no-progress")
    pg_out = tmp_path / "pg.csv"
    call_command("match_catalog", str(catalog), "--org", "same-label", "--out", str(pg_out))
    postgres = _report(pg_out)
    sqlite = _sqlite_run(tmp_path, catalog)

    kinds = {line[3] for line in postgres}
    assert {"exact", "strong", "version"} <= kinds, "the catalog exercises several kinds"
    assert any(line[1] == "unmatched" for line in postgres)
    assert len(postgres) >= 120
    # An early typo in both fields: neither exact key nor key prefix finds the track; keys one
    # typo away (round 3) do, on both databases.
    assert len(early) >= 3
    found = {line[0] for line in postgres if line[1] == "matched"}
    assert {str(r) for r in early} <= found, (early, [ln for ln in postgres if int(ln[0]) in early])
    # The YouTube rows close the catalog: found through a title reading, or both copies.
    first_youtube_row = len(_catalog_rows(catalog)) - len(YOUTUBE_ROWS) + 2  # header is row 1
    for offset, expected in enumerate(YOUTUBE_ROWS.values()):
        row = str(first_youtube_row + offset)
        got = {line[2] for line in postgres if line[0] == row and line[1] == "matched"}
        assert got == expected, (row, got)
    assert sqlite == postgres
