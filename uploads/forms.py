"""Forms of the upload flow: the file, then the sheet and column mapping to confirm."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings

from uploads.columns import FIELDS, REQUIRED_FIELDS, column_letter, mapping_errors
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


class CatalogUploadForm(forms.Form):
    file = forms.FileField(
        label="Catalog file",
        # An empty file gets the service's message, which names it, as every refused file does
        # (Django's own says only "The submitted file is empty.").
        allow_empty_file=True,
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
    """Which sheet, and which column holds each field (uploads.columns.mapping_errors says what
    is wrong with a choice).

    The column choices are the headers of `shown` (the sheet the page displayed); when the user
    picks another sheet, the view shows that sheet instead of confirming.
    """

    sheet = forms.ChoiceField(label="Sheet")
    shown_sheet = forms.CharField(widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, sheets: list[SheetChoice], shown: SheetChoice, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.shown = shown
        cast(forms.ChoiceField, self.fields["sheet"]).choices = [
            (s.name, f"{s.name} (header on row {s.header_row})") for s in sheets
        ]
        columns = [("", "(not in this file)")] + [
            (str(index), f"{column_letter(index)}: {header}")
            for index, header in enumerate(shown.headers)
        ]
        for name in FIELDS:
            # Checked in clean(), with the other mapping rules; the attribute still has the
            # browser ask for the column first.
            attrs = {"required": True} if name in REQUIRED_FIELDS else {}
            self.fields[f"map_{name}"] = forms.TypedChoiceField(
                label=FIELD_LABELS[name],
                choices=columns,
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.Select(attrs=attrs),
            )

    def mapping_fields(self) -> list[forms.BoundField]:
        return [self[f"map_{name}"] for name in FIELDS]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        chosen = {
            name: data[f"map_{name}"] for name in FIELDS if data.get(f"map_{name}") is not None
        }
        for name, messages in mapping_errors(chosen, self.shown.headers).items():
            if f"map_{name}" in self.errors:  # not a column of the sheet: said already
                continue
            for message in messages:
                self.add_error(f"map_{name}", message)
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
