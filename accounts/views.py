"""Account pages: organization switching, API tokens, members and invitations.

Every object is fetched through accounts.selectors, scoped to the signed-in user: an object of
an organization the user does not belong to is a 404; a role that may not act is a 403.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import (
    ApiTokenCreateForm,
    InvitationCreateForm,
    InvitationSignupForm,
    MembershipRoleForm,
)
from accounts.http import AuthenticatedHttpRequest
from accounts.middleware import SESSION_KEY
from accounts.models import Invitation, Membership
from accounts.permissions import MANAGE
from accounts.scoping import page_actor, require
from accounts.selectors import organizations_for_user

# The account created through an invitation signs in with the plain model backend (django-axes
# only guards the password form).
SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


@login_required
@require_POST
def organization_switch(request: AuthenticatedHttpRequest) -> HttpResponse:
    org = get_object_or_404(organizations_for_user(request.user), pk=request.POST.get("org"))
    request.session[SESSION_KEY] = org.pk
    target = request.POST.get("next") or reverse("dashboard")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("dashboard")
    return HttpResponseRedirect(target)


def _current_membership(request: HttpRequest) -> Membership:
    membership = getattr(request, "membership", None)
    if membership is None:
        raise Http404("You are not a member of any organization yet.")
    return membership


# --- API tokens -------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's tokens in the current organization; a new token's key is shown once, in the
    response to the POST that created it (never stored, never shown again)."""
    membership = _current_membership(request)
    new_key = new_token = None
    form = ApiTokenCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        new_token, new_key = services.api_token_create(
            user=request.user,
            organization=membership.organization,
            name=form.cleaned_data["name"],
        )
        form = ApiTokenCreateForm()
    tokens = selectors.api_tokens_for(
        user=request.user,
        organization_id=membership.organization_id,
    )
    return render(
        request,
        "accounts/tokens.html",
        {"form": form, "tokens": tokens, "new_key": new_key, "new_token": new_token},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def account_token_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    token = selectors.api_token_for_user(user=request.user, pk=pk)
    if token is None:
        raise Http404("No such token.")
    services.api_token_revoke(token=token, by=request.user)
    messages.success(request, f"Token “{token.name}” ({token.prefix}) revoked: it no longer works.")
    return redirect("account-tokens")


# --- Members and invitations ----------------------------------------------------------------


def _manager_membership(request: HttpRequest) -> Membership:
    _current_membership(request)
    return require(page_actor(request), MANAGE)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def organization_members(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Members of the current organization and its pending invitations (owners only)."""
    membership = _manager_membership(request)
    organization = membership.organization
    form = InvitationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        invitation, token = services.invitation_create(
            organization=organization,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            invited_by=request.user,
        )
        url = request.build_absolute_uri(reverse("invitation-accept", args=[token]))
        services.invitation_send(invitation=invitation, accept_url=url)
        messages.success(
            request,
            f"Invitation sent to {invitation.email} as {invitation.get_role_display().lower()}, "
            f"valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC. You can also pass on the "
            f"link yourself: {url}",
        )
        return redirect("org-members")
    return render(
        request,
        "accounts/members.html",
        {
            "organization": organization,
            "memberships": selectors.memberships_for_organization(organization.pk),
            "invitations": selectors.invitations_pending_for_organization(organization.pk),
            "form": form,
            "role_form": MembershipRoleForm(),
            "invitation_ttl_hours": f"{settings.INVITATION_TTL_HOURS} hours",
        },
        status=400 if form.errors else 200,
    )


def _membership_target(request: HttpRequest, pk: int) -> Membership:
    return get_object_or_404(selectors.memberships_for(page_actor(request)), pk=pk)


@login_required
@require_POST
def organization_member_role(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    target = _membership_target(request, pk)
    require(page_actor(request), MANAGE, organization_id=target.organization_id)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: owner, member or reviewer.")
        return redirect("org-members")
    try:
        services.membership_role_change(
            membership=target,
            role=form.cleaned_data["role"],
            by=request.user,
        )
    except services.MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user} is now {target.get_role_display().lower()}.")
    return redirect("org-members")


@login_required
@require_POST
def organization_member_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    target = _membership_target(request, pk)
    try:
        services.membership_remove(membership=target, by=request.user)
    except services.MembershipError as exc:
        messages.error(request, str(exc))
        return redirect("org-members")
    messages.success(request, f"{target.user} was removed from {target.organization}.")
    if target.user_id == request.user.pk:
        return redirect("dashboard")
    return redirect("org-members")


@login_required
@require_POST
def organization_invitation_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(selectors.invitations_for(page_actor(request)), pk=pk)
    services.invitation_revoke(invitation=invitation, by=request.user)
    messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    return redirect("org-members")


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Join through an invitation link: signed in, with one click; otherwise by creating an
    account. The link is the credential, so its page names the organization and role."""
    invitation = selectors.invitation_for_token(token)
    if invitation is None:
        return render(
            request,
            "accounts/invitation_invalid.html",
            {
                "reason": "This invitation link is not valid. Check that you copied the whole "
                "link, or ask the organization's owner for a new invitation."
            },
            status=404,
        )
    reason = services.invitation_unusable_reason(invitation)
    if reason:
        return render(request, "accounts/invitation_invalid.html", {"reason": reason}, status=410)
    user = request.user
    context: dict[str, object] = {"invitation": invitation}
    if user.is_authenticated:
        if selectors.membership_for(user=user, organization_id=invitation.organization_id):
            context["already_member"] = True
            return render(request, "accounts/invitation_accept.html", context)
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=user)
            except services.MembershipError as exc:
                return render(
                    request, "accounts/invitation_invalid.html", {"reason": str(exc)}, status=410
                )
            return _joined(request, invitation)
        return render(request, "accounts/invitation_accept.html", context)

    form = InvitationSignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new_user, _ = services.invitation_accept_new_user(
                invitation=invitation,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except services.MembershipError as exc:
            return render(
                request, "accounts/invitation_invalid.html", {"reason": str(exc)}, status=410
            )
        login(request, new_user, backend=SIGN_IN_BACKEND)
        return _joined(request, invitation)
    context["form"] = form
    return render(
        request,
        "accounts/invitation_accept.html",
        context,
        status=400 if form.errors else 200,
    )


def _joined(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    request.session[SESSION_KEY] = invitation.organization_id
    messages.success(
        request,
        f"Welcome to {invitation.organization.name}: you joined as "
        f"{invitation.get_role_display().lower()}.",
    )
    return redirect("dashboard")
