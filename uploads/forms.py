from __future__ import annotations

from django import forms

from matcher.models import Dataset


class CatalogUploadForm(forms.Form):
    file = forms.FileField(
        label="Catalog file",
        help_text="An .xlsx or .csv file with a header row holding at least artist and title.",
    )
    datasets = forms.ModelMultipleChoiceField(
        queryset=Dataset.objects.filter(current_version__isnull=False),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to match against every imported dataset.",
    )
