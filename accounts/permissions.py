"""What each role may do. One table, used by views, APIs and services alike."""

from __future__ import annotations

from accounts.models import Role

UPLOAD = "upload"  # upload catalogs, start and cancel runs
READ = "read"  # read reports and evidence, export
REVIEW = "review"  # record verdicts
DELETE = "delete"  # delete catalogs and runs
MANAGE = "manage"  # manage members

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset({UPLOAD, READ, REVIEW, DELETE, MANAGE}),
    Role.MEMBER: frozenset({UPLOAD, READ}),
    Role.REVIEWER: frozenset({READ, REVIEW}),
}


def role_allows(role: str | None, action: str) -> bool:
    return role is not None and action in ROLE_PERMISSIONS.get(role, frozenset())
