"""The dataset formats trainwatch can read and the public training datasets it knows about.

Descriptions are for the people reading reports: what the dataset is, who assembled it and who
is reported to have used it. Publisher facts were checked against each dataset card; see
``DatasetInfo.notes`` where something could not be confirmed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from matcher.datasets import (
    fma,
    generic_csv,
    laion_copy,
    laion_disco,
    sleeping_disco,
    spotify_tracks,
)
from matcher.datasets.base import (
    Reader,
    ReaderOutput,
    Unit,
    rows_by_size,
    units_all_files,
    units_per_file,
)
from matcher.datasets.copy_text import Chunk, IdAllocator, Target


@dataclass(frozen=True, slots=True)
class DatasetFormat:
    """Everything the importer knows of a format: a new format is one entry here.

    `read` yields the records of some files; `plan` splits an import into units for the worker
    processes; `estimate_rows` sizes the import before it is read (progress, bulk or row-by-row
    loading); `unit_reader` reads one unit (default: `read` on its files); `encode_unit`, where
    set, encodes a unit to COPY text faster than record by record (and must write exactly what
    the record path writes).
    """

    name: str
    read: Reader
    plan: Callable[[str, Sequence[Path]], list[Unit]] = units_per_file
    estimate_rows: Callable[[Sequence[Path]], int] = rows_by_size
    unit_reader: Callable[[Unit], ReaderOutput] | None = None
    encode_unit: Callable[[Unit, Target, IdAllocator], Iterator[Chunk]] | None = None

    def read_unit(self, unit: Unit) -> ReaderOutput:
        if self.unit_reader is not None:
            return self.unit_reader(unit)
        return self.read([Path(path) for path in unit[1]])

    def __call__(self, paths: Sequence[Path]) -> ReaderOutput:
        return self.read(paths)


FORMATS: dict[str, DatasetFormat] = {
    fmt.name: fmt
    for fmt in (
        DatasetFormat("generic-csv", generic_csv.read),
        # one id's genres are merged across all files, so the files are read together
        DatasetFormat("spotify-tracks-dataset", spotify_tracks.read, plan=units_all_files),
        DatasetFormat("free-music-archive", fma.read),
        DatasetFormat(
            "laion-disco-12m",
            laion_disco.read,
            plan=laion_disco.plan_units,
            estimate_rows=laion_disco.estimate_rows,
            unit_reader=laion_disco.read_unit,
            encode_unit=laion_copy.encode_unit,
        ),
        DatasetFormat("sleeping-disco-9m", sleeping_disco.read),
    )
}


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    slug: str
    name: str
    publisher: str
    source_url: str
    licence: str  # the licence the publisher states for the metadata, as written on the card
    description: str
    default_format: str
    expected_rows: int
    notes: str = ""  # what could not be verified


KNOWN_DATASETS: dict[str, DatasetInfo] = {
    info.slug: info
    for info in (
        DatasetInfo(
            slug="laion-disco-12m",
            name="LAION-DISCO-12M",
            publisher="LAION e.V.",
            source_url="https://huggingface.co/datasets/laion/LAION-DISCO-12M",
            licence="Apache-2.0 (the card said MIT until November 2024)",
            description=(
                "About 12.3 million links to songs and music videos on YouTube, with title, "
                "artists, album and duration, collected by LAION from YouTube Music by following "
                'each artist\'s "Fans might also like" section, after the method of DISCO-10M. '
                "It was released as a resource for training and evaluating music models; which "
                "models were trained on it is not stated on the card."
            ),
            default_format="laion-disco-12m",
            expected_rows=12_320_916,
        ),
        DatasetInfo(
            slug="sleeping-disco-9m",
            name="Sleeping-DISCO-9M",
            publisher="Sleeping AI",
            source_url="https://huggingface.co/datasets/sleeping-ai/Sleeping-DISCO-9M",
            licence="not confirmed",
            description=(
                "Metadata for about 9.7 million songs taken from Genius (artists, album, release "
                "date, language, links to YouTube, and lyrics), published by Sleeping AI with "
                'the paper "SLEEPING-DISCO 9M: A large-scale pre-training dataset for generative '
                'music modeling" (arXiv 2506.14293). It is described as pre-training data for '
                "generative music models."
            ),
            default_format="sleeping-disco-9m",
            expected_rows=9_713_413,
            notes=(
                "Licence and the exact name of the title field were not visible in the sources "
                "checked; the row count comes from the datasets issue."
            ),
        ),
        DatasetInfo(
            slug="free-music-archive",
            name="FMA: A Dataset for Music Analysis",
            publisher="Defferrard, Benzi, Vandergheynst, Bresson (EPFL LTS2)",
            source_url="https://github.com/mdeff/fma",
            licence="metadata CC BY 4.0; audio under each artist's own Creative Commons licence",
            description=(
                "106,574 Creative Commons-licensed tracks from 16,341 artists on the Free Music "
                "Archive, with full-length audio and track, album and artist metadata, assembled "
                "at EPFL and presented at ISMIR 2017. It is widely used in music information "
                "retrieval research and is reported among the training data of several music "
                "generation models."
            ),
            default_format="free-music-archive",
            expected_rows=106_574,
            notes="Which generative models used it is not verified here.",
        ),
        DatasetInfo(
            slug="spotify-tracks-dataset",
            name="Spotify Tracks Dataset",
            publisher="Maharshi Pandya (Hugging Face: maharshipandya)",
            source_url="https://huggingface.co/datasets/maharshipandya/spotify-tracks-dataset",
            licence="BSD (as stated on the card, no version given)",
            description=(
                "114,000 rows of Spotify tracks across 125 genres with audio features (tempo, "
                "energy, danceability...) gathered through the Spotify Web API and shared on "
                "Hugging Face and Kaggle by Maharshi Pandya. The same track appears once per genre "
                "it was collected under; it is mostly used for genre classification and "
                "recommendation exercises."
            ),
            default_format="spotify-tracks-dataset",
            expected_rows=114_000,
            notes="The 125-genre count and the Kaggle mirror come from memory of the card.",
        ),
    )
}
