"""The readings of one dataset track: who performs what, as its credit and its title say.

A YouTube row credits a channel (`monelle`, `Bethlehem Records`, `jazzonly100`) and very often
writes the performer into the video title: `Fred Neil - A Little Bit of Rain`, `The Scientist -
Aimee Mann`, `THE GREEN DOOR by Jim Lowe 1956`. A track therefore has its **credited** reading
(the credit and the title as given: what `prepare` has always stored) and, when its title has
one of these shapes, up to two more (artist, title) readings, each prepared like any record, so
that each has its own blocking keys and is scored on its own. The names say which shape:

- `title_split`: `Artist - Title`, `Artist-Title`, `Artist- Title`, parts set apart by two or
  more spaces (`Lloyd Price   I Cried For You`); track numbers (`9`, `#11`) are left out, the
  parts after the title are an album or a place (`The Violet Burning - 9 - Eleanor Rigby -
  Strength (1992)`), kept only when they are version tags (`- Live`);
- `title_split_reversed`: the same parts, title first (`The Scientist - Aimee Mann`);
- `by`: `Title by Artist` (`THE GREEN DOOR by Jim Lowe 1956`, `Hallejulah (Acoustic) by Steve Acho
  on iTunes`), upload noise after the artist cut off;
- `quoted`: a title in double quotes with the artist before or after it (`Dwight Twilley "Old
  Time Rock and Roll" (Bob Seger cover)`, `"Just A Closer Walk With Thee" by Brook Benton`).

At most MAX_READINGS per track, the credited one first; most tracks (a plain title, or an
`Artist - Title` whose artist is the credit, which the credited reading already splits) have one.
Pure Python, no Django.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from matcher.engine.keys import KEY_MAX, Prepared, TrackSide, cover_role, names_one, prepare
from matcher.engine.normalize import classify_tag, name_key

__all__ = [
    "CREDITED",
    "MAX_READINGS",
    "RUN_TOGETHER",
    "Reading",
    "describe",
    "extra_readings",
    "run_together_keys",
    "run_together_side",
    "track_readings",
]

CREDITED = "credited"
TITLE_SPLIT = "title_split"
TITLE_SPLIT_REVERSED = "title_split_reversed"
TITLE_SPLIT_BARE = "title_split_bare"
BY = "by"
QUOTED = "quoted"
COVER_PERFORMER = "cover_performer"
# Not stored: a reading made at match time for one catalog row (run_together_keys).
RUN_TOGETHER = "run_together"
MAX_READINGS = 3  # every extra reading is an index row: at 12M rows, keep them few


class Reading(NamedTuple):
    """One reading of a track: its name, the (artist, title) text read, and the prepared form."""

    name: str
    artist: str
    title: str
    prepared: Prepared

    @property
    def side(self) -> TrackSide:
        return self.prepared.side


# A title worth reading further has a dash, a run of spaces, a lowercase " by ", a quote, a
# tilde, a colon, a double slash or an underscore between words, or starts in capitals.
_SIGNAL = re.compile(r"-|\s{2}| by |\"| BY |~|: |//| / |[^\W_]_[^\W_]|^[A-Z]{2,}[\s.]")
_BRACKETED = re.compile(r"[\(\[][^\(\)\[\]]*[\)\]]")
# Separators between artist and title: a dash with a space on either side (or both), a run of
# two or more spaces, " / ", "//", "--", "~", ": ", an underscore between words.
_SPACED_SEP = re.compile(
    r"\s+-+\s*|\s*-+\s+|\s{2,}|\s*/{1,2}\s+|\s+/{2}\s*|(?<=\w)--+(?=\w)|\s*~+\s*"
    r"|(?<=[^\W\d_]):\s+|(?<=[^\W_])_+(?=[^\W_])"
)
# "FATS DOMINO I'm Walking", "IRENE REID save your love for me": a name in capitals, then a
# title that is not.
_CAPS_LEAD = re.compile(r"^((?:[A-Z][A-Z.'&]+\s+){1,4})(?=[A-Za-z]\S*[a-z])")
# A year, record format or "with lyrics" ending a part (`A Sunday Kind Of Love 1961`).
_PART_NOISE = re.compile(
    r"(?:[\s,]+(?:\(|\[)?(?:c\.?\s?|ca\.?\s?)?'?(?:19|20)\d\d(?:\)|\])?\.?"
    r"|\s+(?:with|w/)\s*lyrics)\s*$",
    re.I,
)
# A video file's extension ending a part (`the girl can't help it 1970.wmv`), cut before the
# year before it is (since score-6).
_FILE_EXTENSION = re.compile(r"\.(?:wmv|flv|mp4|m4v|avi|mov|mpg|mpeg|3gp|mkv|webm|mp3)\s*$", re.I)
# "Jim Ed Brown-Have I Told You Lately": one hyphen between a letter and a capital, no space.
_TIGHT_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[A-Z])")
_TRACK_NUMBER = re.compile(r"^\s*(?:#|no\.?\s*|track\s*)?\d{1,3}\.?\s*$", re.IGNORECASE)
_YEAR_ONLY = re.compile(r"^\s*[\(\[]?(?:19|20)\d\d[\)\]]?\s*$")
# After the artist of "Title by Artist": where the artist's name ends.
_ARTIST_END = re.compile(
    r"\s+(?:on|from|at|in|live|recorded|with lyrics|w/)\b.*$|\s*[\(\[\|].*$|\s+-\s.*$"
    r"|\s+'?(?:19|20)?\d\d\b.*$|[.!,]+\s*$|\.\w{2,4}$",
    re.IGNORECASE,
)
_BY = re.compile(r"^(?P<title>.*?\S)\s+(?:by|BY)\s+(?P<artist>\S.*)$")
# Words before " by " that describe the upload, not the title: "sung by", "performed by".
_BY_LEAD = re.compile(
    r"\s*(?:-\s*)?(?:(?:as\s+)?(?:sung|performed|played|recorded|arranged|covered|cover)"
    r"(?:\s+and\s+recorded)?|acoustic cover|a cappella|cover)\s*$",
    re.IGNORECASE,
)
_QUOTED = re.compile(r'^(?P<before>[^"]*)"(?P<title>[^"]+)"(?P<after>[^"]*)$')
_RECORDING_OF = re.compile(r"\s+(?:recording|version|performance|rendition)\s+of\s*$", re.I)
_TRAILING_BRACKETS = re.compile(r"^(?:\s*[\(\[][^\(\)\[\]]*[\)\]])+")
_MAX_ARTIST_WORDS = 8


def _mask_brackets(text: str) -> str:
    """`text` with every bracketed span's inside replaced by underscores (same length), so that
    separators inside brackets (`(Arjen Lucassen - Bob Dylan cover)`) do not split."""
    if "(" not in text and "[" not in text:
        return text
    return _BRACKETED.sub(
        lambda m: m.group(0)[0] + "_" * (len(m.group(0)) - 2) + m.group(0)[-1], text
    )


def _parts(title: str) -> list[str]:
    """The artist/title parts of a title, track numbers and bare years left out."""
    masked = _mask_brackets(title)
    cuts = [(m.start(), m.end()) for m in _SPACED_SEP.finditer(masked.strip())]
    text = title.strip()
    if not cuts:
        caps = _CAPS_LEAD.match(text)
        if caps and not text.isupper():
            return [caps.group(1).strip(), _PART_NOISE.sub("", text[caps.end() :]).strip()]
        tight = list(_TIGHT_HYPHEN.finditer(masked.strip()))
        if len(tight) != 1:
            return []
        at = tight[0].start()
        left, right = text[:at], text[at + 1 :]
        # "Spider-Man", "Jay-Z": a name, not two parts; one side must be several words.
        if " " not in left.strip() and " " not in right.strip():
            return []
        cuts = [(at, at + 1)]
    parts: list[str] = []
    pos = 0
    for start, end in cuts:
        parts.append(text[pos:start])
        pos = end
    parts.append(text[pos:])
    return [
        _PART_NOISE.sub("", _FILE_EXTENSION.sub("", p)).strip(" -~:_/")
        for p in parts
        if p.strip(" -~:_/") and not _TRACK_NUMBER.match(p) and not _YEAR_ONLY.match(p)
    ]


def _is_name(text: str) -> bool:
    words = text.split()
    return 0 < len(words) <= _MAX_ARTIST_WORDS and any(c.isalpha() for c in text)


def _with_tags(title: str, later: Sequence[str]) -> str:
    """The title, followed by those later parts that are version tags (`- Live`), which
    must still count; an album or place name after the title is left out."""
    tags = [p for p in later if classify_tag(p) is not None]
    return " - ".join([title, *tags]) if tags else title


_MEDIA_PART = re.compile(r"^from\s+(?:the\s|[\"'])", re.IGNORECASE)


def _is_tag(part: str) -> bool:
    """Whether a ` - ` part is a version tag and not a name or a title: `Remastered 2016`,
    `Sidney Samson Remix`, `from the series Arcane`; not `Walk On The Wild Side (Lou Reed
    Cover)` nor `From This Moment On`."""
    if "(" in part or "[" in part:
        return False
    found = classify_tag(part)
    if not found:
        return False
    for category, kind, _ in found:
        if category == "differs" and kind == "cover":
            return False
        if category == "differs" and kind == "from_media" and not _MEDIA_PART.match(part):
            return False
    return True


_BRACKETED_COVER = re.compile(r"[\(\[]([^\(\)\[\]]*\bcover(?:ed)?\b[^\(\)\[\]]*)[\)\]]", re.I)
_COVER_WORD = re.compile(r"\bcover(?:ed)?\b", re.I)
_COVER_SEP = re.compile(rf"{_SPACED_SEP.pattern}|\s+\|+\s*")


def _cover_performer(title: str, credit: str) -> list[tuple[str, str, str]]:
    """Readings of a cover upload that names its own performer: `OneRepublic - Apologize (Cover
    by Corey Gray)`, `See You Again - Wiz Khalifa ft. Charlie Puth (Kina Grannis Cover)` on the
    channel `Kina Grannis`, `Uptown Funk - Mark Ronson / Bruno Mars - Cover by Pomplamoose`.

    The performer is the name after "cover by", or the name before "cover" when it is the
    channel's (a channel names itself; `(Bob Dylan cover)` on another channel names the original
    artist, and gives no reading here). Each other part of the title is read as the song,
    credited to the performer, with the tag kept as "cover by <performer>" so that the
    performer's own recording has no cover version and other words (`Acoustic`) still count.
    """
    tag, rest = "", title
    m = _BRACKETED_COVER.search(title)
    if m:
        tag, rest = m.group(1), title[: m.start()] + " " + title[m.end() :]
    else:
        masked = _mask_brackets(title)
        cuts = [(c.start(), c.end()) for c in _COVER_SEP.finditer(masked)]
        if cuts and _COVER_WORD.search(masked[cuts[-1][1] :]):
            tag, rest = title[cuts[-1][1] :], title[: cuts[-1][0]]
    if not tag:
        return []
    role, who = cover_role(tag.strip())
    if not who or not _is_name(who):
        return []
    if role != "performer" and not (credit and names_one(who, [name_key(credit)])):
        return []
    words = " ".join(_COVER_WORD.split(tag.replace(who, " "), maxsplit=1)[0].split())
    note = f"(cover by {who})" + (f" ({words})" if words else "")
    rest = rest.replace(" | ", " - ")
    songs = _parts(rest) or [rest.strip(" -~:_/|")]
    found = []
    for song in songs:
        if song and not names_one(song, [who]) and classify_tag(song) is None:
            found.append((COVER_PERFORMER, who, f"{song} {note}"))
    return found[:2]


def _candidates(title: str, credit: str = "") -> list[tuple[str, str, str]]:
    """(name, artist, title) texts the title supports, most telling first."""
    found: list[tuple[str, str, str]] = []
    if _COVER_WORD.search(title):
        found += _cover_performer(title, credit)
    masked = _mask_brackets(title)
    m = _QUOTED.match(masked)
    if m:
        before = title[: m.start("title") - 1]
        quoted = title[m.start("title") : m.end("title")]
        after = title[m.end("title") + 1 :]
        tail = _TRAILING_BRACKETS.match(after)
        tags = tail.group(0) if tail else ""
        artist = _RECORDING_OF.sub("", before).strip(" -:,")
        if not artist:
            by = re.match(r"^\s*[-,]?\s*(?:by|BY)\s+(.+)$", after[len(tags) :])
            artist = _ARTIST_END.sub("", by.group(1)).strip() if by else ""
        if _is_name(artist) and quoted.strip():
            found.append((QUOTED, artist, f"{quoted.strip()} {tags.strip()}".strip()))
    by_word = " by " in masked or (" BY " in masked and masked.isupper())
    m = _BY.match(masked) if by_word else None
    if m:
        head = title[: m.end("title")]
        artist = _ARTIST_END.sub("", title[m.start("artist") :]).strip()
        head = _BY_LEAD.sub("", head).strip(" -,")
        if head and _is_name(artist) and not artist.lower().startswith("the number"):
            found.append((BY, artist, head))
    parts = _parts(title)
    # A part that is a version tag (`- Remastered 2016`, `- Sidney Samson Remix`, `- from the
    # series Arcane`) is neither the artist nor the title: it stays with the title.
    tag_parts = [p for p in parts if _is_tag(p)]
    names = [p for p in parts if p not in tag_parts]
    if len(names) >= 2:
        first, second, later = names[0], names[1], names[2:]
        if _is_name(first):
            found.append((TITLE_SPLIT, first, _with_tags(second, [*later, *tag_parts])))
            bare = _bare(second)
            if bare:
                found.append((TITLE_SPLIT_BARE, first, _with_tags(bare, [*later, *tag_parts])))
        if _is_name(second):
            found.append((TITLE_SPLIT_REVERSED, second, _with_tags(first, [*later, *tag_parts])))
    return found


_TRAILING_BRACKET = re.compile(r"\s*[\(\[]([^\(\)\[\]]*)[\)\]]\s*$")


def _bare(title: str) -> str:
    """The title without the bracketed notes that end it and are no version tag
    (`In Between Days (The Cure)`, `Four Walls (Vinyl)`), or "" when it has none."""
    bare = title
    while True:
        m = _TRAILING_BRACKET.search(bare)
        if not m or m.start() == 0 or classify_tag(m.group(1)) is not None:
            break
        bare = bare[: m.start()]
    return bare.strip() if bare != title and bare.strip() else ""


def track_readings(
    *,
    artists: str | Sequence[str],
    title: str,
    version: str = "",
    album: str = "",
    duration_s: float | None = None,
) -> list[Reading]:
    """Every reading of one dataset track, the credited one first (same arguments as `prepare`).

    The credited reading is `prepare(...)` itself, at the same cost; further readings are tried
    only when the title has a separator, a lowercase `by` or a quote, and only when the credited
    reading did not already split a credited artist off the title (an `Artist - Title` split
    only on the title's YouTube shape still gets its readings).
    """
    credited = prepare(
        artists=artists, title=title, version=version, album=album, duration_s=duration_s
    )
    credit = artists if isinstance(artists, str) else "; ".join(artists)
    return [
        Reading(CREDITED, credit, title, credited),
        *extra_readings(
            artists=artists,
            title=title,
            credited=credited,
            version=version,
            album=album,
            duration_s=duration_s,
        ),
    ]


def extra_readings(
    *,
    artists: str | Sequence[str],
    title: str,
    credited: Prepared,
    version: str = "",
    album: str = "",
    duration_s: float | None = None,
) -> list[Reading]:
    """The readings of a track besides its credited one, whose `prepare()` the caller has
    already (`credited`): the importer stores these, the track itself holds the credited one."""
    if not title or not _SIGNAL.search(title):
        return []
    in_title = credited.title.artist_in_title
    if in_title and any(
        in_title in name or name in in_title
        for name in (*credited.artists.primary, *credited.artists.featured)
    ):
        return []  # "Adele - Hello" credited to Adele: the credited reading split it
    seen = {(credited.side.artist_key, credited.side.title_key, credited.side.version)}
    extra: list[Reading] = []
    credit = artists if isinstance(artists, str) else (artists[0] if artists else "")
    for name, artist, text in _candidates(title, credit):
        prepared = prepare(
            artists=artist, title=text, version=version, album=album, duration_s=duration_s
        )
        side = prepared.side
        key = (side.artist_key, side.title_key, side.version)
        if not side.artist_key or not side.title_key or key in seen:
            continue
        seen.add(key)
        extra.append(Reading(name, artist, text, prepared))
        if len(extra) == MAX_READINGS - 1:
            break
    return extra


def run_together_keys(side: TrackSide) -> dict[str, str]:
    """The title keys of a dataset track whose title is this catalog row's artist and title run
    together with no separator, each with the artist it names.

    A YouTube upload often titles a recording `Dollar I Wanna Hold Your Hand` (channel
    `MrBeatlesCovers`) or `for the good times Irma Thomas`: nothing in the title says where the
    artist ends, so no stored reading can split it, but the catalog row knows both halves. For
    each primary artist (and, for several, the credit written whole: `brian and tony gold`),
    with and without a leading "the", the artist before and after the title. Empty for a title
    key of one character or a title that is the artist's own name (`Madonna` by Madonna).
    """
    title = side.title_key
    if len(title) < 2:
        return {}
    primary = [a for a in side.artists[: side.primary_count] if a]
    credits = primary + ([" and ".join(primary)] if len(primary) > 1 else [])
    keys: dict[str, str] = {}
    for artist in credits:
        if artist == title:
            continue
        written = [artist] if artist.startswith("the ") else [artist, f"the {artist}"]
        for name in written:
            for key in (f"{name} {title}", f"{title} {name}"):
                keys.setdefault(key[:KEY_MAX], artist)
    return keys


def run_together_side(query: TrackSide, candidate: TrackSide, artist: str) -> TrackSide:
    """A dataset track found by one of `run_together_keys(query)`, read as that artist's
    recording of the row's title: the track's version, duration and album are kept, so a
    `(Live)` upload is still a live recording."""
    primary = tuple(a for a in query.artists[: query.primary_count] if a)
    names = primary if len(primary) > 1 and artist == " and ".join(primary) else (artist,)
    return candidate._replace(
        artist_key=artist, title_key=query.title_key, artists=names, primary_count=len(names)
    )


# How a reviewer reads each reading's name (the evidence page).
LABELS = {
    CREDITED: "as credited",
    TITLE_SPLIT: "artist and title both read from the title (Artist - Title)",
    TITLE_SPLIT_REVERSED: "artist and title both read from the title, title first",
    BY: "artist and title read from the title (Title by Artist)",
    QUOTED: "the quoted title and the artist beside it, read from the title",
    TITLE_SPLIT_BARE: "artist and title both read from the title (Artist - Title), the "
    "bracketed notes after the title left out",
    COVER_PERFORMER: "a cover that names its performer: the performer and the song, read from "
    "the title",
    RUN_TOGETHER: "the dataset title is this row's artist and title run together, with no "
    "separator (read for this row only)",
}


def describe(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))
