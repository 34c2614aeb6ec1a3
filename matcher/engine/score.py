"""Scores one catalog record against one dataset track and names the kind of match.

Per-field scores (artist, title, duration, album) are rapidfuzz similarities on the normalized
forms from matcher.engine.keys; the combination rules are written up in docs/matching.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from matcher.engine.keys import TrackSide, parse_artists_norm
from matcher.engine.normalize import NORMALIZER_VERSION

# score-3: one typo in each field; score-4: band credits match their lead artist, a remix names
# its remixer, a cover tag naming the original artist is the performer's own recording, and
# `exact` needs the durations to agree (matcher.engine.keys.version_of, docs/matching.md);
# score-5: readings split on " / " and read an `Artist - Title (note)` title without the note;
# score-6: a row's artist and title run together are looked up as a title (readings.py), a name
# leading a longer credit is `strong` at most (contained_artist), a title ending in a roman
# numeral (`The Unforgiven II`) ends in a number.
ENGINE_VERSION = f"score-6/norm-{NORMALIZER_VERSION}"

IDENTIFIER = "identifier"
EXACT = "exact"
STRONG = "strong"
VERSION = "version"
POSSIBLE = "possible"
KINDS = (IDENTIFIER, EXACT, STRONG, VERSION, POSSIBLE)
CONFIDENT_KINDS = (IDENTIFIER, EXACT, STRONG)

# Durations within this many seconds count as the same length; beyond FULL_PENALTY_S the
# duration is fully against the match (beets forgives 10 s and penalises fully at 30 s more).
DURATION_GRACE_S = 5.0
DURATION_FULL_PENALTY_S = 30.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    strong: int = 90  # artist and title both at least this for a strong or version match
    possible: int = 75  # combined confidence at least this to be reported at all
    artist_min: int = 70  # below this artist similarity the pair is not the same recording
    title_min: int = 70
    # A strong match needs the title at `strong`; the artist may be a little lower, because a
    # typo in a short name costs more points ("Radiohaed" is 89) and the title tells songs apart.
    artist_strong: int = 80

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        known = {k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Score:
    kind: str
    confidence: int
    artist: float
    title: float
    duration_delta_s: float | None
    album: float | None
    version_note: str
    rules: tuple[str, ...] = field(default=())

    def fields(self) -> dict[str, Any]:
        return {
            "artist": round(self.artist, 1),
            "title": round(self.title, 1),
            "duration_delta_s": (
                None if self.duration_delta_s is None else round(self.duration_delta_s, 1)
            ),
            "album": None if self.album is None else round(self.album, 1),
        }


def album_similarity(query_album_key: str, candidate_album_key: str) -> float | None:
    """Album titles compared (shown as evidence; never part of the confidence), or None when
    either side has none."""
    if query_album_key and candidate_album_key:
        return fuzz.token_sort_ratio(query_album_key, candidate_album_key)
    return None


# A credit that adds the backing band to its lead (`Dolly Parton & The Whorehouse Girls`,
# `Nat "King" Cole and The Trio`, `Russ Morgan and His Orchestra`, `Ramsey Lewis Trio`,
# `Julie London e Bud Shank Quintet`), on the artist key. The lead has 2-4 words: one-word
# "leads" (`Echo & the Bunnymen`, `Kool & the Gang`, `Marina and the Diamonds`) are band names.
_ENSEMBLE = (
    r"(?:orchestra|orch|orchestre|orquesta|orquestra|trio|quartet|quintet|sextet|septet|octet"
    r"|ensemble|combo|all stars|allstars|big band|strings|singers|chorus|choir)"
)
_BAND_CREDIT = re.compile(
    rf"^(?P<lead>\S+(?: \S+){{1,3}}?) (?:(?:and|with|e|y|et|und) (?:(?:the|his|her|their|los|las"
    rf"|les|su|sus) .+|friends|.*\b{_ENSEMBLE})|{_ENSEMBLE})$"
)
BAND_LEAD_MIN = 90  # the lead against the other credit, before the band credit's discount
BAND_LEAD_SCORE = 0.95  # a band credit matched through its lead is not quite the same credit


@lru_cache(maxsize=65536)
def band_lead(artist_key: str) -> str:
    """The lead artist of a band credit's key (`dolly parton and the whorehouse girls` ->
    `dolly parton`), or "" when the key is not a band credit."""
    m = _BAND_CREDIT.match(artist_key)
    return m.group("lead") if m else ""


def _band_similarity(prims: Sequence[str], names: Sequence[str]) -> tuple[float, str]:
    """The best match of a query credit and a candidate credit through a band credit's lead."""
    best, rule = 0.0, ""
    for q in prims:
        lq = band_lead(q)
        for c in names:
            lc = band_lead(c)
            for a, b, band, lead in ((lq, c, q, lq), (q, lc, c, lc), (lq, lc, q, lq)):
                if not a or not b:
                    continue
                s = 100.0 if a == b else fuzz.ratio(a, b)
                if s >= BAND_LEAD_MIN and s * BAND_LEAD_SCORE > best:
                    best = s * BAND_LEAD_SCORE
                    rule = f"band credit: '{band}' is led by '{lead}'"
    return best, rule


