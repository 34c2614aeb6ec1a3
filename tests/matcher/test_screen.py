"""The scorer's screen (matcher.engine.score.Screen) never drops a pair `score_pair` accepts.

Matching depends on this: a chunk's candidates are screened on their stored columns and only
the survivors are scored, so a screen that dropped one real match would change results. Checked
on every pair of real Spotify tracks (tests/data/datasets, with typos, reordered credits,
"The" and versions added) and on generated near-miss strings, under several thresholds.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.engine.keys import TrackSide, prepare
from matcher.engine.score import ONE_EDIT_RATIO_FLOOR, Screen, Thresholds, score_pair

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "datasets" / "spotify_tracks_sample_886.csv"
THRESHOLDS = (
    Thresholds(),
    Thresholds(strong=95, possible=85, artist_min=90, title_min=90, artist_strong=92),
    Thresholds(strong=80, possible=50, artist_min=40, title_min=40, artist_strong=60),
    Thresholds(artist_min=0, title_min=0, possible=0),
)


def stored(side: TrackSide) -> TrackSide:
    """A dataset track as the scorer sees it: read back from its stored columns."""
    return TrackSide.from_stored(
        artist_key=side.artist_key,
        title_key=side.title_key,
        artists_norm=side.artists_norm,
        version=side.version,
        duration_s=side.duration_s,
    )


def typo(rng: random.Random, text: str) -> str:
    if len(text) < 2:
        return text + "x"
    i = rng.randrange(len(text) - 1)
    how = rng.randrange(4)
    if how == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if how == 1:
        return text[:i] + text[i + 1 :]
    if how == 2:
        return text[:i] + text[i] + text[i:]
    return text[:i] + "q" + text[i + 1 :]


def real_records() -> list[tuple[str, str]]:
    with SAMPLE.open(encoding="utf-8") as fh:
        rows = [(r["artists"], r["track_name"]) for r in csv.DictReader(fh)]
    rng = random.Random(20261125)
    out = list(rows[:120])
    for artists, title in rows[:120]:
        names = artists.split(";")
        out.append((typo(rng, artists), title))
        out.append((artists, typo(rng, title)))
        out.append((";".join(reversed(names)), title))
        out.append(("The " + names[0], title))
        out.append((artists, title + " - Live"))
        out.append((rng.choice(rows)[0], title))  # a cover
    return out


def assert_screen_is_sound(query: TrackSide, candidates: list[TrackSide], t: Thresholds) -> int:
    """Screens the candidates in one batch and in blocks of one title (the two ways matching
    uses) and one by one; all must agree, and no candidate dropped may be one `score_pair`
    accepts. Returns how many were dropped."""
    kept = set(
        Screen(query, t).keep((i, c.title_key, c.artists_norm) for i, c in enumerate(candidates))
    )
    by_title: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        by_title.setdefault(c.title_key, []).append(i)
    titled = Screen(query, t)
    for title_key, idxs in by_title.items():  # title blocks, as blocking hands them over
        block = titled.keep_titled(title_key, idxs, [candidates[i].artists_norm for i in idxs])
        assert set(block) == kept & set(idxs)
    one_by_one = Screen(query, t)
    dropped = 0
    for i, cand in enumerate(candidates):
        assert (i in kept) == one_by_one.passes(cand.title_key, cand.artists_norm)
        if i not in kept:
            dropped += 1
            assert score_pair(query, cand, t) is None, (query, cand, t)
    return dropped


def test_one_edit_floor_is_what_one_typo_costs_a_four_letter_key():
    from rapidfuzz import fuzz

    assert fuzz.ratio("muse", "mues") == ONE_EDIT_RATIO_FLOOR == 75.0


def test_the_screen_keeps_every_pair_the_scorer_accepts_on_real_tracks():
    records = real_records()
    sides = [prepare(artists=a, title=t).side for a, t in records]
    candidates = [stored(s) for s in sides]
    rng = random.Random(7)
    queries = rng.sample(sides, 150)
    for t in THRESHOLDS:
        dropped = sum(assert_screen_is_sound(q, candidates, t) for q in queries)
        if t.artist_min > 0:
            # The screen must also do its job: nearly all pairs of unrelated tracks go.
            assert dropped > 0.9 * len(queries) * len(candidates)


def test_the_screen_drops_covers_and_other_songs_but_keeps_typos():
    q = prepare(artists="Fleetwood Mac", title="Dreams").side
    screen = Screen(q, Thresholds())
    cover = stored(prepare(artists="The Corrs", title="Dreams").side)
    other = stored(prepare(artists="Fleetwood Mac", title="Landslide").side)
    artist_typo = stored(prepare(artists="Fleetwod Mac", title="Dreams").side)
    with_the = stored(prepare(artists="Thee Fleetwood Mac", title="Dreams").side)
    assert not screen.passes(cover.title_key, cover.artists_norm)
    assert not screen.passes(other.title_key, other.artists_norm)
    assert screen.passes(artist_typo.title_key, artist_typo.artists_norm)
    assert screen.passes(with_the.title_key, with_the.artists_norm)


_letters = st.text(alphabet="abcdeht ", min_size=0, max_size=9)


@settings(max_examples=400, deadline=None)
@given(
    q_artists=st.lists(_letters, min_size=0, max_size=3),
    c_artists=st.lists(_letters, min_size=0, max_size=3),
    q_title=_letters,
    c_title=_letters,
    q_primary=st.integers(0, 3),
    c_primary=st.integers(0, 3),
    t=st.sampled_from(THRESHOLDS),
)
def test_the_screen_is_sound_on_generated_near_misses(
    q_artists, c_artists, q_title, c_title, q_primary, c_primary, t
):
    q_names = tuple(a for a in q_artists if a)
    c_names = tuple(a for a in c_artists if a)
    query = TrackSide("", q_title, q_names, min(q_primary, len(q_names)), "")
    cand = stored(TrackSide("", c_title, c_names, min(c_primary, len(c_names)), ""))
    assert_screen_is_sound(query, [cand], t)


@settings(max_examples=150, deadline=None)
@given(
    q_name=_letters.filter(bool),
    names=st.lists(st.lists(_letters, min_size=0, max_size=2), min_size=1, max_size=12),
    titles=st.lists(_letters, min_size=1, max_size=3),
    t=st.sampled_from(THRESHOLDS),
)
def test_a_batch_of_generated_candidates_screens_as_each_alone(q_name, names, titles, t):
    query = TrackSide("", titles[0], (q_name,), 1, "")
    cands = [
        stored(TrackSide("", titles[i % len(titles)], tuple(n for n in ns if n), 1, ""))
        for i, ns in enumerate(names)
    ]
    assert_screen_is_sound(query, cands, t)


def test_the_screen_keeps_band_credits_matched_through_their_lead():
    t = Thresholds()
    pairs = [
        ("Dolly Parton & The Whorehouse Girls", "Dolly Parton"),
        ("Dolly Parton", "Dolly Parton & The Whorehouse Girls"),
        ('Nat "King" Cole and The Trio', "Nat King Cole"),
        ("Russ Morgan and His Orchestra", "Russ Morgan & His Orch."),
        ("Julie London", "Julie London e Bud Shank Quintet"),
    ]
    for catalog, dataset in pairs:
        query = prepare(artists=catalog, title="Louise").side
        candidate = prepare(artists=dataset, title="Louise").side
        assert score_pair(query, candidate, t) is not None
        assert Screen(query, t).passes(candidate.title_key, candidate.artists_norm)
        assert_screen_is_sound(query, [candidate], t)
