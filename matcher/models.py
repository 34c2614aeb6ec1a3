"""Datasets (with versions and provenance), match runs, matches and their evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

from accounts.models import Organization
from uploads.models import Catalog, CatalogRow

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


class ByteOrderCharField(models.CharField):
    """A CharField sorted and compared byte by byte (collation "C") on PostgreSQL.

    For keys and identifiers, which have no language: their btree indexes build about 1.5-2.5x
    faster than under a locale's collation (no locale rules, abbreviated sort keys; measured on
    12.2M LAION tracks, docs/benchmarks.md), and key ranges such as [p, p + U+10FFFF) mean "starts
    with p" whatever the database's default collation. Other databases keep their default.
    """

    def db_parameters(self, connection: BaseDatabaseWrapper) -> dict[str, str | None]:
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


class Dataset(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    publisher = models.CharField(max_length=200, blank=True)
    source_url = models.URLField(max_length=500, blank=True)
    licence = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    current_version = models.ForeignKey(
        "DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class DatasetVersion(models.Model):
    class Status(models.TextChoices):
        IMPORTING = "importing", "Importing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, help_text="SHA-256 over the source files, in order")
    files = models.JSONField(default=list, help_text="[{name, bytes, sha256}]")
    file_format = models.CharField(max_length=32)
    normalizer_version = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IMPORTING)
    row_count = models.PositiveBigIntegerField(default=0)
    problem_count = models.PositiveBigIntegerField(default=0)
    problems = models.JSONField(default=list, help_text="First problems: [{file, row, reason}]")
    duplicate_count = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="version_number_unique"),
            models.UniqueConstraint(fields=["dataset", "sha256"], name="version_content_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.slug} v{self.number} ({self.sha256[:12]})"


# The candidate columns blocking reads besides the two keys (see DatasetTrack.Meta.indexes).
COVERED = ["id", "version", "artists_norm", "version_label", "duration_s"]
READING_COVERED = ["track", "reading", "version", "artists_norm", "version_label", "duration_s"]


class DatasetTrack(models.Model):
    """One track of one dataset version. Keys are built at import by matcher.engine."""

    id = models.BigAutoField(primary_key=True)
    # Indexed through the composite indexes below, which all lead with or include it.
    version = models.ForeignKey(
        DatasetVersion, on_delete=models.CASCADE, related_name="tracks", db_index=False
    )
    track_id = ByteOrderCharField(max_length=128, help_text="The dataset's own id")
    artist = models.TextField(help_text="Credited artists as published, joined with '; '")
    title = models.TextField()
    album = models.TextField(blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    isrc = models.CharField(max_length=12, blank=True)
    url = models.TextField(blank=True)
    extra = models.JSONField(default=dict, blank=True)
    source_file = models.CharField(max_length=255)
    source_row = models.PositiveBigIntegerField()
    # Normalized forms and blocking keys (see docs/matching.md).
    artist_key = ByteOrderCharField(max_length=255, db_index=False)
    title_key = ByteOrderCharField(max_length=255, db_index=False)
    artists_norm = models.TextField(help_text="Normalized artist names joined with '|'")
    version_label = models.CharField(max_length=64, blank=True)

    class Meta:
        # Blocking reads candidates by title key and by artist key (an artist with many tracks:
        # artist key and a range of title keys). The two key indexes carry every column the
        # scorer needs (INCLUDE, on PostgreSQL), so those reads never visit the table: about
        # 20x faster against 22M rows, for 2.2 GB each instead of 0.6 GB (docs/benchmarks.md).
        # matcher.runs.track_reads.TRACK_FIELDS lists the same columns.
        indexes = [
            models.Index(
                fields=["title_key", "artist_key"], include=COVERED, name="track_title_cover"
            ),
            models.Index(
                fields=["artist_key", "title_key"], include=COVERED, name="track_artist_cover"
            ),
            models.Index(fields=["version", "track_id"], name="track_dataset_id"),
        ]
        # The public search finds the names credited after the first (artists_norm) through
        # the GIN index track_other_credits, created by migration 0008 on PostgreSQL only.

    def __str__(self) -> str:
        return f"{self.artist} - {self.title}"


class TrackReading(models.Model):
    """Another reading of a dataset track: the (artist, title) its title supports besides the
    credited one. A YouTube upload credited to the uploader's channel ("monelle") whose title
    is "Fred Neil - A Little Bit of Rain" also reads as Fred Neil's "A Little Bit of Rain".

    Only tracks whose title supports another reading have rows here (matcher.engine.readings);
    the credited reading is the track itself. Blocking reads these rows beside the tracks, by the
    same keys and through the same kind of covering indexes, so the reads stay index-only.
    """

    pk = models.CompositePrimaryKey("track_id", "reading")
    version = models.ForeignKey(
        DatasetVersion, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The primary key (track, reading) leads with the track: no index of its own.
    track = models.ForeignKey(
        DatasetTrack, on_delete=models.CASCADE, related_name="readings", db_index=False
    )
    reading = models.PositiveSmallIntegerField(
        help_text="1, 2...: the track's extra readings, in the engine's order"
    )
    name = models.CharField(max_length=32, help_text="Which reading, e.g. 'title_split'")
    artist_key = ByteOrderCharField(max_length=255)
    title_key = ByteOrderCharField(max_length=255)
    artists_norm = models.TextField()
    version_label = models.CharField(max_length=64, blank=True)
    duration_s = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["title_key", "artist_key"],
                include=READING_COVERED,
                name="reading_title_cover",
            ),
            models.Index(
                fields=["artist_key", "title_key"],
                include=READING_COVERED,
                name="reading_artist_cover",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.artist_key} - {self.title_key}"


class TrackIdentifier(models.Model):
    """Identifiers in canonical form (see matcher.engine.identifiers), for exact matching."""

    id = models.BigAutoField(primary_key=True)
    version = models.ForeignKey(
        DatasetVersion, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    track = models.ForeignKey(DatasetTrack, on_delete=models.CASCADE, related_name="identifiers")
    kind = ByteOrderCharField(max_length=16)
    value = ByteOrderCharField(max_length=255)

    class Meta:
        # Matching looks identifiers up by value (and version), then checks the kind: the value
        # leads, so the lookup is an index scan (with the kind first it was a scan of the table).
        indexes = [models.Index(fields=["value", "kind", "version"], name="identifier_lookup")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class MatchRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    TERMINAL = (Status.DONE, Status.FAILED, Status.CANCELLED)

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="match_runs"
    )
    catalog = models.ForeignKey(Catalog, on_delete=models.CASCADE, related_name="runs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    dataset_versions = models.ManyToManyField(DatasetVersion, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    thresholds = models.JSONField(default=dict)
    engine_version = models.CharField(max_length=32)
    total_rows = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    verdicts_carried_at = models.DateTimeField(
        null=True, blank=True, help_text="When verdicts of earlier runs were carried over"
    )
    report_figures = models.JSONField(
        default=dict,
        blank=True,
        help_text="Report figures that cannot change once the run is done (see selectors)",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.catalog}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.is_finished else 0
        return min(100, (100 * self.rows_done) // self.total_rows)


class MatchChunk(models.Model):
    """A slice of catalog rows (by primary key range) matched by one task."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_row_id = models.BigIntegerField()
    last_row_id = models.BigIntegerField()
    row_count = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="chunk_index_unique")]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id}"


