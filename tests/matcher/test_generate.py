"""The seeded dataset generator writes files its own readers accept, with real-file quirks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import pytest

from matcher.datasets.base import ImportProblem, TrackRecord
from matcher.datasets.registry import FORMATS


def _load_generator() -> ModuleType:
    # Imported by its plain name from bench/ on sys.path, so spawned worker processes (which
    # inherit sys.path) can import it again to unpickle the functions they run.
    bench = str(Path(__file__).resolve().parents[2] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    return importlib.import_module("generate")


generate = _load_generator()


def read_all(fmt: str, paths: list[Path]) -> tuple[list[TrackRecord], list[ImportProblem]]:
    items = list(FORMATS[fmt](paths))
    return (
        [item for item in items if isinstance(item, TrackRecord)],
        [item for item in items if isinstance(item, ImportProblem)],
    )


def test_same_seed_gives_same_rows_and_another_seed_does_not() -> None:
    first = list(generate.generate_rows("laion-disco-12m", 300, seed=5))
    again = list(generate.generate_rows("laion-disco-12m", 300, seed=5))
    other = list(generate.generate_rows("laion-disco-12m", 300, seed=6))
    assert first == again
    assert first != other


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("generic-csv", {}),
        ("free-music-archive", {"fma_layout": "tracks"}),
        ("free-music-archive", {"fma_layout": "raw"}),
        ("laion-disco-12m", {}),
        ("sleeping-disco-9m", {}),
        ("sleeping-disco-9m", {"compress": True}),
    ],
)
def test_generated_files_read_back_without_problems(
    tmp_path: Path, fmt: str, options: dict[str, object]
) -> None:
    paths = generate.write_files(fmt, 2000, 11, tmp_path, **options)
    records, problems = read_all(fmt, paths)
    assert problems == []
    assert len(records) == 2000  # duplicates are yielded; the loader deduplicates


def test_generated_spotify_file_repeats_tracks_under_other_genres(tmp_path: Path) -> None:
    (path,) = generate.write_files("spotify-tracks-dataset", 3000, 3, tmp_path)
    with open(path, encoding="utf-8") as handle:
        assert handle.readline().startswith(",track_id,artists,album_name,track_name,")
    records, problems = read_all("spotify-tracks-dataset", [path])
    assert problems == []
    assert 2000 < len(records) < 2900
    assert any(len(record.extra["genres"]) > 1 for record in records)


def test_generated_laion_rows_carry_the_quirks_of_real_metadata(tmp_path: Path) -> None:
    rows = list(generate.generate_rows("laion-disco-12m", 5000, seed=1))
    titles = [row["title"] for row in rows]
    assert any(" - " in t and t.endswith(("(Official Video)", "(Official Audio)")) for t in titles)
    assert any("(feat. " in t for t in titles)
    assert any("- Remastered " in t for t in titles)
    assert any(t.endswith("(Live)") for t in titles)
    assert any(any(ord(char) > 0x3000 for char in t) for t in titles)  # CJK and other scripts
    assert any(len(row["artist_names"]) > 1 for row in rows)
    ids = [row["song_id"] for row in rows]
    assert len(set(ids)) < len(ids)  # exact duplicates, as in scraped data
    assert all(len(song_id) == 11 for song_id in ids)
    channel = {}
    for row in rows:
        for name, artist_id in zip(row["artist_names"], row["artist_ids"], strict=True):
            assert channel.setdefault(name, artist_id) == artist_id  # one channel per artist


def test_laion_split_into_files_keeps_ids_unique_across_parallel_writers(tmp_path: Path) -> None:
    paths = generate.write_files("laion-disco-12m", 5000, 2, tmp_path, files=3, workers=2)
    assert [p.name for p in paths] == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in paths) == 5000
    records, _ = read_all("laion-disco-12m", paths)
    per_file = [{r.track_id for r in records if r.source_file == path.name} for path in paths]
    assert not per_file[0] & per_file[1] and not per_file[1] & per_file[2]


def test_command_line_writes_the_requested_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = generate.main(["generic-csv", "--rows", "500", "--seed", "9", "--out", str(tmp_path)])
    assert status == 0
    assert "500 generic-csv rows" in capsys.readouterr().out
    lines = (tmp_path / "tracks.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "track_id,artist,title,album,duration_s,isrc,url"
    assert len(lines) == 501


def test_large_sets_grow_their_own_names_so_titles_stay_mostly_rare() -> None:
    small = list(generate.generate_rows("laion-disco-12m", 3000, seed=3))
    # the same 3,000 rows drawn as part of a 12M-row set
    large = list(generate.generate_rows("laion-disco-12m", 3000, seed=3, universe=12_000_000))
    vocabulary = generate.load_vocabulary()
    real_artists = set(vocabulary.artists)

    def distinct(rows: list[dict], field: str) -> int:
        return len({str(row[field]).lower() for row in rows})

    assert distinct(large, "title") > distinct(small, "title")
    share_real = sum(row["artist_names"][0] in real_artists for row in large) / len(large)
    assert share_real < 0.3  # mostly generated names
    assert all(row["artist_names"][0] in real_artists for row in small)
    # generated names are stable: the same seed gives the same rows
    again = list(generate.generate_rows("laion-disco-12m", 3000, seed=3, universe=12_000_000))
    assert again == large
