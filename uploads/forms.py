"""Forms of the upload flow (the file, then the sheet and column mapping to confirm) and of the
catalog page (the datasets to match a stored catalog against)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from matcher.models import Dataset, DatasetVersion
from uploads.columns import FIELDS
from uploads.parsing import column_letter
from uploads.selectors import SheetChoice
from uploads.services import size_text

FIELD_LABELS = {
    "artist": "Artist",
    "title": "Title",
    "version": "Version / mix",
    "isrc": "ISRC",
    "upc": "UPC / EAN",
    "album": "Album / release",
    "label": "Label",
    "duration": "Duration",
    "spotify": "Spotify id or link",
    "youtube": "YouTube id or link",
}
REQUIRED_FIELDS = ("artist", "title")


class CatalogUploadForm(forms.Form):
    file = forms.FileField(
        label="Catalog file",
        help_text=(
            "An .xlsx, .xls, .ods or .csv file with a header row holding at least artist and "
            "title. You check the columns before matching starts."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = settings.CATALOG_MAX_BYTES  # checked in the browser before sending
        cap = size_text(settings.CATALOG_MAX_BYTES)
        self.fields["file"].help_text += f" At most {cap} and {settings.CATALOG_MAX_ROWS:,} rows."


class MappingForm(forms.Form):
    """Which sheet, which column holds each field, and which datasets to match against.

    The column choices are the headers of `shown` (the sheet the page displayed); when the user
    picks another sheet, the view shows that sheet instead of confirming.
    """

    sheet = forms.ChoiceField(label="Sheet")
    shown_sheet = forms.CharField(widget=forms.HiddenInput)
    datasets = forms.ModelMultipleChoiceField(
        queryset=Dataset.objects.filter(current_version__isnull=False).order_by("slug"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to match against every imported dataset.",
    )

    def __init__(
        self, *args: Any, sheets: list[SheetChoice], shown: SheetChoice, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.shown = shown
        self.fields["sheet"].choices = [
            (s.name, f"{s.name} (header on row {s.header_row})") for s in sheets
        ]
        columns = [("", "(not in this file)")] + [
            (str(index), f"{column_letter(index)}: {header}")
            for index, header in enumerate(shown.headers)
        ]
        for name in FIELDS:
            required = name in REQUIRED_FIELDS
            self.fields[f"map_{name}"] = forms.TypedChoiceField(
                label=FIELD_LABELS[name],
                choices=columns,
                coerce=int,
                empty_value=None,
                required=required,
                error_messages={
                    "required": f"Choose the column that holds the {name}; every row needs one."
                },
            )

    def mapping_fields(self) -> list[forms.BoundField]:
        return [self[f"map_{name}"] for name in FIELDS]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        taken: dict[int, str] = {}
        for name in FIELDS:
            index = data.get(f"map_{name}")
            if index is None:
                continue
            if index in taken:
                header = self.shown.headers[index]
                self.add_error(
                    f"map_{name}",
                    f'Column {column_letter(index)} ("{header}") is already chosen for the '
                    f"{taken[index]}; each column can hold one field.",
                )
            else:
                taken[index] = name
        return data

    def mapping(self) -> dict[str, int]:
        """field -> column index, from the cleaned data (or the submitted values for a preview
        of a mapping that is not valid yet)."""
        source = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        mapping: dict[str, int] = {}
        for name in FIELDS:
            value = source.get(f"map_{name}")
            if value is None and self.is_bound:
                raw = self.data.get(f"map_{name}", "")
                value = int(raw) if str(raw).isdigit() else None
            if value is not None and 0 <= value < len(self.shown.headers):
                mapping.setdefault(name, value)
        return mapping


def ready_datasets() -> Any:
    return (
        Dataset.objects.filter(current_version__status=DatasetVersion.Status.READY)
        .select_related("current_version")
        .order_by("slug")
    )


class DatasetChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        tracks = obj.current_version.row_count if obj.current_version else 0
        return f"{obj.name} ({tracks:,} tracks)"


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
        field = self.fields["datasets"]
        field.queryset = ready_datasets()  # type: ignore[attr-defined]
        if not self.is_bound:
            self.initial["datasets"] = [d.pk for d in field.queryset]  # type: ignore[attr-defined]
