"""factory_boy factories for the models tests create often, and the few shared builders on them.

A factory fills in what a label or a dataset would have sent (real artists and titles) and what
matching needs to find a row (a dataset track's keys, built by the engine as the importer builds
them). What a service computes is left to the service unless a test passes it: a catalog's
counts, a row's duplicate key, a run's progress and a match's evidence. Objects of one run agree
with each other: a run belongs to its catalog's organization, a row result's and a match's row
are rows of the run's catalog, and a match's track is of a dataset version the run matched.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import factory
import openpyxl
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Max
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership, Organization
from matcher.engine.identifiers import normalize_isrc
from matcher.engine.keys import TrackSide, prepare
from matcher.engine.normalize import NORMALIZER_VERSION
from matcher.engine.readings import extra_readings
from matcher.engine.score import ENGINE_VERSION, Score, Thresholds, score_pair
from matcher.models import (
    Dataset,
    DatasetTrack,
    DatasetVersion,
    Match,
    MatchRun,
    RowResult,
    TrackIdentifier,
    TrackReading,
)
from uploads.models import Catalog, CatalogRow

PASSWORD = "correct horse battery staple"
SKELETON = Path(__file__).parent / "data" / "skeleton"

# (artist, title) of real recordings, taken in turn by rows and tracks.
SONGS = [
    ("Fleetwood Mac", "Dreams"),
    ("Nina Simone", "Feeling Good"),
    ("Radiohead", "Karma Police"),
    ("Aretha Franklin", "Respect"),
    ("Massive Attack", "Teardrop"),
    ("Kate Bush", "Running Up That Hill"),
    ("Joni Mitchell", "A Case of You"),
    ("Talking Heads", "Once in a Lifetime"),
]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"label-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)


def member(organization: Organization, username: str, role: str):  # type: ignore[no-untyped-def]
    user = UserFactory(username=username)
    user.save()
    Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return user


# --- catalogs -------------------------------------------------------------------------------


class CatalogFactory(factory.django.DjangoModelFactory):
    """A stored catalog without rows; `row_count` and the other counts are the test's to set."""

    class Meta:
        model = Catalog

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"catalog-{n}.xlsx")
    stored_file = factory.LazyAttribute(lambda o: f"{_sha256(o.name)[:32]}.xlsx")
    file_format = "xlsx"
    sha256 = factory.LazyAttribute(lambda o: _sha256(f"{o.organization.slug}/{o.name}"))
    sheet_name = "Catalog"
    headers = factory.LazyFunction(lambda: ["Artist", "Title"])
    mapping = factory.LazyFunction(lambda: {"artist": 0, "title": 1})
    status = Catalog.Status.READY


class CatalogRowFactory(factory.django.DjangoModelFactory):
    """A valid row as the label typed it; the cells hold the same artist and title."""

    class Meta:
        model = CatalogRow

    class Params:
        song = factory.Iterator(SONGS)

    catalog = factory.SubFactory(CatalogFactory)
    row_number = factory.Sequence(lambda n: n + 2)  # row 1 is the header
    artist = factory.LazyAttribute(lambda o: o.song[0])
    title = factory.LazyAttribute(lambda o: o.song[1])
    cells = factory.LazyAttribute(lambda o: {"Artist": o.artist, "Title": o.title})
    status = CatalogRow.Status.VALID


# --- datasets -------------------------------------------------------------------------------


class DatasetFactory(factory.django.DjangoModelFactory):
    """A dataset without versions (see DatasetVersionFactory)."""

    class Meta:
        model = Dataset
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"dataset-{n}")
    name = factory.LazyAttribute(lambda o: f"{o.slug.replace('-', ' ').title()} Tracks")
    publisher = "Open Audio Lab"
    licence = "CC BY 4.0"
    description = factory.LazyAttribute(lambda o: f"The {o.slug} test dataset.")