def artist_similarity(query: TrackSide, candidate: TrackSide) -> tuple[float, str]:
    """Best similarity of a credited query artist to any artist credited on the candidate.

    The catalog's primary artist must appear among the candidate's credits (primary, featured,
    or split off a YouTube-style title); order and extra credits do not count against it. A
    band credit matches its lead artist at 95 (`Dolly Parton & The Whorehouse Girls` /
    `Dolly Parton`).
    """
    if not query.artists or not candidate.artists:
        return 0.0, "no artist on one side"
    best = 0.0
    for q in query.artists[: max(1, query.primary_count)]:
        for c in candidate.artists:
            if q == c:
                return 100.0, ""
            s = fuzz.ratio(q, c)
            if s > best:
                best = s
    if best < BAND_LEAD_SCORE * 100:
        band, rule = _band_similarity(
            query.artists[: max(1, query.primary_count)], candidate.artists
        )
        if band > best:
            return band, rule
    # Credit lists split differently ("Ariana Grande & The Weeknd" as one credit or two) are
    # compared whole, primary credits only: featured names shared by a cover and the original
    # ("Stay (with Alessia Cara)") must not carry another primary artist.
    joined = fuzz.token_sort_ratio(
        " ".join(query.artists[: max(1, query.primary_count)]),
        " ".join(candidate.artists[: max(1, candidate.primary_count)]),
    )
    if joined > best:
        return joined, "artist credits compared as a whole"
    return best, ""


# An artist matched through a longer credit (contained_artist) scores this: enough for
# `strong`, never `exact`.
CONTAINED_SCORE = 90.0
CONTAINED_NAME_MIN = 4  # characters of a name found leading a longer credit
# Words after a name that say someone else performs (`Beatles Tribute Band`) or another
# recording (`... Medley`, `... Live`): no containment is made beside them.
_CONTAINED_BLOCK = re.compile(
    r"\b(?:tribute|karaoke|style|originally|famous|renditions?|covers?|covered|plays|playing"
    r"|salutes?|vs|versus|lullaby|lullabies|parody|medley|mashup|remix(?:ed)?|instrumental"
    r"|acoustic|live|demo|version|edit|reprise|bootleg|orchestral|piano|guitar|sax)\b"
)
_CONNECTOR_START = re.compile(r"(?:and|with|featuring|feat|ft)\b")


@lru_cache(maxsize=65536)
def _name_leads(name: str, credit: str) -> bool:
    """Whether `name` (two or more words) begins the longer `credit` and what follows it
    describes the upload or the act, not another act: `gene viale sings`, `ella fitzgerald at
    the opera house`, `percy faith his orchestra and chorus`. Not after "and"/"&"/"with" (the
    band rule's ground: `Echo & the Bunnymen`, a duet), not one word (`Prince` / `Prince
    Buster`), not beside a word saying someone else performs."""
    if len(name) < CONTAINED_NAME_MIN or " " not in name or not credit.startswith(name + " "):
        return False
    rest = credit[len(name) + 1 :]
    return not _CONNECTOR_START.match(rest) and not _CONTAINED_BLOCK.search(rest)