class RowResult(models.Model):
    """The outcome for one catalog row in one run: every row gets exactly one."""

    class Status(models.TextChoices):
        MATCHED = "matched", "Matched"
        UNMATCHED = "unmatched", "Unmatched"
        INVALID = "invalid", "Invalid"

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="row_results")
    catalog_row = models.ForeignKey(CatalogRow, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices)
    best_kind = models.CharField(max_length=10, blank=True)
    best_confidence = models.PositiveSmallIntegerField(default=0)
    candidates_considered = models.PositiveIntegerField(default=0)
    top_candidates = models.JSONField(
        default=list, help_text="Best candidates considered, matched or not, with their scores"
    )
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "catalog_row"], name="one_result_per_row")
        ]
        indexes = [
            models.Index(fields=["run", "status"], name="rowresult_status"),
            # The report's "sort by confidence" pages walk this index.
            models.Index(
                fields=["run", "best_confidence", "catalog_row"], name="rowresult_confidence"
            ),
        ]

    def __str__(self) -> str:
        return f"row {self.catalog_row_id} in run {self.run_id}: {self.status}"


class Match(models.Model):
    organization_path = "run__organization"  # accounts.scoping.scoped: how a match is scoped

    class Kind(models.TextChoices):
        IDENTIFIER = "identifier", "Identifier"
        EXACT = "exact", "Exact"
        STRONG = "strong", "Strong"
        VERSION = "version", "Other version"
        POSSIBLE = "possible", "Possible"

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="matches")
    catalog_row = models.ForeignKey(CatalogRow, on_delete=models.CASCADE, related_name="matches")
    track = models.ForeignKey(DatasetTrack, on_delete=models.PROTECT, related_name="matches")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="matches")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    confidence = models.PositiveSmallIntegerField()
    rank = models.PositiveSmallIntegerField(default=1, help_text="1 = best in this dataset")
    artist_score = models.FloatField(null=True)
    title_score = models.FloatField(null=True)
    duration_delta_s = models.FloatField(null=True)
    version_note = models.CharField(max_length=200, blank=True)
    evidence = models.JSONField(default=dict)

    class Meta:
        ordering = ["catalog_row_id", "dataset_id", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "catalog_row", "track"], name="one_match_per_pair"
            )
        ]
        indexes = [
            models.Index(fields=["run", "dataset", "kind"], name="match_run_dataset_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} match of row {self.catalog_row_id} to track {self.track_id}"


class Verdict(models.Model):
    """A reviewer's current verdict on one match. Its history is in VerdictEvent."""

    class Value(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"
        UNSURE = "unsure", "Unsure"

    id = models.BigAutoField(primary_key=True)
    match = models.OneToOneField(Match, on_delete=models.CASCADE, related_name="verdict")
    # Denormalized so the report can count verdicts per run without joining every match.
    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="verdicts")
    value = models.CharField(max_length=10, choices=Value.choices)
    note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField()
    carried_from_run = models.ForeignKey(
        MatchRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["run", "value"], name="verdict_run_value")]

    def __str__(self) -> str:
        return f"{self.value} on match {self.match_id}"


class AppendOnlyError(Exception):
    """The audit trail is never changed after the fact."""


class VerdictEventQuerySet(models.QuerySet["VerdictEvent"]):
    def update(self, **kwargs: object) -> int:
        raise AppendOnlyError("Verdict events are append-only: they cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Verdict events are append-only: they cannot be deleted.")


class VerdictEvent(models.Model):
    """One change of verdict: who, when, old value, new value, note. Rows are only ever added.

    The match, run and user are kept by value as well as by reference, so the trail still reads
    the same after a run or a user is deleted (the references then become null).
    """

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="verdict_events"
    )
    match = models.ForeignKey(
        Match, null=True, blank=True, on_delete=models.SET_NULL, related_name="verdict_events"
    )
    run_number = models.PositiveIntegerField(help_text="The run's id when the event was written")
    catalog_row_number = models.PositiveIntegerField()
    dataset_slug = models.CharField(max_length=64)
    dataset_track_id = models.CharField(max_length=128)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_name = models.CharField(max_length=150, help_text="Who, as named at the time")
    at = models.DateTimeField()
    old_value = models.CharField(max_length=10, blank=True)
    new_value = models.CharField(max_length=10)
    note = models.TextField(blank=True)
    carried_from_run = models.PositiveIntegerField(null=True, blank=True)
    # An undo is a change of its own: it names the change it took back and sets the verdict
    # to what it was before that change (new_value "" when there was none).
    undoes = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The change this event undid, if it is an undo",
    )

    objects = VerdictEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["match", "at"], name="verdictevent_match")]

    def __str__(self) -> str:
        undo = "undo: " if self.undoes_id else ""
        return f"{undo}{self.old_value or '-'} -> {self.new_value or '-'} by {self.user_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Verdict events are append-only: they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Verdict events are append-only: they cannot be deleted.")


class SearchTerm(models.Model):
    """One distinct artist or title key of the datasets' current versions, for the public search.
    Artist keys are every name the tracks credit, first or not (matcher.search.services).

    Rebuilt after each import by `search_terms_refresh` (matcher.search). Typo-tolerant lookups
    run on these distinct keys (indexes of migration 0004) rather than on the tens of millions
    of tracks they stand for.
    """

    class Field(models.TextChoices):
        ARTIST = "artist", "Artist"
        TITLE = "title", "Title"

    id = models.BigAutoField(primary_key=True)
    field = models.CharField(max_length=6, choices=Field.choices)
    key = models.CharField(max_length=255)
    display = models.TextField(help_text="One published spelling, shown in suggestions")
    tracks = models.PositiveIntegerField(help_text="Tracks with this key, all datasets")

    # No Meta indexes: migration 0004 creates them per database (text_pattern_ops and
    # expression indexes on PostgreSQL). A key is unique per field by construction (GROUP BY).

    def __str__(self) -> str:
        return f"{self.field}:{self.key}"
