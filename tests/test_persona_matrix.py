"""Every URL pattern and API endpoint, with five personas: each gets exactly what its role allows.

Personas (tests/conftest.py): an anonymous visitor; alice, owner of the label; bob, a member;
rita, a reviewer; charlie, owner of another label (the outsider). The label owns a catalog, a
finished run with matches, a pending upload, API tokens and an invitation; every route whose
URL names an object is called with the label's object.

The table below lists every named route. A route that exists but is not in the table fails
`test_every_route_is_in_the_table`: add it, with what each persona must get. Pages are called
with the browser session, API endpoints (under /api/) with each persona's API token (charlie's
is for his own label). State-changing calls run inside a transaction that is rolled back, so each
persona meets the same world.

Expected outcomes:
  OK     2xx, or 3xx not to the sign-in page; for a POST also 400/409 (allowed, input refused)
  LOGIN  302 to the sign-in page (pages, anonymous)
  UNAUTH 401 (API, no credentials)
  DENY   403 (a member of the organization whose role does not allow it)
  HIDE   404 (not the user's organization: the outsider, or an object of someone else)
  NOPE   405 (method not allowed)
  GONE   410
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken, Invitation, Membership
from accounts.services import api_token_create, invitation_create
from matcher.models import Match, MatchRun
from matcher.runs.services import match_run_start
from uploads.services import catalog_create, pending_upload_create

OK, LOGIN, UNAUTH, DENY, HIDE, NOPE, GONE = "ok", "login", "401", "403", "404", "405", "410"
PERSONAS = ("anonymous", "alice", "bob", "rita", "charlie")

# Strings only the label's data contains: none may appear in what the outsider or an anonymous
# visitor receives (bodies of every route, every method).
SECRET_CATALOG = "northern-secret-catalog.csv"
SECRET_ARTIST = "Qorvath Secretband"
SECRET_EMAIL = "newcomer@northern.example"
LABEL_NAME = "Northern Lights Records"
CATALOG_CSV = (
    "Artist,Title,ISRC\n"
    "The Beatles,Yesterday,GB-AYE-65-00053\n"
    "Daft Punk,Get Lucky,\n"
    f"{SECRET_ARTIST},Hidden Track,\n"
).encode()
# What personas upload during the walk (charlie's upload goes to his own label: no markers).
UPLOAD_CSV = b"Artist,Title\nDaft Punk,Get Lucky\n"


def E(anonymous: str, alice: str, bob: str, rita: str, charlie: str) -> dict[str, str]:
    return dict(zip(PERSONAS, (anonymous, alice, bob, rita, charlie), strict=True))


PUBLIC = E(OK, OK, OK, OK, OK)
# A page of the label's object: its members read it, the outsider gets 404.
READ_PAGE = E(LOGIN, OK, OK, OK, HIDE)
READ_API = E(UNAUTH, OK, OK, OK, HIDE)
# Upload, start, cancel: owner and member; the reviewer gets 403.
UPLOAD_PAGE = E(LOGIN, OK, OK, DENY, HIDE)
UPLOAD_API = E(UNAUTH, OK, OK, DENY, HIDE)
# Verdicts: owner and reviewer; the member gets 403.
REVIEW_PAGE = E(LOGIN, OK, DENY, OK, HIDE)
REVIEW_API = E(UNAUTH, OK, DENY, OK, HIDE)
# Owner only (members and invitations): others of the label 403, the outsider 404.
MANAGE_PAGE = E(LOGIN, OK, DENY, DENY, HIDE)
POST_ONLY_PAGE = E(LOGIN, NOPE, NOPE, NOPE, NOPE)
POST_ONLY_API = E(UNAUTH, NOPE, NOPE, NOPE, NOPE)


@dataclass
class Route:
    """What each persona gets, per method. `kwargs` builds the URL's arguments from the world;
    `data` the request body. `leaks_ok` names personas allowed to see the label's name
    (invitation links: the link itself is the credential)."""

    methods: dict[str, dict[str, str]]
    kwargs: Callable[[World], dict[str, Any]] = lambda w: {}
    data: Callable[[World], dict[str, Any]] = lambda w: {}
    leaks_ok: tuple[str, ...] = ()


@dataclass
class World:
    catalog: Any
    run: MatchRun
    match: Match
    pending: Any
    dataset_slug: str
    bob_membership: Membership
    bob_token: ApiToken
    invitation: Invitation
    invitation_token: str
    keys: dict[str, str] = field(default_factory=dict)


def run_kw(w: World) -> dict[str, Any]:
    return {"pk": w.run.pk}


def match_kw(w: World) -> dict[str, Any]:
    return {"pk": w.match.pk}


def catalog_kw(w: World) -> dict[str, Any]:
    return {"pk": w.catalog.pk}


def pending_kw(w: World) -> dict[str, Any]:
    return {"pk": w.pending.pk}


def dataset_kw(w: World) -> dict[str, Any]:
    return {"slug": w.dataset_slug}


def verdict_data(w: World) -> dict[str, Any]:
    return {"value": "confirmed", "note": "persona matrix"}


def bulk_verdict_data(w: World) -> dict[str, Any]:
    return {"value": "unsure", "conf_min": 0, "note": "persona matrix"}


def upload_data(w: World) -> dict[str, Any]:
    return {"file": io.BytesIO(UPLOAD_CSV)}


ROUTES: dict[str, Route] = {
    # --- public and account pages ---
    "healthz": Route({"GET": PUBLIC}),
    "login": Route({"GET": PUBLIC, "POST": PUBLIC}),
    # Signing out sends everyone to the sign-in page.
    "logout": Route(
        {"GET": E(NOPE, NOPE, NOPE, NOPE, NOPE), "POST": E(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)}
    ),
    "password_change": Route({"GET": E(LOGIN, OK, OK, OK, OK), "POST": E(LOGIN, OK, OK, OK, OK)}),
    "password_change_done": Route({"GET": E(LOGIN, OK, OK, OK, OK)}),
    "password_reset": Route({"GET": PUBLIC, "POST": PUBLIC}, data=lambda w: {"email": "x@y.z"}),
    "password_reset_done": Route({"GET": PUBLIC}),
    "password_reset_confirm": Route(
        {"GET": PUBLIC}, kwargs=lambda w: {"uidb64": "MQ", "token": "set-password"}
    ),
    "password_reset_complete": Route({"GET": PUBLIC}),
    "org-switch": Route(
        {"GET": POST_ONLY_PAGE, "POST": E(LOGIN, OK, OK, OK, HIDE)},
        data=lambda w: {"org": w.catalog.organization_id},
    ),
    # Each user's current organization: charlie manages his own (no label data in it).
    "org-members": Route(
        {"GET": E(LOGIN, OK, DENY, DENY, OK), "POST": E(LOGIN, OK, DENY, DENY, OK)},
        data=lambda w: {"email": "someone@example.com", "role": "member"},
    ),
    "org-member-role": Route(
        {"GET": POST_ONLY_PAGE, "POST": MANAGE_PAGE},
        kwargs=lambda w: {"pk": w.bob_membership.pk},
        data=lambda w: {"role": "reviewer"},
    ),
    "org-member-remove": Route(
        {"GET": POST_ONLY_PAGE, "POST": MANAGE_PAGE},
        kwargs=lambda w: {"pk": w.bob_membership.pk},
    ),
    "org-invitation-revoke": Route(
        {"GET": POST_ONLY_PAGE, "POST": MANAGE_PAGE},
        kwargs=lambda w: {"pk": w.invitation.pk},
    ),
    # The link is the credential: whoever holds it sees the organization's name and may join.
    # Members already in it are told so (200).
    "invitation-accept": Route(
        {"GET": PUBLIC, "POST": PUBLIC},
        kwargs=lambda w: {"token": w.invitation_token},
        data=lambda w: {
            "username": "newcomer",
            "password1": "a long new pass phrase",
            "password2": "a long new pass phrase",
        },
        leaks_ok=("anonymous", "charlie"),
    ),
    "account-tokens": Route(
        {"GET": E(LOGIN, OK, OK, OK, OK), "POST": E(LOGIN, OK, OK, OK, OK)},
        data=lambda w: {"name": "matrix"},
    ),
    # Bob's token: only bob may revoke it; to everyone else it does not exist.
    "account-token-revoke": Route(
        {"GET": POST_ONLY_PAGE, "POST": E(LOGIN, HIDE, OK, HIDE, HIDE)},
        kwargs=lambda w: {"pk": w.bob_token.pk},
    ),
    # --- catalogs and runs (pages) ---
    "dashboard": Route({"GET": E(LOGIN, OK, OK, OK, OK)}),
    "catalog-upload": Route(
        {"GET": E(LOGIN, OK, OK, DENY, OK), "POST": E(LOGIN, OK, OK, DENY, OK)},
        data=upload_data,
    ),
    "catalog-upload-mapping": Route({"GET": UPLOAD_PAGE, "POST": UPLOAD_PAGE}, kwargs=pending_kw),
    "catalog-detail": Route({"GET": READ_PAGE}, kwargs=catalog_kw),
    "catalog-run-start": Route({"GET": POST_ONLY_PAGE, "POST": UPLOAD_PAGE}, kwargs=catalog_kw),
    "run-detail": Route({"GET": READ_PAGE}, kwargs=run_kw),
    "run-status": Route({"GET": READ_PAGE}, kwargs=run_kw),
    "run-progress": Route({"GET": READ_PAGE}, kwargs=run_kw),
    "run-cancel": Route({"GET": POST_ONLY_PAGE, "POST": UPLOAD_PAGE}, kwargs=run_kw),
    "run-report-csv": Route({"GET": READ_PAGE}, kwargs=run_kw),
    "run-report-xlsx": Route({"GET": READ_PAGE}, kwargs=run_kw),
    "run-report-print": Route({"GET": READ_PAGE}, kwargs=run_kw),
    "run-evidence-pack": Route({"GET": READ_PAGE}, kwargs=run_kw),
    "run-bulk-verdict": Route(
        {"GET": POST_ONLY_PAGE, "POST": REVIEW_PAGE},
        kwargs=run_kw,
        data=bulk_verdict_data,
    ),
    "run-rerun": Route({"GET": POST_ONLY_PAGE, "POST": UPLOAD_PAGE}, kwargs=run_kw),
    "run-diff": Route({"GET": READ_PAGE}, kwargs=run_kw),
    "match-evidence": Route({"GET": READ_PAGE}, kwargs=match_kw),
    "match-verdict": Route(
        {"GET": POST_ONLY_PAGE, "POST": REVIEW_PAGE}, kwargs=match_kw, data=verdict_data
    ),
    "match-verdict-undo": Route({"GET": POST_ONLY_PAGE, "POST": REVIEW_PAGE}, kwargs=match_kw),
    # --- public datasets and search ---
    "dataset-list": Route({"GET": PUBLIC}),
    "dataset-detail": Route({"GET": PUBLIC}, kwargs=dataset_kw),
    "search": Route({"GET": PUBLIC}),
    "search-suggest": Route({"GET": PUBLIC}),
    "api-search": Route({"GET": PUBLIC}),
    "api-schema": Route({"GET": PUBLIC}),
    "api-docs": Route({"GET": PUBLIC}),
    # --- API (token clients) ---
    "api-datasets": Route({"GET": PUBLIC}),
    "api-dataset-detail": Route({"GET": PUBLIC}, kwargs=dataset_kw),
    "api-catalogs": Route(
        {"GET": E(UNAUTH, OK, OK, OK, OK), "POST": E(UNAUTH, OK, OK, DENY, OK)},
        data=upload_data,
    ),
    "api-catalog-detail": Route({"GET": READ_API}, kwargs=catalog_kw),
    "api-upload": Route({"GET": UPLOAD_API, "DELETE": UPLOAD_API}, kwargs=pending_kw),
    "api-upload-mapping": Route({"GET": UPLOAD_API, "POST": UPLOAD_API}, kwargs=pending_kw),
    # Charlie may start runs in his own label; the label's catalog is not there (400, no data).
    "api-runs": Route(
        {"GET": E(UNAUTH, OK, OK, OK, OK), "POST": E(UNAUTH, OK, OK, DENY, OK)},
        data=lambda w: {"catalog": w.catalog.pk},
    ),
    "api-run-detail": Route({"GET": READ_API}, kwargs=run_kw),
    "api-run-cancel": Route({"GET": POST_ONLY_API, "POST": UPLOAD_API}, kwargs=run_kw),
    "api-run-rerun": Route({"GET": POST_ONLY_API, "POST": UPLOAD_API}, kwargs=run_kw),
    "api-run-report": Route({"GET": READ_API}, kwargs=run_kw),
    "api-run-matches": Route({"GET": READ_API}, kwargs=run_kw),
    "api-run-verdicts": Route(
        {"GET": POST_ONLY_API, "POST": REVIEW_API},
        kwargs=run_kw,
        data=bulk_verdict_data,
    ),
    "api-run-report-csv": Route({"GET": READ_API}, kwargs=run_kw),
    "api-run-report-xlsx": Route({"GET": READ_API}, kwargs=run_kw),
    "api-run-report-html": Route({"GET": READ_API}, kwargs=run_kw),
    "api-run-evidence-pack": Route({"GET": READ_API}, kwargs=run_kw),
    "api-match-detail": Route({"GET": READ_API}, kwargs=match_kw),
    "api-match-verdict": Route(
        {"GET": POST_ONLY_API, "POST": REVIEW_API},
        kwargs=match_kw,
        data=verdict_data,
    ),
    # Any other path under /api/ (reversed as /api/ itself): the JSON 404, for everyone. (It
    # changes nothing and answers a POST the same way, with no CSRF check: tests/api.)
    "api-not-found": Route({"GET": E(HIDE, HIDE, HIDE, HIDE, HIDE)}),
}

SKIPPED_PREFIXES = ("admin/", "static/", "media")


def all_routes() -> dict[str, str]:
    """Every named URL pattern (name -> route), walking includes recursively."""
    found: dict[str, str] = {}
    unnamed: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if route.startswith(SKIPPED_PREFIXES):
                continue
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                if p.name is None:
                    unnamed.append(route)
                else:
                    found[p.name] = route

    walk(get_resolver().url_patterns, "")
    assert not unnamed, f"give these routes a name, so the matrix can list them: {unnamed}"
    return found


def test_every_route_is_in_the_table():
    routes = all_routes()
    missing = sorted(set(routes) - set(ROUTES))
    assert not missing, (
        "routes without persona expectations (add them to ROUTES in tests/test_persona_matrix.py): "
        + ", ".join(f"{name} ({routes[name]})" for name in missing)
    )
    stale = sorted(set(ROUTES) - set(routes))
    assert not stale, f"the table names routes that no longer exist: {stale}"
    for name, route in ROUTES.items():
        assert "GET" in route.methods, f"{name}: every route needs a GET expectation"


# --- the world ---------------------------------------------------------------------------------


@pytest.fixture
def world(
    label,
    other_label,
    alice,
    bob,
    rita,
    charlie,
    generic_dataset,
    django_capture_on_commit_callbacks,
) -> World:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        catalog = catalog_create(
            organization=label, stream=io.BytesIO(CATALOG_CSV), filename=SECRET_CATALOG
        )
    with django_capture_on_commit_callbacks(execute=True):
        run = match_run_start(catalog=catalog, created_by=alice)
    run.refresh_from_db()
    assert run.status == MatchRun.Status.DONE
    match = Match.objects.filter(run=run).first()
    assert match is not None, "the world needs a run with matches"
    pending = pending_upload_create(
        organization=label,
        stream=io.BytesIO(CATALOG_CSV),
        filename="northern-secret-pending.csv",
        uploaded_by=bob,
    )
    bob_token, _ = api_token_create(user=bob, organization=label, name="bob's script")
    invitation, invitation_token = invitation_create(
        organization=label, email=SECRET_EMAIL, role="member", invited_by=alice
    )
    w = World(
        catalog=catalog,
        run=run,
        match=match,
        pending=pending,
        dataset_slug=generic_dataset.slug,
        bob_membership=Membership.objects.get(user=bob, organization=label),
        bob_token=bob_token,
        invitation=invitation,
        invitation_token=invitation_token,
    )
    users = {"alice": (alice, label), "bob": (bob, label), "rita": (rita, label)}
    users["charlie"] = (charlie, other_label)
    for name, (user, org) in users.items():
        _, w.keys[name] = api_token_create(user=user, organization=org, name="matrix")
    return w


def _client(world: World, persona: str, *, api: bool, token: bool) -> Client:
    from django.contrib.auth import get_user_model

    client: Client = APIClient() if api else Client()
    if persona == "anonymous":
        return client
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[persona]}")  # type: ignore[attr-defined]
    else:
        client.force_login(get_user_model().objects.get(username=persona))
    return client


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def outcome(method: str, response: Any) -> str:
    status = response.status_code
    if status in (301, 302, 303) and response["Location"].startswith(reverse("login")):
        return LOGIN
    if 200 <= status < 400:
        return OK
    if method != "GET" and status in (400, 409):
        return OK
    return {401: UNAUTH, 403: DENY, 404: HIDE, 405: NOPE, 410: GONE}.get(status, str(status))


def fingerprint() -> tuple[Any, ...]:
    """What a refused request must not change."""
    from matcher.models import Verdict, VerdictEvent
    from uploads.models import Catalog, PendingUpload

    return (
        Catalog.objects.count(),
        PendingUpload.objects.count(),
        list(MatchRun.objects.order_by("pk").values_list("pk", "status")),
        Verdict.objects.count(),
        VerdictEvent.objects.count(),
        list(Membership.objects.order_by("pk").values_list("pk", "role")),
        list(Invitation.objects.order_by("pk").values_list("pk", "revoked_at", "accepted_at")),
        list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at")),
    )


REFUSED = {LOGIN, UNAUTH, DENY, HIDE, NOPE, GONE}


def _cases() -> Iterator[tuple[str, str]]:
    for name, route in ROUTES.items():
        for method in route.methods:
            yield name, method


def _call(
    client: Client, method: str, url: str, data: dict[str, Any], *, api: bool, refused: bool
) -> Any:
    """One request inside a transaction that is rolled back afterwards (responses are read
    inside it, streamed ones included). A request expected to be refused must change nothing."""
    with transaction.atomic():
        before = fingerprint() if refused else None
        if method == "GET":
            response = client.get(url)
        elif api and not any(hasattr(v, "read") for v in data.values()):
            response = getattr(client, method.lower())(url, data, format="json")
        else:
            response = getattr(client, method.lower())(url, data)
        response.body_bytes = _body(response)
        response.changed = refused and fingerprint() != before
        transaction.set_rollback(True)
    return response


LEAK_MARKERS = [SECRET_CATALOG, SECRET_ARTIST, SECRET_EMAIL, LABEL_NAME, "northern-secret"]


@pytest.fixture
def _no_throttles(settings):  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/minute")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    cache.clear()


@pytest.mark.parametrize(
    "api_auth",
    [
        pytest.param("token", id="pages-by-session-api-by-token"),
        pytest.param("session", id="api-by-session"),
    ],
)
def test_each_persona_gets_exactly_what_its_role_allows(world, _no_throttles, api_auth):
    """With "token", every route: pages with the browser session, API endpoints with each
    persona's token. With "session", the API endpoints again, with the browser session (the
    current organization is the persona's only one)."""
    routes = all_routes()
    failures: list[str] = []
    leaks: list[str] = []
    table: list[str] = []
    for name, method in _cases():
        route = ROUTES[name]
        api = routes[name].startswith("api/")
        if api_auth == "session" and not api:
            continue
        url = reverse(name, kwargs=route.kwargs(world))
        row = []
        for persona in PERSONAS:
            client = _client(world, persona, api=api, token=api and api_auth == "token")
            data = route.data(world) if method != "GET" else {}
            expected = route.methods[method][persona]
            response = _call(client, method, url, data, api=api, refused=expected in REFUSED)
            got = outcome(method, response)
            row.append(f"{persona}={got}({response.status_code})")
            if got != expected:
                failures.append(
                    f"{method} {name} {url} as {persona}: expected {expected}, got "
                    f"{response.status_code} {response.body_bytes[:200]!r}"
                )
            elif response.changed:
                failures.append(f"{method} {name} as {persona} was refused but changed data")
            if persona in ("anonymous", "charlie") and persona not in route.leaks_ok:
                body = response.body_bytes.decode(errors="replace")
                leaks += [
                    f"{method} {name} as {persona}: the body contains {marker!r}"
                    for marker in LEAK_MARKERS
                    if marker in body
                ]
        table.append(f"{method:6} {name:28} " + " ".join(row))
    if os.environ.get("PERSONA_MATRIX_TABLE"):  # a path: write what each persona got there
        with open(f"{os.environ['PERSONA_MATRIX_TABLE']}.{api_auth}", "w") as out:
            out.write("\n".join(table) + "\n")
    assert not leaks, "\n".join(leaks)
    assert not failures, "\n".join(failures)


def test_every_state_changing_route_refuses_a_post_without_csrf_token(world):
    """Signed in as the owner (allowed everything), with the browser session: no CSRF token, 403
    (pages and API alike; API tokens need none, as they carry no cookie)."""
    from django.contrib.auth import get_user_model

    alice = get_user_model().objects.get(username="alice")
    failures = []
    checked = 0
    for name, method in _cases():
        if method == "GET":
            continue
        route = ROUTES[name]
        client = Client(enforce_csrf_checks=True)
        if name != "login":
            client.force_login(alice)
        url = reverse(name, kwargs=route.kwargs(world))
        response = _call(client, method, url, route.data(world), api=False, refused=True)
        checked += 1
        if response.status_code != 403:
            failures.append(f"{method} {name}: {response.status_code}")
        elif response.changed:
            failures.append(f"{method} {name}: refused but changed data")
    assert checked >= 20
    assert not failures, "\n".join(failures)