def contained_artist(query: TrackSide, candidate: TrackSide) -> str:
    """The rule that matches the query's artist to a longer credit of the candidate, or the
    query's longer credit to the candidate's artist, or "" (see _name_leads).

    YouTube titles and catalogs credit one act with more or fewer words than each other: `Gene
    Viale sings  Peace In The Valley`, `Ella Fitzgerald at the Opera House - ...`, `Sonny James`
    for `Sonny James the Southern Gentleman`. Such a credit matches at CONTAINED_SCORE.
    """
    prims = query.artists[: max(1, query.primary_count)]
    for q in prims:
        for c in candidate.artists:
            if _name_leads(q, c):
                return f"artist: '{q}' begins the longer credit '{c}'"
    for c in candidate.artists[: max(1, candidate.primary_count)]:
        for q in prims:
            if _name_leads(c, q):
                return f"artist: the credit '{q}' begins with '{c}'"
    return ""


_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SPOKEN = {"wanna": "want to", "gonna": "going to", "gotta": "got to", "mister": "mr"}
# Two titles written alike (title_written_alike) score this: `strong`, never `exact`.
WRITTEN_ALIKE_SCORE = 95.0


@lru_cache(maxsize=65536)
def title_written_alike(title_key: str) -> str:
    """A title key written one way: a leading "the" dropped, numbers in words as digits,
    `wanna`/`gonna`/`gotta` and `mister` spelled out (since score-6).

    Uploads and catalogs write one title several ways: `The Christmas Song` / `Christmas Song`,
    `24 Hours from Tulsa` / `Twenty Four Hours from Tulsa`, `4 Walls` / `Four Walls`, `I Only
    Wanna Be With You` / `I Only Want to Be with You`.
    """
    words = title_key.split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _TENS:
            unit = _UNITS.get(words[i + 1], 0) if i + 1 < len(words) else 0
            if 0 < unit < 10:
                out.append(str(_TENS[word] + unit))
                i += 2
                continue
            out.append(str(_TENS[word]))
        elif word in _UNITS:
            out.append(str(_UNITS[word]))
        else:
            out.append(_SPOKEN.get(word, word))
        i += 1
    return " ".join(out)


def _similar_titles(q: str, c: str) -> float:
    if q == c:
        return 100.0
    found = max(fuzz.ratio(q, c), fuzz.token_sort_ratio(q, c))
    if found < WRITTEN_ALIKE_SCORE and title_written_alike(q) == title_written_alike(c):
        return WRITTEN_ALIKE_SCORE
    return found


def title_similarity(query: TrackSide, candidate: TrackSide) -> float:
    return _similar_titles(query.title_key, candidate.title_key)


# Numbers that name a part of a series ("Vol. 52", "Part II", "No. 5", "Pt. 2"): two titles that
# differ only there are different works, however similar the rest of the title is.
_CUE = (
    r"(?:part|pt|vol|volume|no|nr|number|num|chapter|chap|ch|episode|ep|op|opus|act|book"
    r"|track|session|sessions|mvt|movement|side|round)"
)
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "i": "1", "ii": "2",
    "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9", "x": "10",
    "xi": "11", "xii": "12",
}  # fmt: skip
_CUED_WORD = re.compile(rf"\b{_CUE} ({'|'.join(_NUMBER_WORDS)})\b")
_DIGITS = re.compile(r"\d+")
# A roman numeral of two or more letters ending a title is a part: `The Unforgiven II` (since
# score-6; `I`, `V` and `X` alone are words or names: `Malcolm X`).
_TRAILING_ROMAN = re.compile(r" (ii|iii|iv|vi|vii|viii|ix|xi|xii)$")