class DatasetVersionFactory(factory.django.DjangoModelFactory):
    """The next version of a dataset, ready and current (pass `current=False` to keep the
    dataset's current version). `row_count` is the test's to set: tracks do not change it."""

    class Meta:
        model = DatasetVersion
        skip_postgeneration_save = True

    dataset = factory.SubFactory(DatasetFactory)
    number = factory.LazyAttribute(
        lambda o: (o.dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    )
    sha256 = factory.LazyAttribute(lambda o: _sha256(f"{o.dataset.slug} v{o.number}"))
    files = factory.LazyAttribute(
        lambda o: [{"name": f"{o.dataset.slug}.csv", "bytes": 0, "sha256": o.sha256}]
    )
    file_format = "generic-csv"
    normalizer_version = NORMALIZER_VERSION
    status = DatasetVersion.Status.READY
    finished_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def current(obj: DatasetVersion, create: bool, extracted: bool | None, **kwargs: Any) -> None:
        if create and extracted is not False and obj.status == DatasetVersion.Status.READY:
            Dataset.objects.filter(pk=obj.dataset_id).update(current_version=obj)
            obj.dataset.current_version = obj


def track_columns(*, artist: str, title: str, duration_s: float | None = None) -> dict[str, str]:
    """The normalized columns of a dataset track, as the importer writes them: `artist` is the
    stored credit ("A; B"), split back into the credited artists the reader gave."""
    side = prepare(artists=artist.split("; "), title=title, duration_s=duration_s).side
    return {
        "artist_key": side.artist_key,
        "title_key": side.title_key,
        "artists_norm": side.artists_norm,
        "version_label": side.version,
    }


class DatasetTrackFactory(factory.django.DjangoModelFactory):
    """A dataset track with the keys, identifiers and extra readings an import would give it,
    so matching can find it."""

    class Meta:
        model = DatasetTrack
        skip_postgeneration_save = True

    class Params:
        song = factory.Iterator(SONGS)
        columns = factory.LazyAttribute(
            lambda o: track_columns(artist=o.artist, title=o.title, duration_s=o.duration_s)
        )

    version = factory.SubFactory(DatasetVersionFactory)
    track_id = factory.Sequence(lambda n: f"track-{n}")
    artist = factory.LazyAttribute(lambda o: o.song[0])
    title = factory.LazyAttribute(lambda o: o.song[1])
    duration_s = None
    url = factory.LazyAttribute(lambda o: f"https://example.org/tracks/{o.track_id}")
    source_file = factory.LazyAttribute(lambda o: f"{o.version.dataset.slug}.csv")
    source_row = factory.Sequence(lambda n: n + 2)
    artist_key = factory.LazyAttribute(lambda o: o.columns["artist_key"])
    title_key = factory.LazyAttribute(lambda o: o.columns["title_key"])
    artists_norm = factory.LazyAttribute(lambda o: o.columns["artists_norm"])
    version_label = factory.LazyAttribute(lambda o: o.columns["version_label"])

    @factory.post_generation
    def identifiers(obj: DatasetTrack, create: bool, extracted: Any, **kwargs: Any) -> None:
        isrc = normalize_isrc(obj.isrc)
        if create and isrc:
            TrackIdentifier.objects.create(
                version_id=obj.version_id, track=obj, kind="isrc", value=isrc
            )

    @factory.post_generation
    def readings(obj: DatasetTrack, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        artists = obj.artist.split("; ")
        credited = prepare(artists=artists, title=obj.title, duration_s=obj.duration_s)
        found = extra_readings(
            artists=artists, title=obj.title, credited=credited, duration_s=obj.duration_s
        )
        TrackReading.objects.bulk_create(
            TrackReading(
                version_id=obj.version_id,
                track=obj,
                reading=number,
                name=reading.name,
                artist_key=reading.prepared.side.artist_key,
                title_key=reading.prepared.side.title_key,
                artists_norm=reading.prepared.side.artists_norm,
                version_label=reading.prepared.side.version,
                duration_s=obj.duration_s,
            )
            for number, reading in enumerate(found, start=1)
        )


# --- runs and matches -----------------------------------------------------------------------


class MatchRunFactory(factory.django.DjangoModelFactory):
    """A queued run of a catalog, in the catalog's organization. `dataset_versions=[...]` sets
    the versions it matches; the progress figures are the test's to set."""

    class Meta:
        model = MatchRun
        skip_postgeneration_save = True

    catalog = factory.SubFactory(CatalogFactory)
    organization = factory.SelfAttribute("catalog.organization")
    thresholds = factory.LazyFunction(lambda: dict(settings.MATCH_THRESHOLDS))
    engine_version = ENGINE_VERSION

    @factory.post_generation
    def dataset_versions(
        obj: MatchRun,
        create: bool,
        extracted: Sequence[DatasetVersion] | None,
        **kwargs: Any,
    ) -> None:
        if create and extracted:
            obj.dataset_versions.set(extracted)


class RowResultFactory(factory.django.DjangoModelFactory):
    """An unmatched row of the run's catalog (pass status, best kind and confidence for
    others)."""

    class Meta:
        model = RowResult

    run = factory.SubFactory(MatchRunFactory)
    catalog_row = factory.SubFactory(
        CatalogRowFactory, catalog=factory.SelfAttribute("..run.catalog")
    )
    status = RowResult.Status.UNMATCHED


def _score(o: Any) -> Score:
    row = o.catalog_row
    query = prepare(
        artists=row.artist,
        title=row.title,
        version=row.version,
        album=row.album,
        duration_s=row.duration_s,
    ).side
    track = o.track
    candidate = TrackSide.from_stored(
        artist_key=track.artist_key,
        title_key=track.title_key,
        artists_norm=track.artists_norm,
        version=track.version_label,
        duration_s=track.duration_s,
    )
    score = score_pair(query, candidate, Thresholds.from_dict(o.run.thresholds))
    if score is None:
        raise ValueError(
            f"{row.artist} - {row.title} does not match {track.artist} - {track.title}; "
            "pass kind and confidence to store such a match anyway"
        )
    return score


class MatchFactory(factory.django.DjangoModelFactory):
    """A match of a row of the run's catalog to a dataset track: by default the same recording
    in a new dataset. Kind and scores are the engine's for that pair unless passed; the
    evidence is empty unless passed. The track's version is added to the run's versions."""

    class Meta:
        model = Match
        skip_postgeneration_save = True

    class Params:
        score = factory.LazyAttribute(_score)

    run = factory.SubFactory(MatchRunFactory)
    catalog_row = factory.SubFactory(
        CatalogRowFactory, catalog=factory.SelfAttribute("..run.catalog")
    )
    track = factory.SubFactory(
        DatasetTrackFactory,
        artist=factory.SelfAttribute("..catalog_row.artist"),
        title=factory.SelfAttribute("..catalog_row.title"),
    )
    dataset = factory.SelfAttribute("track.version.dataset")
    kind = factory.LazyAttribute(lambda o: o.score.kind)
    confidence = factory.LazyAttribute(lambda o: o.score.confidence)
    artist_score = factory.LazyAttribute(lambda o: o.score.artist)
    title_score = factory.LazyAttribute(lambda o: o.score.title)
    duration_delta_s = factory.LazyAttribute(lambda o: o.score.duration_delta_s)
    version_note = factory.LazyAttribute(lambda o: o.score.version_note)

    @factory.post_generation
    def run_versions(obj: Match, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.run.dataset_versions.add(obj.track.version_id)


# --- stored catalogs and files --------------------------------------------------------------


def stored_catalog(
    organization: Organization, name: str = "alice-catalog.csv", *, path: Path | None = None
) -> Catalog:
    """A catalog file (the skeleton's 14 rows unless `path`) stored by the upload service."""
    from uploads.services import catalog_create

    with (path or SKELETON / "catalog.csv").open("rb") as fh:
        return catalog_create(organization=organization, stream=fh, filename=name)


BIG_CATALOG_ROWS = 1200


def big_catalog_file(directory: Path) -> Path:
    """A CSV catalog (big.csv in `directory`) of BIG_CATALOG_ROWS distinct rows over the skeleton
    sample's artists, so that every chunk of a run does real blocking work."""
    with (SKELETON / "tracks_generic.csv").open(encoding="utf-8", newline="") as fh:
        tracks = list(csv.DictReader(fh))
    path = directory / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Artist", "Title"])
        for i in range(BIG_CATALOG_ROWS):
            t = tracks[i % len(tracks)]
            title = t["title"] if i < len(tracks) else f"{t['title']} (Take {i})"
            out.writerow([t["artist"].split(";")[0], title])
    return path


def big_catalog(directory: Path, slug: str) -> Catalog:
    """The big catalog file stored for the organization `slug` (created if need be)."""
    from accounts.services import organization_get_or_create

    organization = organization_get_or_create(slug=slug)
    return stored_catalog(organization, "big.csv", path=big_catalog_file(directory))


def token_client(user: Any, organization: Organization, **client_options: Any) -> APIClient:
    """An API client authenticated with a new API token of `user` in `organization`."""
    from accounts.services import api_token_create

    _token, key = api_token_create(user=user, organization=organization, name="tests")
    client = APIClient(**client_options)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def xlsx_bytes(sheets: dict[str, Sequence[Sequence[Any]]]) -> bytes:
    """An .xlsx workbook with these sheets, each a list of rows."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        worksheet = workbook.create_sheet(name)
        for row in rows:
            worksheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- the known small run --------------------------------------------------------------------
# A finished run of a six-row catalog against two small datasets, alpha and beta, with matches
# of each kind: the report, review, export and page tests check their figures against it.

# Catalog rows: number -> (artist, title, album).
SMALL_CATALOG = {
    2: ("Aurora Lane", "Night Drive", "Neon"),
    3: ("Aurora Lane", "Glass", "Neon"),
    4: ("Kite Parade", "Open Water", "Tides"),
    5: ("Kite Parade", "Salt", "Tides"),
    6: ("", "Untitled", ""),  # invalid: no artist
    7: ("Aurora Lane", "Night Drive", "Neon"),  # duplicate of row 2
}
# (row number, dataset slug, dataset track id, kind, confidence)
SMALL_RUN_MATCHES = [
    (2, "alpha", "a-1", "exact", 100),
    (2, "beta", "b-1", "strong", 92),
    (3, "alpha", "a-2", "version", 80),
    (4, "beta", "b-2", "possible", 76),
]
SMALL_RUN_TRACKS = {
    ("alpha", "a-1"): ("Aurora Lane", "Night Drive"),
    ("alpha", "a-2"): ("Aurora Lane", "Glass (Live)"),
    ("beta", "b-1"): ("Aurora Lane", "Night Drive"),
    ("beta", "b-2"): ("Kite Parade", "Open Water (demo)"),
    ("beta", "b-3"): ("Kite Parade", "Open Waters"),
}


@dataclass
class Built:
    run: MatchRun
    catalog: Catalog
    rows: dict[int, CatalogRow]
    matches: dict[tuple[int, str], Match]
    datasets: dict[str, Dataset] = field(default_factory=dict)


def dataset_with_tracks(
    slug: str, number: int = 1, *, tracks: dict[str, tuple[str, str]]
) -> Dataset:
    """Version `number` of dataset `slug` (created on first use), current, with these tracks:
    track id -> (artist, title)."""
    dataset = DatasetFactory(
        slug=slug,
        name=f"{slug.title()} Set",
        publisher=f"{slug.title()} Lab",
        licence="CC BY 4.0",
        description=f"The {slug} test dataset.",
    )
    version = DatasetVersionFactory(
        dataset=dataset,
        number=number,
        sha256=f"{slug}{number}".ljust(64, "0"),
        row_count=len(tracks),
        files=[{"name": f"{slug}.csv", "bytes": 1, "sha256": "0" * 64}],
    )
    for i, (track_id, (artist, title)) in enumerate(tracks.items(), start=2):
        DatasetTrackFactory(
            version=version,
            track_id=track_id,
            artist=artist,
            title=title,
            url=f"https://example.org/{slug}/{track_id}",
            source_row=i,
        )
    dataset.refresh_from_db()
    return dataset


def small_catalog(organization: Organization) -> tuple[Catalog, dict[int, CatalogRow]]:
    """The six-row catalog of the known small run, and its rows by row number."""
    catalog = CatalogFactory(
        organization=organization,
        name="catalog.xlsx",
        stored_file="x",
        sha256="c" * 64,
        row_count=len(SMALL_CATALOG),
    )
    rows = {}
    for number, (artist, title, album) in SMALL_CATALOG.items():
        rows[number] = CatalogRowFactory(
            catalog=catalog,
            row_number=number,
            artist=artist,
            title=title,
            album=album,
            status=CatalogRow.Status.INVALID if not artist else CatalogRow.Status.VALID,
            problems=[{"column": "Artist", "message": "empty"}] if not artist else [],
        )
    rows[7].duplicate_of = rows[2]
    rows[7].save()
    return catalog, rows


def finished_run(
    catalog: Catalog,
    rows: dict[int, CatalogRow],
    matches: list[tuple[int, str, str, str, int]] = SMALL_RUN_MATCHES,
) -> Built:
    """A finished run of `catalog` against the current alpha and beta (and any dataset named in
    `matches`) that found exactly `matches`; each row's result follows from them."""
    slugs = sorted({m[1] for m in matches} | {"alpha", "beta"})
    datasets = {s: Dataset.objects.get(slug=s) for s in slugs}
    run = MatchRunFactory(
        catalog=catalog,
        status=MatchRun.Status.DONE,
        engine_version="score-1/norm-1",
        thresholds={"strong": 90, "possible": 75},
        total_rows=len(rows),
        rows_done=len(rows),
        finished_at=timezone.now(),
        dataset_versions=[d.current_version for d in datasets.values()],
    )
    built = Built(run, catalog, rows, {}, datasets)
    best: dict[int, tuple[str, int]] = {}
    rank: dict[tuple[int, str], int] = {}
    for number, slug, track_id, kind, confidence in matches:
        track = DatasetTrack.objects.get(version=datasets[slug].current_version, track_id=track_id)
        rank[(number, slug)] = rank.get((number, slug), 0) + 1
        built.matches[(number, slug)] = MatchFactory(
            run=run,
            catalog_row=rows[number],
            track=track,
            dataset=datasets[slug],
            kind=kind,
            confidence=confidence,
            rank=rank[(number, slug)],
            artist_score=100.0,
            title_score=float(confidence),
            duration_delta_s=1.5,
            version_note="",
            evidence={
                "rules": ["title: version tag 'live' set aside"],
                "dataset": {"slug": slug, "version": 1, "sha256": "f" * 64},
                "provenance": {"file": f"{slug}.csv", "row": track.source_row},
                "scores": {"artist": 100.0, "title": float(confidence)},
            },
        )
        if number not in best or confidence > best[number][1]:
            best[number] = (kind, confidence)
    for number, row in rows.items():
        if row.status == CatalogRow.Status.INVALID:
            status, kind, conf = RowResult.Status.INVALID, "", 0
        else:
            source = row.duplicate_of.row_number if row.duplicate_of else number
            kind, conf = best.get(source, ("", 0))
            status = RowResult.Status.MATCHED if kind else RowResult.Status.UNMATCHED
        RowResultFactory(
            run=run,
            catalog_row=row,
            status=status,
            best_kind=kind,
            best_confidence=conf,
            candidates_considered=3 if number == 4 else 0,
            top_candidates=[
                {
                    "track": built.matches[(4, "beta")].track_id,
                    "kind": "possible",
                    "confidence": 76,
                    "artist": 100.0,
                    "title": 76.0,
                },
                {
                    "track": DatasetTrack.objects.get(track_id="b-3").pk,
                    "kind": "possible",
                    "confidence": 70,
                    "artist": 100.0,
                    "title": 70.0,
                },
            ]
            if number == 4
            else [],
        )
    return built


def small_run(organization: Organization) -> Built:
    """The known small run, in `organization`."""
    for slug in ("alpha", "beta"):
        dataset_with_tracks(
            slug, tracks={tid: v for (s, tid), v in SMALL_RUN_TRACKS.items() if s == slug}
        )
    catalog, rows = small_catalog(organization)
    return finished_run(catalog, rows)
