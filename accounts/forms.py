"""Forms of the account pages: API tokens, members, invitations."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import ApiToken, Role


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What the token is for, e.g. “nightly catalog sync”.",
    )


class InvitationCreateForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationSignupForm(UserCreationForm):
    """Username and password (twice), checked against AUTH_PASSWORD_VALIDATORS."""

    # django-stubs do not declare the Meta that UserCreationForm has (from BaseUserCreationForm).
    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        fields = ("username",)
