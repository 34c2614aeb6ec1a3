"""Search terms after an import: adding a new dataset's keys gives what a full rebuild gives."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest

from matcher.datasets import importer
from matcher.datasets.importer import dataset_import
from matcher.models import Dataset, SearchTerm
from matcher.search.selectors import dataset_search
from matcher.search.services import search_terms_add, search_terms_refresh

HEADER = "track_id,artist,title,album,duration_s,isrc,url\n"
# Spellings chosen for the display rule (the smallest spelling not in capitals, else the
# smallest): a key only in capitals so far, then also in mixed case; mixed case on both sides;
# capitals added to a mixed-case key; keys only in the new dataset.
BASE = (
    "a1,BEYONCÉ,HALO,,261,,\n"
    "a2,Radiohead,Karma Police,,264,,\n"
    "a3,Sigur Ros,Hoppipolla,,268,,\n"
    "a4,ABBA,Waterloo,,170,,\n"
)
ADDED = (
    "b1,Beyoncé,Halo,,261,,\n"
    "b2,RADIOHEAD,KARMA POLICE,,264,,\n"
    "b3,Sigur Rós,Hoppípolla,,268,,\n"
    "b4,Muse,Uprising,,305,,\n"
    "b5,ABBA,WATERLOO,,170,,\n"
    "b6,,Untitled Track,,100,,\n"
)


def terms() -> set[tuple[str, str, str, int]]:
    return set(SearchTerm.objects.values_list("field", "key", "display", "tracks"))


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def load(tmp_path: Path, slug: str, name: str, body: str) -> importer.ImportSummary:
    return dataset_import(slug=slug, paths=[write(tmp_path, name, body)], file_format="generic-csv")


@pytest.fixture
def add_always(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(importer, "TERMS_ADD_MAX_SHARE", 1.0)


def test_a_small_new_dataset_has_its_keys_added_as_a_rebuild_would(db, tmp_path, add_always):
    load(tmp_path, "base-set", "a.csv", BASE)
    summary = load(tmp_path, "added-set", "b.csv", ADDED)
    assert "search terms (added)" in summary.phases  # the incremental path ran
    added = terms()
    assert ("artist", "beyonce", "Beyoncé", 2) in added  # capitals gave way to mixed case
    assert ("artist", "radiohead", "Radiohead", 2) in added  # and stayed ahead of capitals
    assert ("title", "hoppipolla", "Hoppipolla", 2) in added  # the smaller of two spellings
    assert ("artist", "muse", "Muse", 1) in added  # a key new with this dataset
    assert ("title", "waterloo", "Waterloo", 2) in added
    search_terms_refresh()
    assert terms() == added
    assert {group.slug for group in dataset_search(artist="beyonce", title="").groups} == {
        "base-set",
        "added-set",
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_added_terms_equal_rebuilt_terms_on_random_spellings(db, tmp_path, seed):
    """Random case and accent spellings of a few names, split over three datasets."""
    rng = random.Random(seed)
    names = ["Beyoncé", "Sigur Rós", "The Beatles", "Motörhead", "ABBA", "Björk", "Ólafur Arnalds"]
    titles = ["Halo", "Hoppípolla", "Let It Be", "Ace of Spades", "Jóga", "Saman", "Intro"]

    def spelling(text: str) -> str:
        plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return rng.choice([text, text.upper(), text.lower(), text.title(), plain, plain.upper()])

    bodies = []
    for part in range(3):
        rows = [
            f"{part}-{i},{spelling(rng.choice(names))},{spelling(rng.choice(titles))},,200,,\n"
            for i in range(rng.randint(5, 40))
        ]
        bodies.append("".join(rows))
    for part in range(3):
        path = write(tmp_path, f"{part}.csv", bodies[part])
        dataset_import(slug=f"set-{part}", paths=[path], file_format="generic-csv")
    search_terms_refresh()  # the importer may have added the last, small set: rebuild all
    rebuilt = terms()
    # the same state reached by adding sets 1 and 2, one after the other, to set 0's terms
    later = list(Dataset.objects.filter(slug__in=["set-1", "set-2"]).order_by("slug"))
    Dataset.objects.filter(pk__in=[d.pk for d in later]).update(current_version=None)
    search_terms_refresh()
    assert terms() != rebuilt
    for dataset in later:
        Dataset.objects.filter(pk=dataset.pk).update(current_version=dataset.current_version_id)
        search_terms_add(dataset.current_version_id)
    assert terms() == rebuilt


def test_a_large_share_or_a_replaced_version_rebuilds_the_terms(db, tmp_path):
    first = dataset_import(
        slug="base-set", paths=[write(tmp_path, "a.csv", BASE)], file_format="generic-csv"
    )
    assert "search terms" in first.phases  # the only dataset: all of the tracks
    second = dataset_import(
        slug="added-set", paths=[write(tmp_path, "b.csv", ADDED)], file_format="generic-csv"
    )
    assert "search terms" in second.phases  # 6 of 10 tracks: over the 10% share
    added = terms()
    replaced = dataset_import(
        slug="base-set",
        paths=[write(tmp_path, "a2.csv", BASE.replace("a4,ABBA,Waterloo,,170,,\n", ""))],
        file_format="generic-csv",
    )
    assert replaced.version_number == 2
    assert "search terms" in replaced.phases  # a version left the current set
    assert ("title", "waterloo", "Waterloo", 2) in added
    assert ("title", "waterloo", "WATERLOO", 1) in terms()  # count and display follow


def test_replacing_a_version_rebuilds_even_when_small(db, tmp_path, add_always):
    load(tmp_path, "base-set", "a.csv", BASE)
    load(tmp_path, "added-set", "b.csv", ADDED)
    summary = dataset_import(
        slug="added-set",
        paths=[write(tmp_path, "b2.csv", ADDED.replace("b4,Muse,Uprising,,305,,\n", ""))],
        file_format="generic-csv",
    )
    assert "search terms" in summary.phases
    assert not any(key == "muse" for _, key, _, _ in terms())  # gone with the old version
