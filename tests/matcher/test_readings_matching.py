"""Readings and copies end to end: real YouTube rows imported on each path, a catalog matched."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command

from matcher.datasets.importer import dataset_import
from matcher.models import Match, TrackReading

DATA = Path(__file__).resolve().parents[1] / "data" / "youtube"


@pytest.fixture(params=["copy", "orm"])
def uploads(request, transactional_db):  # type: ignore[no-untyped-def]
    dataset_import(
        slug="youtube-sample",
        paths=[DATA / "uploads.csv"],
        file_format="generic-csv",
        use_copy=request.param == "copy",
    )
    return request.param


def _match(tmp_path: Path, rows: list[tuple[str, str]]) -> dict[int, list[dict[str, str]]]:
    catalog = tmp_path / "catalog.csv"
    with catalog.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("Artist", "Title"), *rows])
    out = tmp_path / "report.csv"
    call_command("match_catalog", str(catalog), "--org", "readings-label", "--out", str(out))
    lines: dict[int, list[dict[str, str]]] = {}
    with out.open(encoding="utf-8", newline="") as fh:
        for line in csv.DictReader(fh):
            lines.setdefault(int(line["catalog_row"]), []).append(line)
    return lines


def test_a_title_that_names_another_artist_is_stored_as_an_extra_reading(uploads):
    readings = {
        (r.track.track_id, r.name): (r.artist_key, r.title_key)
        for r in TrackReading.objects.select_related("track")
    }
    assert readings[("yt-montez", "title_split")] == ("chris montez", "our day will come")
    assert ("copy-a", "title_split") not in readings  # a plain title has no other reading


def test_a_channel_upload_is_found_through_the_artist_in_its_title(uploads, tmp_path):
    lines = _match(
        tmp_path, [("Chris Montez", "Our Day Will Come"), ("Aimee Mann", "The Scientist")]
    )
    montez = lines[2][0]
    assert (montez["status"], montez["dataset_track_id"]) == ("matched", "yt-montez")
    assert montez["match_kind"] in ("exact", "strong")
    mann = lines[3][0]
    assert (mann["status"], mann["dataset_track_id"]) == ("matched", "yt-mann")
    evidence = Match.objects.get(track__track_id="yt-montez").evidence
    assert evidence["track"]["reading"] == "title_split"
    assert evidence["track"]["artist"] == "flatop47"
    assert any("read from its title" in rule for rule in evidence["rules"])


def test_both_copies_of_a_recording_are_listed_each_with_its_own_id(uploads, tmp_path):
    lines = _match(tmp_path, [("Jim Lowe", "The Green Door")])
    ids = sorted(line["dataset_track_id"] for line in lines[2])
    assert ids == ["copy-a", "copy-b"]
    assert {line["match_kind"] for line in lines[2]} == {"exact"}


def test_the_same_song_by_another_performer_is_not_matched_through_a_reading(uploads, tmp_path):
    lines = _match(tmp_path, [("Coldplay", "The Scientist")])
    assert all(line["match_kind"] not in ("identifier", "exact", "strong") for line in lines[2])


def test_the_evidence_page_says_which_reading_of_the_upload_matched(uploads, tmp_path, client):
    from django.contrib.auth import get_user_model
    from django.http import HttpRequest
    from django.urls import reverse

    from accounts.models import Membership, Organization, Role

    _match(tmp_path, [("Chris Montez", "Our Day Will Come"), ("Jim Lowe", "The Green Door")])
    user = get_user_model().objects.create_user("lena", password="a-long-pass-phrase-42")
    org = Organization.objects.get(slug="readings-label")
    Membership.objects.create(organization=org, user=user, role=Role.OWNER)
    client.login(request=HttpRequest(), username="lena", password="a-long-pass-phrase-42")
    montez = Match.objects.get(track__track_id="yt-montez")
    body = client.get(reverse("match-evidence", args=[montez.pk])).content.decode()
    assert 'id="reading"' in body
    assert "read from the title" in body
    assert "flatop47" in body  # the credit as published stays in view
    plain = Match.objects.get(track__track_id="copy-a")
    body = client.get(reverse("match-evidence", args=[plain.pk])).content.decode()
    assert 'id="reading"' not in body


def test_an_upload_that_runs_artist_and_title_together_is_found_for_that_row(uploads, tmp_path):
    lines = _match(
        tmp_path,
        [
            ("Dollar", "I Wanna Hold Your Hand"),  # `Dollar I Wanna Hold Your Hand`
            ("Irma Thomas", "For the Good Times"),  # `for the good times Irma Thomas`
            ("The Beatles", "I Wanna Hold Your Hand"),  # the original: another recording
            ("Dollar", "For the Good Times"),  # Dollar's name, Irma Thomas's upload
        ],
    )
    for sheet_row, track_id in ((2, "yt-dollar"), (3, "yt-irma")):
        line = lines[sheet_row][0]
        assert (line["status"], line["dataset_track_id"]) == ("matched", track_id)
        assert line["match_kind"] == "exact"
    for sheet_row in (4, 5):
        assert all(
            line["match_kind"] not in ("identifier", "exact", "strong") for line in lines[sheet_row]
        )
    evidence = Match.objects.get(track__track_id="yt-dollar").evidence
    assert evidence["track"]["reading"] == "run_together"
    assert evidence["track"]["artist"] == "MrBeatlesCovers"
    assert evidence["track"]["normalized"]["artists"] == ["dollar"]
    assert any(
        "'Dollar I Wanna Hold Your Hand'" in rule and "run together" in rule
        for rule in evidence["rules"]
    )
    # Made at match time for the row: nothing of it is stored with the track.
    assert not TrackReading.objects.filter(track__track_id="yt-dollar").exists()


def test_run_together_keys_both_orders_a_leading_the_and_a_whole_credit():
    from matcher.engine.keys import prepare
    from matcher.engine.readings import run_together_keys, run_together_side

    side = prepare(artists="Brian & Tony Gold", title="I Can't Stand the Rain").side
    keys = run_together_keys(side)
    whole = "brian and tony gold"
    assert keys[f"{whole} {side.title_key}"] == whole
    assert keys[f"{side.title_key} the {whole}"] == whole
    assert keys[f"brian {side.title_key}"] == "brian"
    upload = prepare(artists="woodytube", title="BRIAN & TONY GOLD I Can't Stand The Rain (Live)")
    read = run_together_side(side, upload.side, whole)
    assert (read.title_key, read.artists, read.version) == (
        side.title_key,
        ("brian", "tony gold"),
        "live",  # the upload's own version is kept: a live upload stays live
    )
    assert run_together_keys(prepare(artists="Madonna", title="Madonna").side) == {}


@pytest.mark.parametrize("title", ["Even - Remastered 2011", "Adults - Live at the BBC"])
def test_a_version_tag_after_a_dash_makes_no_reading(title):
    from matcher.engine.keys import prepare
    from matcher.engine.readings import extra_readings

    credited = prepare(artists="DJ Mixtape", title=title)
    assert extra_readings(artists="DJ Mixtape", title=title, credited=credited) == []


def test_two_rows_of_a_chunk_that_read_one_upload_differently_each_get_their_reading():
    from matcher.engine.keys import prepare
    from matcher.runs.blocking import _run_together_row
    from matcher.runs.track_reads import candidate_from_row, candidate_key

    upload = prepare(artists="MrBeatlesCovers", title="Dollar I Wanna Hold Your Hand").side
    stored = (
        candidate_key(7),
        1,
        upload.artist_key,
        upload.title_key,
        upload.artists_norm,
        "",
        None,
    )
    rows = {stored[0]: stored}
    first = prepare(artists="Dollar", title="I Wanna Hold Your Hand").side
    second = prepare(artists="Dollar I", title="Wanna Hold Your Hand").side
    third = prepare(artists="Dollar I Wanna", title="Hold Your Hand").side
    a = _run_together_row(rows, stored[0], first, "dollar")
    b = _run_together_row(rows, stored[0], second, "dollar i")
    assert a != b and a is not None and b is not None
    assert _run_together_row(rows, stored[0], first, "dollar") == a  # made once, found again
    assert _run_together_row(rows, stored[0], third, "dollar i wanna") is None  # no slot left
    read = candidate_from_row(rows[b])
    assert (read.track_pk, read.reading_name) == (7, "run_together")
    assert (read.side.artists, read.side.title_key) == (("dollar i",), "wanna hold your hand")
    assert rows[stored[0]] == stored  # the track's own reading is untouched
