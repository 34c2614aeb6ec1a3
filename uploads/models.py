"""Uploaded catalogs and their rows, kept as the label sent them (row numbers and raw cells).

A file first waits as a PendingUpload while its owner checks the column mapping; only a confirmed
upload becomes a Catalog. A confirmed web upload's rows are stored by a task (status "storing"),
all at once: a Catalog holds either all of its rows ("ready") or none ("failed", with the reason).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.models import Organization


class Catalog(models.Model):
    class Status(models.TextChoices):
        STORING = "storing", "Storing rows"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="catalogs"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    name = models.CharField(max_length=255, help_text="The file name as uploaded (display only)")
    stored_file = models.CharField(
        max_length=255, help_text="Random file name under MEDIA_ROOT/catalogs"
    )
    file_format = models.CharField(max_length=8)
    file_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    upload_id = models.UUIDField(
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="The pending upload it was confirmed from: that mapping page's address "
        "leads here once the upload is confirmed",
    )
    sheet_name = models.CharField(max_length=255, blank=True)
    header_row = models.PositiveIntegerField(default=1)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, help_text="field -> column index")
    encoding = models.CharField(max_length=32, blank=True)
    mojibake_repaired = models.PositiveIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(
        default=0, help_text="Valid rows with a warning (an identifier ignored)"
    )
    duplicate_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.READY)
    error = models.TextField(blank=True, help_text="Why the rows could not be stored (failed)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            # A re-upload of the same bytes is pointed out on the mapping page.
            models.Index(fields=["organization", "sha256"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY


class CatalogRow(models.Model):
    class Status(models.TextChoices):
        VALID = "valid", "Valid"
        INVALID = "invalid", "Invalid"

    catalog = models.ForeignKey(Catalog, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField(help_text="Row number as the spreadsheet shows it")
    cells = models.JSONField(default=dict, help_text="Header -> raw cell text")
    artist = models.TextField(blank=True)
    title = models.TextField(blank=True)
    version = models.TextField(blank=True)
    album = models.TextField(blank=True)
    label = models.TextField(blank=True)
    isrc = models.CharField(max_length=12, blank=True)
    upc = models.CharField(max_length=14, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    spotify_id = models.CharField(max_length=32, blank=True)
    youtube_id = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.VALID)
    problems = models.JSONField(
        default=list, help_text="Why the row is invalid (not matched): [{column, message}]"
    )
    warnings = models.JSONField(
        default=list,
        help_text="What was ignored on a valid row, e.g. a bad ISRC: [{column, message}]",
    )
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    dedup_key = models.CharField(
        max_length=32, blank=True, help_text="Hash of the folded artist, title, version and ISRC"
    )

    class Meta:
        ordering = ["catalog", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["catalog", "row_number"], name="one_row_per_number")
        ]
        indexes = [models.Index(fields=["catalog", "dedup_key"], name="catalogrow_dedup")]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.artist} - {self.title}"

    @property
    def problem_text(self) -> str:
        return "; ".join(f"{p['column']}: {p['message']}" for p in self.problems)

    @property
    def warning_text(self) -> str:
        return "; ".join(f"{w['column']}: {w['message']}" for w in self.warnings)


class PendingUpload(models.Model):
    """A stored file waiting for its uploader to confirm the sheet and column mapping.

    The id is random so that it cannot be guessed; access is still scoped to the organization.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="pending_uploads"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    name = models.CharField(max_length=255, help_text="The file name as uploaded (display only)")
    stored_file = models.CharField(
        max_length=255, help_text="Random file name under MEDIA_ROOT/catalogs"
    )
    file_format = models.CharField(max_length=8)
    file_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    sheets = models.JSONField(
        default=list, help_text="[{name, header_row, headers, guessed_mapping}] as detected"
    )
    default_sheet = models.CharField(max_length=255, blank=True)
    row_count = models.PositiveIntegerField(
        default=0, help_text="Rows under the header of the default sheet"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return self.name


class SavedMapping(models.Model):
    """An organization's last confirmed column mapping, by header text, offered for its next
    upload whose headers hold the same columns."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="saved_mapping"
    )
    columns = models.JSONField(default=dict, help_text="field -> header text")
    source_name = models.CharField(
        max_length=255, blank=True, help_text="The file the mapping was confirmed for"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.organization}: {self.columns}"