@lru_cache(maxsize=65536)
def title_numbers(title_key: str) -> tuple[str, ...]:
    """The numbers in a title key, sorted: digits anywhere, number words only after a cue word.

    `vol 52` gives ("52",); `part ii` and `part two` give ("2",); `one` alone is a word, not a
    number (Metallica's "One"); a title ending in `ii`, `iii`... ends in a number. Leading
    zeros do not count ("Vol. 05" is "Vol. 5").
    """
    text = _CUED_WORD.sub(
        lambda m: m.group(0).rsplit(" ", 1)[0] + " " + _NUMBER_WORDS[m.group(1)], title_key
    )
    text = _TRAILING_ROMAN.sub(lambda m: " " + _NUMBER_WORDS[m.group(1)], text)
    return tuple(sorted(str(int(d)) for d in _DIGITS.findall(text)))


ONE_EDIT_MIN_LEN = 4


def one_edit(a: str, b: str) -> bool:
    """True when `b` is `a` with one typo (a letter changed, added, dropped or two swapped).

    Short keys lose many ratio points to one typo ("crush" / "crus" is 89, "muse" / "mues" 75);
    when the other field agrees exactly, one edit is forgiven. Too short keys never are.
    """
    if min(len(a), len(b)) < ONE_EDIT_MIN_LEN:
        return False
    return bool(OSA.distance(a, b, score_cutoff=1) <= 1)


# Both fields with a typo: forgiven only on longer keys, where two different recordings by
# artists one letter apart with titles one letter apart are not a realistic pair.
ONE_TYPO_EACH_MIN_LEN = 5


def one_typo_each(query: TrackSide, candidate: TrackSide) -> bool:
    """True when the title keys are one edit apart and a primary artist of the query is one
    edit from an artist credited on the candidate, every key involved of 5+ characters
    (`Tidersticks` / `Marblex` for `Tindersticks` / `Marbles`)."""
    q_title, c_title = query.title_key, candidate.title_key
    if q_title == c_title or min(len(q_title), len(c_title)) < ONE_TYPO_EACH_MIN_LEN:
        return False
    if OSA.distance(q_title, c_title, score_cutoff=1) > 1:
        return False
    return any(
        q != c
        and min(len(q), len(c)) >= ONE_TYPO_EACH_MIN_LEN
        and OSA.distance(q, c, score_cutoff=1) <= 1
        for q in query.artists[: max(1, query.primary_count)]
        for c in candidate.artists
    )


def duration_score(delta: float | None) -> float | None:
    if delta is None:
        return None
    if delta <= DURATION_GRACE_S:
        return 100.0
    if delta >= DURATION_FULL_PENALTY_S:
        return 0.0
    span = DURATION_FULL_PENALTY_S - DURATION_GRACE_S
    return 100.0 * (1 - (delta - DURATION_GRACE_S) / span)


