"""The lawyers' review workflow: verdicts, the append-only audit trail, role rules, undoing the
last change, bulk verdicts on a filtered selection (with their confirmation step), carry-over to
a re-run, and the re-run difference."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.urls import reverse

from matcher.models import AppendOnlyError, Verdict, VerdictEvent
from matcher.reports.selectors import ReportFilters, filtered_matches, previous_run, run_diff
from matcher.reports.services import report_prepare
from matcher.review import services as review
from tests.factories import PASSWORD, Built, dataset_with_tracks, finished_run


def test_reviewer_records_a_verdict_with_a_note_and_it_is_audited(built, rita):
    m = built.matches[(2, "alpha")]
    verdict = review.verdict_record(match=m, user=rita, value="unsure", note="check the mix")
    assert (verdict.value, verdict.note, verdict.reviewed_by) == ("unsure", "check the mix", rita)
    review.verdict_record(match=m, user=rita, value="confirmed", note="same ISRC on the label copy")
    events = list(VerdictEvent.objects.filter(match=m))
    assert [(e.old_value, e.new_value, e.user_name) for e in events] == [
        ("", "unsure", "rita"),
        ("unsure", "confirmed", "rita"),
    ]
    assert events[1].note == "same ISRC on the label copy"
    assert events[1].run_number == built.run.pk
    assert (events[1].catalog_row_number, events[1].dataset_slug) == (2, "alpha")
    assert Verdict.objects.get(match=m).value == "confirmed"


def test_saving_the_same_verdict_again_adds_no_event(built, alice):
    m = built.matches[(3, "alpha")]
    review.verdict_record(match=m, user=alice, value="rejected")
    review.verdict_record(match=m, user=alice, value="rejected")
    assert VerdictEvent.objects.filter(match=m).count() == 1


def test_audit_trail_cannot_be_updated_or_deleted(built, rita):
    review.verdict_record(match=built.matches[(2, "alpha")], user=rita, value="confirmed")
    event = VerdictEvent.objects.get()
    event.note = "rewritten history"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        VerdictEvent.objects.filter(pk=event.pk).update(note="x")
    with pytest.raises(AppendOnlyError):
        VerdictEvent.objects.all().delete()
    assert VerdictEvent.objects.get().note == ""


def test_audit_trail_outlives_the_run_it_was_written_for(built, rita):
    review.verdict_record(match=built.matches[(2, "alpha")], user=rita, value="confirmed")
    run_pk = built.run.pk
    built.run.delete()
    event = VerdictEvent.objects.get()
    assert event.match is None
    assert (event.run_number, event.dataset_track_id, event.new_value) == (
        run_pk,
        "a-1",
        "confirmed",
    )


def test_member_cannot_record_a_verdict(built, bob, client):
    m = built.matches[(2, "alpha")]
    with pytest.raises(PermissionDenied):
        review.verdict_record(match=m, user=bob, value="confirmed")
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    assert (
        client.post(reverse("match-verdict", args=[m.pk]), {"value": "confirmed"}).status_code
        == 403
    )
    response = client.post(
        reverse("run-bulk-verdict", args=[built.run.pk]), {"kind": "exact", "value": "confirmed"}
    )
    assert response.status_code == 403
    assert not Verdict.objects.exists()


def test_owner_and_reviewer_record_verdicts_through_the_evidence_page(built, client, alice, rita):
    m = built.matches[(2, "beta")]
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    response = client.post(
        reverse("match-verdict", args=[m.pk]), {"value": "rejected", "note": "a cover"}
    )
    assert response.status_code == 302
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    client.post(reverse("match-verdict", args=[m.pk]), {"value": "confirmed", "note": "ok"})
    page = client.get(reverse("match-evidence", args=[m.pk])).content.decode()
    assert "a cover" in page and "rita" in page and "alice" in page
    assert [e.new_value for e in VerdictEvent.objects.filter(match=m)] == ["rejected", "confirmed"]


def test_an_unknown_verdict_is_refused_with_a_message(built, client, rita):
    m = built.matches[(2, "beta")]
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    response = client.post(reverse("match-verdict", args=[m.pk]), {"value": "maybe"}, follow=True)
    assert "is not a verdict" in response.content.decode()
    assert not Verdict.objects.exists()


def test_bulk_verdict_reaches_exactly_the_filtered_matches(built, client, rita):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    response = client.post(
        reverse("run-bulk-verdict", args=[built.run.pk]),
        {
            "dataset": "beta",
            "conf_min": "80",
            "value": "confirmed",
            "note": "batch 1",
            "selected": "1",
            "confirm": "yes",
        },
    )
    assert response.status_code == 302
    assert "dataset=beta" in response["Location"]
    confirmed = set(Verdict.objects.values_list("match_id", flat=True))
    assert confirmed == {built.matches[(2, "beta")].pk}
    assert VerdictEvent.objects.get().note == "batch 1"


def test_bulk_verdict_needs_a_filter_so_it_cannot_reach_every_match_by_accident(
    built, client, alice
):
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    response = client.post(
        reverse("run-bulk-verdict", args=[built.run.pk]), {"value": "rejected"}, follow=True
    )
    assert "Choose at least one filter" in response.content.decode()
    assert not Verdict.objects.exists()


def _bulk(client, run, **fields):  # type: ignore[no-untyped-def]
    return client.post(reverse("run-bulk-verdict", args=[run.pk]), fields, follow=True)


def test_a_bulk_verdict_asks_for_confirmation_first_and_records_nothing_until_then(
    built, client, rita
):
    review.verdict_record(match=built.matches[(2, "alpha")], user=rita, value="rejected")
    review.verdict_record(match=built.matches[(3, "alpha")], user=rita, value="confirmed")
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    first = _bulk(client, built.run, dataset="alpha", value="confirmed", note="label copy")
    body = first.content.decode()
    assert first.status_code == 200 and not first.redirect_chain
    assert 'Set <span class="verdict verdict-confirmed">Confirmed</span> on 2 matches?' in body
    assert f"<dt>Selection</dt><dd>run #{built.run.pk}, dataset alpha</dd>" in body
    assert "<dt>Already confirmed</dt><dd>1 " in body
    assert "<dt>With another verdict</dt><dd>1 (replaced by confirmed)</dd>" in body
    assert 'name="confirm" value="yes"' in body and 'name="selected" value="2"' in body
    back = reverse("run-detail", args=[built.run.pk]) + "?dataset=alpha"
    assert f'<a href="{back}" class="button" id="bulk-cancel">Cancel</a>' in body
    assert Verdict.objects.get(match=built.matches[(2, "alpha")]).value == "rejected"
    assert VerdictEvent.objects.count() == 2

    done = _bulk(
        client,
        built.run,
        dataset="alpha",
        value="confirmed",
        note="label copy",
        selected="2",
        confirm="yes",
    )
    assert done.redirect_chain[-1][0] == back
    assert "Verdict recorded on 2 matches." in done.content.decode()
    assert set(Verdict.objects.filter(run=built.run).values_list("value", "note")) == {
        ("confirmed", "label copy")
    }


def test_a_bulk_confirmation_for_a_selection_that_changed_since_asks_again(built, client, rita):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    asked = _bulk(client, built.run, review="unreviewed", value="unsure")
    assert "on 4 matches?" in asked.content.decode()
    assert "review: not reviewed</dd>" in asked.content.decode()
    review.verdict_record(match=built.matches[(2, "alpha")], user=rita, value="rejected")
    again = _bulk(
        client, built.run, review="unreviewed", value="unsure", selected="4", confirm="yes"
    )
    body = again.content.decode()
    assert "The selection changed since you asked: it now holds 3 matches." in body
    assert 'name="selected" value="3"' in body
    assert not Verdict.objects.filter(value="unsure").exists()


def test_an_empty_selection_offers_no_bulk_verdict_and_says_why(built, client, rita):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    page = client.get(
        reverse("run-detail", args=[built.run.pk]), {"dataset": "beta", "conf_min": "95"}
    )
    body = page.content.decode()
    assert 'id="bulk-verdict"' not in body
    assert "No match is in this selection (0 matches)" in body
    # A selection with matches still gets the form.
    body = client.get(reverse("run-detail", args=[built.run.pk]), {"dataset": "beta"})
    assert 'id="bulk-verdict"' in body.content.decode()
    # Posted anyway (an old tab), it is refused with the reason.
    refused = _bulk(
        client,
        built.run,
        dataset="beta",
        conf_min="95",
        value="confirmed",
        selected="0",
        confirm="yes",
    )
    assert "No match is in this selection, so no verdict was recorded." in refused.content.decode()
    assert not VerdictEvent.objects.exists()


def test_bulk_verdict_on_unreviewed_leaves_earlier_verdicts_alone(built, rita):
    review.verdict_record(match=built.matches[(2, "alpha")], user=rita, value="rejected")
    changed = review.verdicts_bulk_record(
        run=built.run,
        matches=filtered_matches(built.run, ReportFilters(review="unreviewed")),
        user=rita,
        value="unsure",
    )
    assert changed == 3
    assert Verdict.objects.get(match=built.matches[(2, "alpha")]).value == "rejected"
    assert Verdict.objects.filter(value="unsure").count() == 3


# --- re-runs ------------------------------------------------------------------------------


def _rerun_with_new_alpha_version(built: Built) -> Built:
    """A second run of the same catalog after alpha got version 2: a-2 is gone from it, a new
    track a-9 matches row 4, and everything else is found again."""
    dataset_with_tracks(
        "alpha",
        2,
        tracks={
            "a-1": ("Aurora Lane", "Night Drive"),
            "a-9": ("Kite Parade", "Open Water"),
        },
    )
    return finished_run(
        built.catalog,
        built.rows,
        [
            (2, "alpha", "a-1", "exact", 100),
            (2, "beta", "b-1", "strong", 92),
            (4, "alpha", "a-9", "exact", 100),
            (4, "beta", "b-2", "possible", 76),
        ],
    )


def test_verdicts_are_carried_over_to_the_same_pair_in_a_re_run(built, rita):
    review.verdict_record(
        match=built.matches[(2, "alpha")], user=rita, value="confirmed", note="n1"
    )
    review.verdict_record(match=built.matches[(4, "beta")], user=rita, value="rejected")
    review.verdict_record(match=built.matches[(3, "alpha")], user=rita, value="confirmed")
    second = _rerun_with_new_alpha_version(built)
    assert review.verdicts_carry_over(run=second.run) == 2
    carried = {
        (v.match.catalog_row.row_number, v.match.dataset.slug): v
        for v in Verdict.objects.filter(run=second.run).select_related(
            "match__catalog_row", "match__dataset"
        )
    }
    assert set(carried) == {(2, "alpha"), (4, "beta")}
    assert carried[(2, "alpha")].value == "confirmed"
    assert carried[(2, "alpha")].note == "n1"
    assert carried[(2, "alpha")].reviewed_by == rita
    assert carried[(2, "alpha")].carried_from_run_id == built.run.pk
    event = VerdictEvent.objects.get(match=second.matches[(2, "alpha")])
    assert (event.user_name, event.carried_from_run) == ("trainwatch", built.run.pk)
    # Calling it again changes nothing.
    assert review.verdicts_carry_over(run=second.run) == 0


def test_the_latest_verdict_is_the_one_carried_over(built, rita, alice):
    review.verdict_record(match=built.matches[(2, "beta")], user=rita, value="confirmed")
    review.verdict_record(match=built.matches[(2, "beta")], user=alice, value="rejected")
    second = _rerun_with_new_alpha_version(built)
    review.verdicts_carry_over(run=second.run)
    verdict = Verdict.objects.get(match=second.matches[(2, "beta")])
    assert (verdict.value, verdict.reviewed_by) == ("rejected", alice)


def test_verdicts_are_carried_over_once_when_the_run_finishes_and_pages_write_none(
    built, rita, client
):
    review.verdict_record(match=built.matches[(2, "alpha")], user=rita, value="confirmed")
    second = _rerun_with_new_alpha_version(built)
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    client.get(reverse("run-detail", args=[second.run.pk]))
    assert Verdict.objects.filter(run=second.run).count() == 0  # a page view writes nothing
    # what the chunk that finishes a run does (and the watchdog, for a run left without it)
    report_prepare(run=second.run)
    report_prepare(run=second.run)
    client.get(reverse("run-detail", args=[second.run.pk]))
    assert Verdict.objects.filter(run=second.run).count() == 1
    assert VerdictEvent.objects.filter(run_number=second.run.pk).count() == 1
    second.run.refresh_from_db()
    assert second.run.verdicts_carried_at is not None


def test_re_run_diff_lists_new_gone_and_unchanged_pairs(built, rita):
    review.verdict_record(match=built.matches[(2, "beta")], user=rita, value="confirmed")
    second = _rerun_with_new_alpha_version(built)
    review.verdicts_carry_over(run=second.run)
    assert previous_run(second.run) == built.run
    diff = run_diff(second.run, built.run)
    assert [line.key for line in diff.new] == [(4, "alpha", "a-9")]
    assert [line.key for line in diff.gone] == [(3, "alpha", "a-2")]
    assert [line.key for line in diff.unchanged] == [
        (2, "alpha", "a-1"),
        (2, "beta", "b-1"),
        (4, "beta", "b-2"),
    ]
    verdicts = {line.key: line.verdict for line in diff.unchanged}
    assert verdicts[(2, "beta", "b-1")] == "confirmed"
    assert diff.version_changes == [("Alpha Set", 1, 2)]  # by display name (issue 17)


def test_re_run_diff_page_shows_the_counts(built, client, bob):
    second = _rerun_with_new_alpha_version(built)
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    body = client.get(reverse("run-diff", args=[second.run.pk])).content.decode()
    assert '<strong class="diff-new" id="diff-new">1</strong>' in body
    assert '<strong class="diff-gone" id="diff-gone">1</strong>' in body
    assert '<strong id="diff-unchanged">3</strong>' in body
    assert "Alpha Set (v1 → v2)" in body  # datasets by display name on every page (issue 17)
    assert "<td>Alpha Set</td>" in body and "<td>alpha</td>" not in body
    first = client.get(reverse("run-diff", args=[built.run.pk])).content.decode()
    assert "nothing to compare it with" in first


def test_re_run_button_starts_a_new_run_of_the_same_catalog(
    built, client, bob, rita, django_capture_on_commit_callbacks
):
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    assert client.post(reverse("run-rerun", args=[built.run.pk])).status_code == 403
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    response = client.post(reverse("run-rerun", args=[built.run.pk]))
    assert response.status_code == 302
    new_run = built.catalog.runs.exclude(pk=built.run.pk).get()
    assert response["Location"] == reverse("run-detail", args=[new_run.pk])
    assert new_run.created_by == bob


# --- undo -----------------------------------------------------------------------------------


def test_undo_restores_the_earlier_verdict_with_its_note_and_reviewer(built, rita, alice):
    m = built.matches[(2, "alpha")]
    first = review.verdict_record(match=m, user=rita, value="unsure", note="check the mix")
    review.verdict_record(match=m, user=alice, value="rejected", note="a cover")
    restored = review.verdict_undo(match=m, user=alice)
    assert restored is not None
    verdict = Verdict.objects.get(match=m)
    assert (verdict.value, verdict.note, verdict.reviewed_by) == ("unsure", "check the mix", rita)
    assert verdict.reviewed_at == first.reviewed_at
    events = list(VerdictEvent.objects.filter(match=m))
    assert [(e.old_value, e.new_value, e.user_name, e.undoes_id) for e in events] == [
        ("", "unsure", "rita", None),
        ("unsure", "rejected", "alice", None),
        ("rejected", "unsure", "alice", events[1].pk),
    ]
    assert events[2].note == "check the mix"


def test_undoing_the_first_verdict_leaves_the_match_unreviewed_and_keeps_the_trail(built, rita):
    m = built.matches[(3, "alpha")]
    review.verdict_record(match=m, user=rita, value="confirmed", note="same ISRC")
    assert review.verdict_undo(match=m, user=rita) is None
    assert not Verdict.objects.filter(match=m).exists()
    events = list(VerdictEvent.objects.filter(match=m))
    assert [(e.old_value, e.new_value, e.note) for e in events] == [
        ("", "confirmed", "same ISRC"),
        ("confirmed", "", ""),
    ]
    assert events[1].undoes == events[0]


def test_an_undo_is_not_undone_and_a_stale_undo_changes_nothing(built, rita, alice):
    m = built.matches[(2, "beta")]
    review.verdict_record(match=m, user=rita, value="confirmed")
    seen = VerdictEvent.objects.get(match=m)
    review.verdict_record(match=m, user=alice, value="rejected")
    with pytest.raises(review.ReviewError, match="changed since, by alice"):
        review.verdict_undo(match=m, user=rita, event_id=seen.pk)
    assert Verdict.objects.get(match=m).value == "rejected"
    review.verdict_undo(match=m, user=rita)
    with pytest.raises(review.ReviewError, match="already an undo"):
        review.verdict_undo(match=m, user=rita)
    with pytest.raises(review.ReviewError, match="no verdict to undo"):
        review.verdict_undo(match=built.matches[(4, "beta")], user=rita)
    assert Verdict.objects.get(match=m).value == "confirmed"
    assert VerdictEvent.objects.filter(match=m).count() == 3


def test_undo_needs_the_review_permission_in_the_matchs_organization(built, rita, bob, charlie):
    m = built.matches[(2, "alpha")]
    review.verdict_record(match=m, user=rita, value="confirmed")
    with pytest.raises(PermissionDenied):
        review.verdict_undo(match=m, user=bob)
    with pytest.raises(Http404):
        review.verdict_undo(match=m, user=charlie)
    assert Verdict.objects.get(match=m).value == "confirmed"
    assert VerdictEvent.objects.filter(match=m).count() == 1


def test_undo_after_a_carried_verdict_restores_it_with_who_gave_it(built, rita, alice):
    review.verdict_record(
        match=built.matches[(2, "alpha")], user=rita, value="confirmed", note="n1"
    )
    given = Verdict.objects.get(match=built.matches[(2, "alpha")])
    second = _rerun_with_new_alpha_version(built)
    review.verdicts_carry_over(run=second.run)
    m = second.matches[(2, "alpha")]
    review.verdict_record(match=m, user=alice, value="rejected")
    review.verdict_undo(match=m, user=alice)
    verdict = Verdict.objects.get(match=m)
    assert (verdict.value, verdict.note, verdict.reviewed_by, verdict.carried_from_run_id) == (
        "confirmed",
        "n1",
        rita,
        built.run.pk,
    )
    assert verdict.reviewed_at == given.reviewed_at


def test_after_a_verdict_the_next_page_offers_to_undo_it_and_undo_restores_it(built, client, rita):
    first, second = built.matches[(2, "alpha")], built.matches[(2, "beta")]
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    saved = client.post(
        reverse("match-verdict", args=[first.pk]),
        {"value": "rejected", "then": "next"},
        follow=True,
    )
    assert saved.redirect_chain[-1][0] == reverse("match-evidence", args=[second.pk])
    body = saved.content.decode()
    undo_url = reverse("match-verdict-undo", args=[first.pk])
    event = VerdictEvent.objects.get(match=first)
    assert f'action="{undo_url}" class="notice undo-notice" id="undo-last-form"' in body
    assert f'name="event" value="{event.pk}"' in body
    assert "(back to not reviewed;" in body
    assert "<dt><kbd>z</kbd></dt>" in body
    # Offered once: the page seen again no longer carries it.
    again = client.get(reverse("match-evidence", args=[second.pk])).content.decode()
    assert 'id="undo-last-form"' not in again

    undone = client.post(undo_url, {"event": str(event.pk)}, follow=True)
    assert undone.redirect_chain[-1][0] == reverse("match-evidence", args=[first.pk])
    page = undone.content.decode()
    assert "Verdict undone: row 2 in Alpha Set is not reviewed any more." in page
    assert 'id="verdict-status" data-verdict="none"' in page
    assert '<tr class="undo-event">' in page and "<strong>Undo</strong> of the change at" in page
    assert not Verdict.objects.filter(match=first).exists()
    assert VerdictEvent.objects.filter(match=first).count() == 2


def test_the_evidence_page_offers_undo_of_the_last_change_to_reviewers_only(
    built, client, rita, bob
):
    m = built.matches[(3, "alpha")]
    review.verdict_record(match=m, user=rita, value="unsure")
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    body = client.get(reverse("match-evidence", args=[m.pk])).content.decode()
    assert f'action="{reverse("match-verdict-undo", args=[m.pk])}" id="undo-form"' in body
    assert "Last change: not reviewed → unsure by rita" in body
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    body = client.get(reverse("match-evidence", args=[m.pk])).content.decode()
    assert 'id="undo-form"' not in body


def test_undo_through_the_page_is_refused_to_a_member_and_hidden_from_an_outsider(
    built, client, rita, bob, charlie
):
    m = built.matches[(2, "alpha")]
    review.verdict_record(match=m, user=rita, value="confirmed")
    url = reverse("match-verdict-undo", args=[m.pk])
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    assert client.post(url).status_code == 403
    client.login(request=HttpRequest(), username="charlie", password=PASSWORD)
    assert client.post(url).status_code == 404
    client.login(request=HttpRequest(), username="rita", password=PASSWORD)
    assert client.get(url).status_code == 405
    assert Verdict.objects.get(match=m).value == "confirmed"
    assert VerdictEvent.objects.filter(match=m).count() == 1
