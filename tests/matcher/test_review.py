"""The lawyers' review workflow: verdicts, the append-only audit trail, role rules, bulk verdicts
on a filtered selection, carry-over to a re-run, and the re-run difference."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
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
        {"dataset": "beta", "conf_min": "80", "value": "confirmed", "note": "batch 1"},
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
    assert diff.version_changes == [("alpha", 1, 2)]


def test_re_run_diff_page_shows_the_counts(built, client, bob):
    second = _rerun_with_new_alpha_version(built)
    client.login(request=HttpRequest(), username="bob", password=PASSWORD)
    body = client.get(reverse("run-diff", args=[second.run.pk])).content.decode()
    assert '<strong class="diff-new" id="diff-new">1</strong>' in body
    assert '<strong class="diff-gone" id="diff-gone">1</strong>' in body
    assert '<strong id="diff-unchanged">3</strong>' in body
    assert "alpha (v1 → v2)" in body
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
