from django.contrib import admin
from django.http import HttpRequest

from accounts.models import ApiToken, Invitation, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff can see and revoke tokens (set "revoked at"); keys are never stored or shown."""

    list_display = [
        "name",
        "prefix",
        "user",
        "organization",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["organization"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = [
        "user",
        "organization",
        "name",
        "prefix",
        "key_sha256",
        "created_at",
        "last_used_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are created by their user, who sees the key once


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "organization",
        "role",
        "invited_by",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_filter = ["organization", "role"]
    search_fields = ["email"]
    readonly_fields = ["token_sha256", "invited_by", "created_at", "accepted_at", "accepted_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # owners invite from the members page, which sends the link