def score_pair(
    query: TrackSide,
    candidate: TrackSide,
    thresholds: Thresholds,
    *,
    identifier: str = "",
) -> Score | None:
    """The match between two records, or None when they are not the same song by the same artist.

    `identifier` names an identifier both sides share (e.g. "spotify:4uLU6hMCjMI75M1A2tKUQC"):
    the pair is then an identifier match whatever the names say, with the name scores kept as
    evidence.
    """
    rules: list[str] = []
    title = title_similarity(query, candidate)
    if title < thresholds.title_min and not identifier:
        return None  # most candidates found by the artist key end here, before artist scoring
    artist, artist_rule = artist_similarity(query, candidate)
    if artist_rule:
        rules.append(artist_rule)
    if title == 100.0 and artist < thresholds.artist_strong and not identifier:
        contained = contained_artist(query, candidate)
        if contained:
            artist = CONTAINED_SCORE
            rules.append(contained)

    delta: float | None = None
    if query.duration_s is not None and candidate.duration_s is not None:
        delta = abs(query.duration_s - candidate.duration_s)
    dur = duration_score(delta)
    album = album_similarity(query.album_key, candidate.album_key)

    if dur is None:
        confidence = 0.5 * title + 0.5 * artist
    else:
        confidence = 0.45 * title + 0.4 * artist + 0.15 * dur

    version_note = ""
    if query.version != candidate.version:
        version_note = (
            f"version: {query.version or 'original'} vs {candidate.version or 'original'}"
        )

    if identifier:
        rules.append(f"same identifier {identifier}")
        if artist < thresholds.artist_min or title < thresholds.title_min:
            rules.append("names disagree with the identifier: check the evidence")
        return Score(IDENTIFIER, 100, artist, title, delta, album, version_note, tuple(rules))

    title_typo = (
        artist == 100.0 and title < 100.0 and one_edit(query.title_key, candidate.title_key)
    )
    artist_typo = (
        title == 100.0
        and artist < thresholds.artist_strong
        and any(
            one_edit(q, c) or one_edit(q, "the " + c)  # keys drop a leading "the"
            for q in query.artists[: max(1, query.primary_count)]
            for c in candidate.artists
        )
    )
    if artist < thresholds.artist_min and not artist_typo:
        return None  # same title by someone else is a cover, not this recording
    if title < thresholds.title_min:
        return None
    number_on_one_side = False
    alike = title == WRITTEN_ALIKE_SCORE and title_written_alike(
        query.title_key
    ) == title_written_alike(candidate.title_key)
    if alike:
        rules.append("titles agree once written alike (a leading 'the', numbers in words, 'wanna')")
    if query.title_key != candidate.title_key and not alike:
        q_numbers = title_numbers(query.title_key)
        c_numbers = title_numbers(candidate.title_key)
        if q_numbers != c_numbers:
            if q_numbers and c_numbers:
                return None  # "Vol. 52" is not "Vol. 53", "Part 1" is not "Part 2"
            number_on_one_side = True
            rules.append(
                "number on one side only: "
                + " ".join(q_numbers or c_numbers)
                + " (different part or work?)"
            )
            title = min(title, float(thresholds.strong - 1))

    if version_note:
        rules.append(version_note)
        if artist >= thresholds.artist_strong and title >= thresholds.strong:
            # Same song and artist, another recording: reported, but never as confident.
            return Score(
                VERSION,
                min(round(confidence), thresholds.strong - 1),
                artist,
                title,
                delta,
                album,
                version_note,
                tuple(rules),
            )
        confidence = min(confidence, thresholds.possible)
        kind = POSSIBLE
    elif delta is not None and delta > DURATION_FULL_PENALTY_S:
        rules.append(f"duration differs by {delta:.0f} s")
        kind = POSSIBLE
    elif artist == 100.0 and title == 100.0 and (dur is None or dur == 100.0):
        kind = EXACT  # the same recording: names agree, and durations too where both have one
        confidence = 100.0
    elif artist == 100.0 and title == 100.0:
        # Names agree but the lengths do not (5-30 s): maybe another edit, so not `exact`.
        rules.append(f"duration differs by {delta:.0f} s")
        kind = STRONG
    elif artist >= thresholds.artist_strong and title >= thresholds.strong:
        kind = STRONG
    elif title_typo:
        rules.append("one typo in the title forgiven: the artist agrees exactly")
        kind = STRONG
        confidence = max(confidence, float(thresholds.strong))
    elif artist_typo:
        rules.append("one typo in the artist forgiven: the title agrees exactly")
        kind = STRONG
        confidence = max(confidence, float(thresholds.strong))
    elif not number_on_one_side and one_typo_each(query, candidate):
        rules.append("one typo in the artist and one in the title forgiven")
        kind = STRONG
        confidence = max(confidence, float(thresholds.strong))
    else:
        kind = POSSIBLE

    conf = round(confidence)
    if kind == POSSIBLE:
        conf = min(conf, thresholds.strong - 1)
        if conf < thresholds.possible:
            return None
    return Score(kind, conf, artist, title, delta, album, version_note, tuple(rules))


K = TypeVar("K", int, str)

# one_edit(a, b) on keys of at least ONE_EDIT_MIN_LEN characters implies fuzz.ratio(a, b) of at
# least this: one edit is at most two insertions/deletions over 2 * ONE_EDIT_MIN_LEN characters.
ONE_EDIT_RATIO_FLOOR = 100.0 * (1 - 2 / (2 * ONE_EDIT_MIN_LEN))


