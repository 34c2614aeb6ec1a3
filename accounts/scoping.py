"""The one rule for what a request may see and do: who acts (an Actor), what they reach
(``scoped``) and what their role there allows (``require``). Pages, API endpoints and services
all use it.

Which organization a request acts for:

- A page acts for the *current* organization, chosen in the header and kept in the session
  (accounts.middleware; at first the user's first organization by name): what pages list (the
  dashboard, tokens, members) and where a new upload goes. A page about one object (a catalog, a
  run, a match: a link someone passed on) reaches every organization the user belongs to and
  acts with the user's role in the object's organization, so such a link works whichever
  organization is current.
- An API request acts for exactly one organization: its token's (a token is bound to one), or,
  for a browser session, the current one. Lists and object lookups alike see that organization
  only.

An object of an organization the actor does not reach is a 404, never a 403 (an outsider cannot
learn that it exists); a member whose role does not allow the action gets a 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import Http404
from rest_framework import exceptions

from accounts.models import ApiToken, Membership, Organization
from accounts.permissions import DELETE, MANAGE, READ, REVIEW, UPLOAD, role_allows

ModelT = TypeVar("ModelT", bound=models.Model)

# What each action is, in words for the person refused ("Your role ... does not allow ...").
ACTION_TEXT = {
    UPLOAD: "uploading catalogs or starting and cancelling runs",
    READ: "reading reports and evidence",
    REVIEW: "recording verdicts",
    DELETE: "deleting catalogs and runs",
    MANAGE: "managing members and invitations",
}
NO_ORGANIZATION = "You are not a member of any organization: ask an owner for an invitation."


@dataclass(frozen=True)
class Actor:
    """A user, the membership they act as (None: no organization) and every membership they
    reach, by organization id. ``api`` chooses the errors ``require`` raises (DRF's, whose bodies
    the API's exception handler shapes, or Django's for pages and services)."""

    user: User | AnonymousUser
    membership: Membership | None
    reach: Mapping[int, Membership] = field(default_factory=dict)
    api: bool = False

    @property
    def organization_id(self) -> int | None:
        return self.membership.organization_id if self.membership is not None else None

    @property
    def organization_ids(self) -> list[int]:
        return sorted(self.reach)

    def role_in(self, organization_id: int | None = None) -> str | None:
        """The actor's role in an organization it reaches (default: the acting one), or None."""
        org_id = self.organization_id if organization_id is None else organization_id
        membership = self.reach.get(org_id) if org_id is not None else None
        return membership.role if membership is not None else None

    def can(self, action: str, organization_id: int | None = None) -> bool:
        return role_allows(self.role_in(organization_id), action)

    def acting_only(self) -> Actor:
        """The same actor reaching its acting organization only (what a page lists)."""
        reach = {self.membership.organization_id: self.membership} if self.membership else {}
        return Actor(user=self.user, membership=self.membership, reach=reach, api=self.api)


def _reach_of(user: User | AnonymousUser) -> dict[int, Membership]:
    if not user.is_authenticated:
        return {}
    return {
        m.organization_id: m
        for m in Membership.objects.select_related("organization").filter(user=user)
    }


def user_actor(user: User | AnonymousUser) -> Actor:
    """A user outside a request (a service told who acts): every organization they belong to,
    none of them acting."""
    return Actor(user=user, membership=None, reach=_reach_of(user))


def page_actor(request: Any) -> Actor:
    """The actor of a page request: the current organization (set by the middleware) acts, and
    every organization of the user is reached. Built once per request."""
    actor = getattr(request, "_actor", None)
    if isinstance(actor, Actor) and not actor.api:
        return actor
    user = getattr(request, "user", None) or AnonymousUser()
    reach = _reach_of(user)
    current: Membership | None = getattr(request, "membership", None)
    membership = reach.get(current.organization_id) if current is not None else None
    actor = Actor(user=user, membership=membership, reach=reach)
    request._actor = actor
    return actor


def api_membership(request: Any) -> Membership | None:
    """The Membership an API request acts as, or None.

    A token request acts in the token's organization (``request.auth`` is the ApiToken); a session
    request in the current organization chosen in the browser (set by the middleware). The token
    authentication already refuses a token whose user has left the organization (401), so None
    here means "no organization": views answer 403 (session) or 404 (object lookups).
    """
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        cached = getattr(token, "membership", None)  # set by ApiTokenAuthentication
        if isinstance(cached, Membership):
            return cached
        return (
            Membership.objects.select_related("organization")
            .filter(user_id=token.user_id, organization_id=token.organization_id)
            .first()
        )
    django_request = getattr(request, "_request", request)
    return getattr(django_request, "membership", None)


def api_actor(request: Any) -> Actor:
    """The actor of an API request: one organization, acting and the only one reached."""
    membership = api_membership(request)
    reach = {membership.organization_id: membership} if membership is not None else {}
    return Actor(user=request.user, membership=membership, reach=reach, api=True)


@cache
def organization_path(model: type[models.Model]) -> str:
    """The lookup from `model` to its Organization: the model's ``organization_path`` when it
    names one (e.g. ``"run__organization"``), else its foreign key to Organization, else the one
    foreign key whose model has such a key (Match: ``run__organization``)."""
    named = getattr(model, "organization_path", None)
    if isinstance(named, str):
        return named

    def direct(target: type[models.Model]) -> str | None:
        for f in target._meta.get_fields():
            if f.many_to_one and f.concrete and f.related_model is Organization:
                return f.name
        return None

    own = direct(model)
    if own is not None:
        return own
    hops = [
        f"{f.name}__{path}"
        for f in model._meta.get_fields()
        if f.many_to_one and f.concrete and isinstance(f.related_model, type)
        for path in [direct(f.related_model)]
        if path is not None
    ]
    if len(hops) != 1:
        raise TypeError(
            f"{model.__name__} does not say how it reaches its organization: give it an "
            f"organization_path class attribute (candidates found: {hops or 'none'})."
        )
    return hops[0]


def scoped(queryset: QuerySet[ModelT], actor: Actor) -> QuerySet[ModelT]:
    """The queryset's objects that belong to an organization the actor reaches."""
    ids = actor.organization_ids
    if not ids:
        return queryset.none()
    return queryset.filter(**{f"{organization_path(queryset.model)}__in": ids})


def require(actor: Actor, action: str, *, organization_id: int | None = None) -> Membership:
    """The actor's membership in `organization_id` (default: the acting organization) if its
    role allows `action`. An organization the actor does not reach is a 404 (a page or endpoint
    has usually answered 404 earlier, through ``scoped``); a role that does not allow it a 403."""
    org_id = actor.organization_id if organization_id is None else organization_id
    if org_id is None:
        raise _denied(actor, NO_ORGANIZATION)
    membership = actor.reach.get(org_id)
    if membership is None:
        raise exceptions.NotFound() if actor.api else Http404()
    if not role_allows(membership.role, action):
        what = ACTION_TEXT.get(action, "this")
        raise _denied(
            actor,
            f"Your role in {membership.organization.name} ({membership.role}) does not allow "
            f"{what}.",
        )
    return membership


def _denied(actor: Actor, message: str) -> Exception:
    return exceptions.PermissionDenied(message) if actor.api else PermissionDenied(message)
