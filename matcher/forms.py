"""Forms that choose what a catalog is matched against: on the upload's mapping page (the
mapping form of uploads, plus the datasets) and on the catalog page (start a run)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from matcher.models import Dataset, DatasetVersion
from uploads.forms import MappingForm


class DatasetChoiceField(forms.ModelMultipleChoiceField):
    """Datasets by their display name and size, as every page names them (never the slug)."""

    def label_from_instance(self, obj: Dataset) -> str:
        tracks = obj.current_version.row_count if obj.current_version else 0
        return f"{obj.name} ({tracks:,} tracks)"


class MappingDatasetsForm(MappingForm):
    """The sheet and column mapping to confirm, and the datasets its run matches against."""

    datasets = DatasetChoiceField(
        queryset=Dataset.objects.filter(current_version__isnull=False)
        .select_related("current_version")
        .order_by("slug"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to match against every imported dataset.",
    )


def ready_datasets() -> QuerySet[Dataset]:
    return (
        Dataset.objects.filter(current_version__status=DatasetVersion.Status.READY)
        .select_related("current_version")
        .order_by("slug")
    )


class RunStartForm(forms.Form):
    """The datasets to match a stored catalog against (all are ticked at first)."""

    datasets = DatasetChoiceField(
        queryset=Dataset.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Datasets",
        error_messages={
            "required": "Tick at least one dataset to match the catalog against, then start again."
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(DatasetChoiceField, self.fields["datasets"])
        field.queryset = ready_datasets()
        if not self.is_bound:
            self.initial["datasets"] = [d.pk for d in field.queryset]