class Screen:
    """Necessary conditions of `score_pair` for one query, checked on a candidate's stored
    columns before any TrackSide is built: a candidate that fails them cannot be a match.

    A chunk's candidates are mostly tracks that share the row's title key but are by another
    artist (covers, other songs of the same name) or share its artist but not its title; they
    fail here at the cost of a dictionary lookup, since the checks are cached per title key and
    per stored artist list. The conditions follow `score_pair` step by step:
    - the title similarity must reach `title_min` (computed exactly, as `title_similarity`);
    - the artist similarity must reach `artist_min`, or the artist typo rule must be possible:
      one edit between keys of 4+ characters implies a `fuzz.ratio` of at least
      ONE_EDIT_RATIO_FLOOR, so the bound is the lower of the two, also tried against "the " +
      the candidate's name when the titles agree exactly (the typo rule's other form).
    An identifier match skips the screen. Property-tested against `score_pair`.
    """

    __slots__ = ("_artists", "_cut", "_joined", "_prims", "_query", "_title_min", "_titles")

    def __init__(self, query: TrackSide, thresholds: Thresholds) -> None:
        self._query = query
        self._title_min = thresholds.title_min
        self._cut = min(float(thresholds.artist_min), ONE_EDIT_RATIO_FLOOR)
        prims = query.artists[: max(1, query.primary_count)]
        self._joined = " ".join(prims)
        # A band credit's lead is compared too (the band rule of artist_similarity).
        leads = tuple(lead for lead in map(band_lead, prims) if lead and lead not in prims)
        self._prims = prims + leads
        self._titles: dict[str, float] = {}
        self._artists: dict[tuple[str, bool], bool] = {}

    def title(self, title_key: str) -> float:
        """The title similarity `score_pair` computes, cached per candidate title key."""
        found = self._titles.get(title_key)
        if found is None:
            q = self._query.title_key
            found = _similar_titles(q, title_key)
            self._titles[title_key] = found
        return found

    def passes(self, title_key: str, artists_norm: str) -> bool:
        """False when a candidate with these stored columns cannot be a match of the query."""
        return bool(self.keep([(0, title_key, artists_norm)]))

    def keep(self, candidates: Iterable[tuple[K, str, str]]) -> list[K]:
        """The keys of the (key, title key, stored artists) candidates that may be matches.

        Grouped by stored artists, not in the order given (the ranking sorts anyway).
        """
        title_min = self._title_min
        titles = self._titles
        todo: dict[tuple[str, bool], list[K]] = {}
        for key, title_key, artists_norm in candidates:
            title = titles.get(title_key)
            if title is None:
                title = self.title(title_key)
            if title >= title_min:
                todo.setdefault((artists_norm, title == 100.0), []).append(key)
        verdicts = self._artists
        unknown = [k for k in todo if k not in verdicts]
        if unknown:
            passing = self._artists_pass([s for s, _ in unknown], [e for _, e in unknown])
            for j, k in enumerate(unknown):
                verdicts[k] = j in passing
        return [key for k, keys in todo.items() if verdicts[k] for key in keys]

    def keep_titled(
        self, title_key: str, keys: Sequence[K], artists_norms: Sequence[str]
    ) -> list[K]:
        """`keep` for candidates that all have `title_key` (a title block: most candidates),
        without per-candidate bookkeeping: one title check, then the artists in one batch."""
        title = self.title(title_key)
        if title < self._title_min or not keys:
            return []
        passing = self._artists_pass(artists_norms, title == 100.0)
        return [keys[j] for j in sorted(passing)]

    def _artists_pass(self, stored: Sequence[str], exact_title: Sequence[bool] | bool) -> set[int]:
        """The indices of the stored artist lists for which the artist check can pass;
        `exact_title` per list, or one value for all.

        Every credited name of every list goes into one flat list, compared with each of the
        query's primary names in one rapidfuzz call (process.extract_iter); the primary names
        of each list, joined, likewise with the query's joined primaries. The first name of
        list j is at index j, further names (lists of several credits) after all first names.
        """
        cut = self._cut
        if cut <= 0:
            return set(range(len(stored)))  # thresholds that let any artist through
        if not self._prims:
            return set()  # artist similarity 0 and no typo to forgive
        names = [one[:-2] for one in stored]  # right for "name||": one credit, most lists
        joined = names[:]  # per list: its primary names joined, as artist_similarity does
        owner = list(range(len(names)))  # index in `stored` of each name's list
        several = [j for j, one in enumerate(stored) if one.count("|") != 2 or one[-2:] != "||"]
        for j in several:
            artists, primary_count = parse_artists_norm(stored[j])
            names[j] = artists[0] if artists else ""
            joined[j] = " ".join(artists[: max(1, primary_count)]) if artists else ""
            names.extend(artists[1:])
            owner.extend([j] * (len(artists) - 1))
        # The leads of band credits, as more names of their lists (the band rule).
        for i in range(len(names)):
            lead = band_lead(names[i])
            if lead:
                names.append(lead)
                owner.append(owner[i])
        ok: set[int] = set()
        for q in self._prims:
            ok.update(
                owner[i]
                for _, _, i in process.extract_iter(q, names, scorer=fuzz.ratio, score_cutoff=cut)
            )
        ok.update(
            j
            for _, _, j in process.extract_iter(
                self._joined, joined, scorer=fuzz.token_sort_ratio, score_cutoff=cut
            )
            if joined[j]
        )
        # A name inside a longer credit (contained_artist), for titles that agree exactly.
        for i, name in enumerate(names):
            j = owner[i]
            if (
                j in ok
                or not name
                or not (exact_title is True or (exact_title is not False and exact_title[j]))
            ):
                continue
            if any(_name_leads(q, name) or _name_leads(name, q) for q in self._prims):
                ok.add(j)
        # The typo rule's "the " form, for titles that agree exactly.
        if exact_title is True:
            the = [i for i, name in enumerate(names) if name]
        elif exact_title is False:
            the = []
        else:
            the = [i for i, j in enumerate(owner) if exact_title[j] and names[i]]
        if the:
            with_the = ["the " + names[i] for i in the]
            for q in self._prims:
                ok.update(
                    owner[the[n]]
                    for _, _, n in process.extract_iter(
                        q, with_the, scorer=fuzz.ratio, score_cutoff=cut
                    )
                )
        return ok


# Picard calls a best candidate within 0.02 of the runner-up ambiguous; on our 0-100 scale, 2.
AMBIGUITY_MARGIN = 2
_KIND_RANK = {IDENTIFIER: 5, EXACT: 4, STRONG: 3, VERSION: 2, POSSIBLE: 1}


def kind_rank(kind: str) -> int:
    return _KIND_RANK.get(kind, 0)


def rank_candidates(
    query: TrackSide,
    candidates: Iterable[tuple[K, TrackSide, str]],
    thresholds: Thresholds,
) -> list[tuple[Score, K]]:
    """Score every (id, side, shared identifier) candidate; the matches, best first.

    Ties are broken by the candidate id so the order never depends on fetch order.
    """
    scored: list[tuple[Score, K]] = []
    for key, side, identifier in candidates:
        score = score_pair(query, side, thresholds, identifier=identifier)
        if score is not None:
            scored.append((score, key))
    scored.sort(key=lambda sk: (-kind_rank(sk[0].kind), -sk[0].confidence, sk[1]))
    return scored


def ambiguity_note(
    best: Score, best_side: TrackSide, runner_up: Score, runner_side: TrackSide
) -> str:
    """A rule for the best match when the runner-up, another song, scores almost as well.

    Two copies of the same recording (same normalized artist, title and version) are not
    ambiguous; an identifier match never is.
    """
    if best.kind == IDENTIFIER or kind_rank(best.kind) != kind_rank(runner_up.kind):
        return ""
    if (best_side.artist_key, best_side.title_key, best_side.version) == (
        runner_side.artist_key,
        runner_side.title_key,
        runner_side.version,
    ):
        return ""
    if best.confidence - runner_up.confidence > AMBIGUITY_MARGIN:
        return ""
    return (
        f"ambiguous: the runner-up scores {runner_up.confidence} against {best.confidence} "
        f"(within {AMBIGUITY_MARGIN} points): check which one it is"
    )
