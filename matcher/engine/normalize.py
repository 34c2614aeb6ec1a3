"""Music-aware normalization of artist credits and track titles into comparison keys.

Pure Python (no Django): runs on every dataset row at import and on every catalog row at match time.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from anyascii import anyascii

__all__ = [
    "NORMALIZER_VERSION",
    "Artists",
    "Title",
    "VersionInfo",
    "classify_tag",
    "fold",
    "name_key",
    "normalize_artists",
    "normalize_title",
    "split_credits",
    "translit",
]

# Bump whenever any rule below changes an output: keys stored at import carry this version.
NORMALIZER_VERSION = "3"  # 3: upload noise (years, catalogue and track numbers, w/Lyrics)

# --------------------------------------------------------------------------------------------
# Character-level folding
# --------------------------------------------------------------------------------------------

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
# Applied to display text too, so only unambiguous look-alikes are mapped.
_CHAR_MAP = str.maketrans(
    {
        **dict.fromkeys(_ZERO_WIDTH, None),
        "\u00a0": " ",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u3010": "[",
        "\u3011": "]",
        "\u3014": "[",
        "\u3015": "]",
        "\u3016": "[",
        "\u3017": "]",
        "\uff08": "(",
        "\uff09": ")",
        "\uff3b": "[",
        "\uff3d": "]",
    }
)
# Python's \w treats combining vowel signs of Indic and South-East Asian scripts as non-word
# characters, which would cut words apart; keep those blocks (and combining marks) whole.
_KEEP_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u0900-\u0dff\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3099\u309a"
)
_NON_WORD = re.compile(rf"(?:[^\w{_KEEP_MARKS}]|_)+")
# ASCII fast path: str.translate with a 1-byte table is several times faster than a regex sub.
_ASCII_PUNCT = str.maketrans(dict.fromkeys("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\t\n\r\x0b\x0c", " "))
_NON_ALNUM_ASCII = re.compile(r"[^a-z0-9]+")
_APOSTROPHES = re.compile(r"(?<=\w)'(?=\w)|'")
# "D.R.A.M." -> "dram", "R. Kelly" -> "r kelly": dots inside initialisms are dropped.
_INITIAL_DOT = re.compile(r"(?<=\b\w)\.(?=\w\b)")
_DOLLAR = re.compile(r"(?<=[^\W\d_])\$|\$(?=[^\W\d_])")  # A$AP, Ke$ha, $uicideboy$
_BANG = re.compile(r"(?<=[^\W\d_])!(?=[^\W\d_])")  # P!nk


def _clean_chars(text: str) -> str:
    """Display-safe cleanup: HTML entities, zero-width and smart punctuation, NBSP."""
    if "&" in text and ";" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = text.translate(_CHAR_MAP)
    elif "`" in text:
        text = text.replace("`", "'")
    return text


def fold(text: str) -> str:
    """NFKC, casefold, zero-width chars removed, smart quotes/dashes to ASCII, '&' -> 'and',
    punctuation to space, whitespace collapsed; keeps the original script."""
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text.translate(_CHAR_MAP))
    text = text.casefold()
    if "&" in text:
        text = text.replace("&", " and ")
    if "'" in text or "`" in text:
        text = _APOSTROPHES.sub("", text.replace("`", "'"))
    if "." in text:
        text = _INITIAL_DOT.sub("", text)
    if "$" in text:
        text = _DOLLAR.sub("s", text)
    if "!" in text:
        text = _BANG.sub("i", text)
    if text.isascii():
        return " ".join(text.translate(_ASCII_PUNCT).split())
    return _NON_WORD.sub(" ", text).strip()


# Cache sizes: measured on 1M generated LAION rows (docs/benchmarks.md), caches 8x smaller than
# before normalized as fast (36.5k against 35.0k rows per CPU-second: names and titles at that
# scale rarely repeat within a cache's reach) and kept each import worker ~80 MB smaller.
@lru_cache(maxsize=8192)
def _anyascii_folded(folded: str) -> str:
    out = _NON_ALNUM_ASCII.sub(" ", anyascii(folded).lower()).strip()
    return out or folded


def _translit_folded(folded: str) -> str:
    # fold() output that is ASCII is already [a-z0-9 ]; skip the transliteration table.
    if folded.isascii():
        return folded
    return _anyascii_folded(folded)


def translit(text: str) -> str:
    """fold() then anyascii, keep [a-z0-9 ] only, collapsed. Never returns '' when fold(text)
    had any letter/digit: falls back to fold(text) (e.g. '!!!' band name -> keep something
    stable)."""
    return _translit_folded(fold(text))


def name_key(text: str) -> str:
    """The comparison key of one artist name (public form of the rule used for credits)."""
    return _name_key(text)


def _name_key(text: str) -> str:
    """Comparison key of an artist name: translit, leading 'the' dropped, never empty."""
    key = translit(text)
    if key.startswith("the ") and len(key) > 4:
        key = key[4:]
    if not key:
        # "!!!" has no letter or digit at all: keep the symbols so the band still has a key.
        key = " ".join(text.casefold().split())
    return key


# --------------------------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------------------------


# Value classes are NamedTuples: immutable like frozen dataclasses, but built several times
# faster (a frozen dataclass sets each field through object.__setattr__), which showed at
# three of them per dataset row: ~3 of the 10 us of the simplest row's prepare().


class VersionInfo(NamedTuple):
    """Version tags found in a title, split into other-recording kinds and same-recording tags."""

    differs: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    same: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "+".join(self.differs)


class Artists(NamedTuple):
    raw: str
    names: tuple[str, ...]
    primary: tuple[str, ...]
    featured: tuple[str, ...]
    key: str
    rules: tuple[str, ...]


class Title(NamedTuple):
    raw: str
    display: str
    key: str
    script_key: str
    featured: tuple[str, ...]
    artist_in_title: str
    version: VersionInfo
    rules: tuple[str, ...]


_NO_VERSION = VersionInfo()

# --------------------------------------------------------------------------------------------
# Artists
# --------------------------------------------------------------------------------------------

# Names that contain a credit separator but are one act. Matched on fold(); kept whole.
KNOWN_NAMES: tuple[str, ...] = (
    "10,000 Maniacs",
    "Above & Beyond",
    "Ashford & Simpson",
    "Belle & Sebastian",
    "Big & Rich",
    "Blood, Sweat & Tears",
    "Brooks & Dunn",
    "Captain & Tennille",
    "Chase & Status",
    "Chloe x Halle",
    "Crosby, Stills & Nash",
    "Crosby, Stills, Nash & Young",
    "Dan + Shay",
    "Earth, Wind & Fire",
    "Emerson, Lake & Palmer",
    "Eric B. & Rakim",
    "Hall & Oates",
    "Daryl Hall & John Oates",
    "Ike & Tina Turner",
    "Iron & Wine",
    "Jesse & Joy",
    "Kool & the Gang",
    "Love & Rockets",
    "Macklemore & Ryan Lewis",
    "Maddie & Tae",
    "Matt & Kim",
    "Mumford & Sons",
    "Nico & Vinz",
    "Peaches & Herb",
    "Peter, Paul and Mary",
    "Peter, Bjorn and John",
    "Sam & Dave",
    "Seals & Crofts",
    "Simon & Garfunkel",
    "Sonny & Cher",
    "Sublime With Rome",
    "Tyler, The Creator",
    "TOMORROW X TOGETHER",
    "Wisin & Yandel",
    "Years & Years",
    "Zion & Lennox",
    "Angus & Julia Stone",
    "Brandy & Monica",
    "Chip & Dale",
    "Hootie & the Blowfish",
    "Lisa Lisa & Cult Jam",
    "Marina & the Diamonds",
    "Sly & the Family Stone",
    "Echo & the Bunnymen",
    "Derek & the Dominos",
    "Jan & Dean",
    "Gerry & the Pacemakers",
    "Booker T. & the M.G.'s",
    "Martha & the Vandellas",
    "Smokey Robinson & the Miracles",
    "Tom Petty & the Heartbreakers",
    "Bob Marley & the Wailers",
    "Huey Lewis & the News",
    "Prince & the Revolution",
    "Florence + the Machine",
    "Mike + the Mechanics",
    "Various Artists",
)
_KNOWN_FOLDED = {fold(n): n for n in KNOWN_NAMES}
_KNOWN_RE = re.compile(
    "|".join(
        r"(?<!\w)" + re.escape(n).replace(r"\ ", r"\s+") + r"(?!\w)"
        for n in sorted(KNOWN_NAMES, key=len, reverse=True)
    ),
    re.IGNORECASE,
)

_FEAT_WORD = r"(?:feat\.?|ft\.|ft(?=\s)|featuring|feat(?=\s))"
# "(feat. X)" / "[with X]" anywhere in an artist string.
_ARTIST_FEAT_BRACKET = re.compile(
    rf"\s*[\(\[]\s*(?:{_FEAT_WORD}|(?:duet\s+)?with)\s+([^\)\]]+)[\)\]]", re.IGNORECASE
)
# Bare "A feat. B" / "A Duet With B" / "A With B": everything after is featured.
_ARTIST_FEAT_BARE = re.compile(
    rf"\s+(?:{_FEAT_WORD}|(?:duet\s+)?with|w/)\s+(.+)$",
    re.IGNORECASE,
)
_FEAT_LIST_SPLIT = re.compile(
    r"\s*(?:,|;|/|&|\+|\band\b|\bx\b|\bwith\b|\bvs\.?(?=\s)|\bversus\b)\s*", re.IGNORECASE
)
_PRIMARY_SPLIT_AMP_X = re.compile(r"\s+(?:&|x|X|vs\.?|versus|\u00d7)\s+")
_AMP_BAND = re.compile(
    r"^(?:the|his|her|their|los|las|les|friends|co\.?|company|band|orchestra)\b", re.IGNORECASE
)
_INVERTED_ARTICLE = re.compile(r"^(.+?),\s*(the|a|an)$", re.IGNORECASE)
_COMMA_SPLIT = re.compile(r"(?<!\d),|,(?!\d{3}\b)|,(?=\s)")
_CHANNEL_SUFFIX = re.compile(
    r"(?:\s+-\s+topic|\s*vevo|\s+official(?:\s+(?:channel|page|account|music))?"
    r"|\s*\(official\)|\s+-\s+official)\s*$",
    re.IGNORECASE,
)
_CHANNEL_ENDINGS = ("topic", "vevo", "official", "channel", "page", "account", "music", ")")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NEEDS_SPLIT = re.compile(r"[,;&/+\u00d7\(\[]|\s(?:x|vs|versus|feat|ft|featuring|with|w/)\b", re.I)


def _clean_name(name: str, rules: list[str]) -> str:
    name = " ".join(name.split()).strip(" ,;-")
    if not name:
        return ""
    if not name.lower().endswith(_CHANNEL_ENDINGS) and "," not in name:
        return name
    m = _CHANNEL_SUFFIX.search(name)
    if m and m.start() > 0:
        had_space = " " in name[: m.start()]
        suffix = name[m.start() :].strip()
        name = name[: m.start()].rstrip(" -")
        rules.append(f"channel suffix removed: {suffix}")
        if not had_space and suffix.lower().endswith("vevo"):
            # "TaylorSwiftVEVO" is the channel of "Taylor Swift".
            name = _CAMEL.sub(" ", name)
    m = _INVERTED_ARTICLE.match(name)
    if m and m.group(1).casefold() not in ("tyler", "sarah"):
        moved = f"{m.group(2)} {m.group(1)}"
        rules.append(f"article moved to front: {name!r} -> {moved!r}")
        name = moved
    return name


def _split_featured_list(text: str) -> list[str]:
    return [p for p in _FEAT_LIST_SPLIT.split(text) if p and p.strip()]


def _protect_known(text: str, rules: list[str]) -> tuple[str, list[str]]:
    """Replace known multi-word names with placeholders so separators inside them survive."""
    kept: list[str] = []

    def repl(m: re.Match[str]) -> str:
        kept.append(m.group(0))
        rules.append(f"known name kept whole: {m.group(0)}")
        return f"\x00{len(kept) - 1}\x00"

    return _KNOWN_RE.sub(repl, text), kept


def _restore(part: str, kept: list[str]) -> str:
    if "\x00" not in part:
        return part
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], part)


def _split_primary(text: str, rules: list[str]) -> list[str]:
    """Split a primary-credit string on ',', '&', ' x ', 'vs' conservatively (see docs)."""
    text, kept = _protect_known(text, rules)
    parts: list[str] = []
    m = _INVERTED_ARTICLE.match(text.strip())
    # "Beatles, The" is one name, not a list of two.
    chunks = [text] if m else _COMMA_SPLIT.split(text)
    comma_parts: list[str] = []
    for chunk in chunks:
        # "Tyler, The Creator"-like: a comma followed by "The ..." continues the name.
        if comma_parts and chunk.strip().lower().startswith("the "):
            comma_parts[-1] = f"{comma_parts[-1]}, {chunk.strip()}"
        else:
            comma_parts.append(chunk)
    for chunk in comma_parts:
        pieces = _PRIMARY_SPLIT_AMP_X.split(chunk)
        if len(pieces) == 1:
            parts.append(chunk)
            continue
        seps = _PRIMARY_SPLIT_AMP_X.findall(chunk)
        current = pieces[0]
        for sep, nxt in zip(seps, pieces[1:], strict=True):
            left_words, right_words = current.split(), nxt.split()
            same_word = bool(left_words and right_words) and (
                fold(left_words[-1]) == fold(right_words[0])
            )
            # "Kool & the Gang", "Years & Years": a band, not two credits.
            if sep.strip() == "&" and (_AMP_BAND.match(nxt) or same_word):
                current = f"{current}{sep}{nxt}"
            else:
                parts.append(current)
                current = nxt
        parts.append(current)
    if len(parts) > 1:
        rules.append("credits split on ',', '&', 'x' or 'vs'")
    return [_restore(p, kept) for p in parts]


def split_credits(raw: str) -> list[str]:
    """Display names of all credited artists (primary then featured) in credit order."""
    return list(normalize_artists(raw).names)


def _split_one(item: str, split_primary: bool, rules: list[str]) -> tuple[list[str], list[str]]:
    """One credit string -> (primary display names, featured display names)."""
    featured: list[str] = []
    if "(" in item or "[" in item:
        for bm in _ARTIST_FEAT_BRACKET.finditer(item):
            featured.extend(_split_featured_list(bm.group(1)))
        if featured:
            item = _ARTIST_FEAT_BRACKET.sub("", item)
    # fold() costs more than the search, and only matters when the search finds something
    m = _ARTIST_FEAT_BARE.search(item)
    if m and m.start() > 0 and fold(item) not in _KNOWN_FOLDED:
        featured.extend(_split_featured_list(m.group(1)))
        item = item[: m.start()]
    if featured:
        rules.append("featured artists separated")
    if not split_primary or fold(item) in _KNOWN_FOLDED:
        primary = [item]
    else:
        primary = _split_primary(item, rules)
    return primary, featured


@lru_cache(maxsize=16384)
def _normalize_artist_string(raw: str) -> Artists:
    return _normalize_artist_items(raw, None)


def _normalize_artist_items(raw: str, items: Sequence[str] | None) -> Artists:
    rules: list[str] = []
    primary_names: list[str] = []
    featured_names: list[str] = []
    if items is None:
        text = _clean_chars(raw)
        if not _NEEDS_SPLIT.search(text):
            name = _clean_name(text, rules)
            key = _name_key(name) if name else ""
            return Artists(
                raw, (name,) if name else (), (key,) if key else (), (), key, tuple(rules)
            )
        if ";" in text:
            # Spotify joins atomic names with ';': names may then contain ',' and '&' themselves.
            segments = [s for s in text.split(";") if s.strip()]
            rules.append("credits split on ';'")
            split_primary = False
        else:
            segments = [text]
            split_primary = True
    else:
        segments = [_clean_chars(s) for s in items if s and s.strip()]
        split_primary = False
    for seg in segments:
        p, f = _split_one(seg, split_primary, rules)
        primary_names.extend(p)
        featured_names.extend(f)

    names: list[str] = []
    primary: list[str] = []
    featured: list[str] = []
    seen: set[str] = set()
    for group, out in ((primary_names, primary), (featured_names, featured)):
        for n in group:
            name = _clean_name(n, rules)
            if not name:
                continue
            key = _name_key(name)
            if key in seen:
                continue
            seen.add(key)
            names.append(name)
            out.append(key)
    if not primary and featured:
        primary.append(featured.pop(0))
    key = primary[0] if primary else ""
    if not key and raw.strip():
        key = _name_key(raw)
    return Artists(
        raw, tuple(names), tuple(primary), tuple(featured), key, tuple(dict.fromkeys(rules))
    )


def normalize_artists(raw: str | Sequence[str]) -> Artists:
    """A string is split on credits (; , & and x feat. ft. featuring with vs. ...). A sequence
    (e.g. LAION artist_names list) is taken as already split (each item may still carry feat.).

    Splitting rules (conservative, documented in docs/matching.md): ';' always splits and then
    names are atomic; feat./ft./featuring/with always start featured credits; in the primary part
    ',' '&' ' x ' 'vs' split unless a known name (KNOWN_NAMES) or a band shape ("& the ...",
    "Years & Years") is found; ' and ' never splits a primary credit ("Tegan and Sara").
    Keys drop a leading "The": "The Beatles", "Beatles, The" and "Beatles" all key "beatles".
    """
    if isinstance(raw, str):
        return _normalize_artist_string(raw)
    items = [str(x) for x in raw]
    return _normalize_artist_items("; ".join(items), items)


# --------------------------------------------------------------------------------------------
# Version tags
# --------------------------------------------------------------------------------------------

_YEAR = re.compile(r"^(?:19|20)\d\d$")
_NUM = re.compile(r"^\d+(?:st|nd|rd|th|s)?$")

# Tokens (of translit text) meaning the same recording; value is the canonical tag text.
_SAME_STRONG = {
    "remaster": "remaster",
    "remastered": "remaster",
    "remasterizado": "remaster",
    "remasterizada": "remaster",
    "remasterise": "remaster",
    "remasterisee": "remaster",
    "remasterizzato": "remaster",
    "mono": "mono",
    "stereo": "stereo",
    "explicit": "explicit",
    "clean": "clean",
    "edited": "clean",
    "amended": "clean",
    "censored": "clean",
    "uncensored": "explicit",
    "dirty": "explicit",
    "reissue": "reissue",
    "reissued": "reissue",
    "deluxe": "deluxe",
    "expanded": "expanded",
    "bonus": "bonus track",
    "anniversary": "anniversary",
    "original": "original",
    "album": "album version",
    "lp": "album version",
    "single": "single version",
    "vault": "from the vault",
    "mastered": "remaster",
}
_SAME_FILLER = {
    "version",
    "versions",
    "edition",
    "track",
    "tracks",
    "digital",
    "digitally",
    "the",
    "and",
    "of",
    "box",
    "set",
    "mix",
    "re",
    "from",
    "master",
    "inch",
    "vinyl",
    "remix",  # only as part of "re mastered" joined below
    "a",
}
# Phrases rewritten to one token before token checks.
_PHRASES = [
    (re.compile(r"\bre\s+master(ed|s)?\b"), r"remaster\1"),
    (re.compile(r"\bre\s+issue(d)?\b"), r"reissue\1"),
    (re.compile(r"\bre\s+record(ed|ing)?\b"), "rerecorded"),
    (re.compile(r"\bre\s+mix(ed)?\b"), "remix"),
    (re.compile(r"\bsped\s+up\b|\bspeed\s+up\b|\bspedup\b|\bnightcore\b"), "spedup"),
    (re.compile(r"\bslowed\s+down\b"), "slowed"),
    (re.compile(r"\ba\s+cappella\b|\bacappella\b|\ba\s+capella\b"), "acapella"),
    (re.compile(r"\boff\s+vocal\b"), "instrumental"),
    (re.compile(r"\ben\s+vivo\b|\bao\s+vivo\b|\ben\s+directo\b|\bau\s+vivo\b"), "live"),
    (re.compile(r"\btaylors\s+version\b"), "rerecorded"),
    (re.compile(r"\brecorded\s+(?:live\s+)?(?:at|in|on|from)\b"), "live at"),
]
# Matches wherever any of _PHRASES would: nothing to rewrite when it does not match.
_ANY_PHRASE = re.compile("|".join(f"(?:{rx.pattern})" for rx, _ in _PHRASES))

_DIFF_TOKENS = {
    "live": "live",
    "remix": "remix",
    "rmx": "remix",
    "remixed": "remix",
    "rework": "remix",
    "reworked": "remix",
    "bootleg": "remix",
    "refix": "remix",
    "vip": "remix",
    "dub": "remix",
    "mashup": "remix",
    "flip": "remix",
    "acoustic": "acoustic",
    "acustico": "acoustic",
    "acustica": "acoustic",
    "acoustique": "acoustic",
    "akustik": "acoustic",
    "unplugged": "acoustic",
    "stripped": "acoustic",
    "piano": "acoustic",
    "instrumental": "instrumental",
    "inst": "instrumental",
    "acapella": "acapella",
    "karaoke": "karaoke",
    "cover": "cover",
    "parody": "cover",
    "spedup": "sped_up",
    "slowed": "slowed",
    "reverb": "reverb",
    "reverbed": "reverb",
    "demo": "demo",
    "outtake": "demo",
    "edit": "edit",
    "rerecorded": "rerecorded",
}
_EDIT_MIX = {"radio", "extended", "short", "club", "single", "original"}
_DIFF_FILLER = _SAME_FILLER | {
    "up",
    "down",
    "super",
    "ultra",
    "perfectly",
    "session",
    "sessions",
    "take",
    "version",
    "home",
    "rough",
    "early",
    "mix",
    "by",
}
_LANGUAGES = {
    "english",
    "spanish",
    "espanol",
    "french",
    "francaise",
    "francais",
    "german",
    "deutsch",
    "deutsche",
    "italian",
    "italiano",
    "portuguese",
    "portugues",
    "japanese",
    "korean",
    "chinese",
    "mandarin",
    "russian",
    "hindi",
    "latin",
    "en",
    "in",
}
_LANGUAGE_NAMES = _LANGUAGES - {"en", "in"}
_FROM_MEDIA = re.compile(
    r"^from\s+\w|\b(?:soundtrack|ost|motion picture|original score|original broadway"
    r"|theme from|theme song|from the (?:film|movie|series|musical|game|anime|netflix))\b"
)
# "(De "Coco")", "(Aus "Frozen")": other languages only with a quoted work ("De Ti" is a title).
_FROM_QUOTED = re.compile(r"^\s*(?:de|aus|du film|del|da)\s+[\"']", re.IGNORECASE)
_COVER_PHRASE = re.compile(r"\b(?:parody of|lyrical adaption of|lyrical adaptation of)\b")
_KARAOKE_PHRASE = re.compile(r"\b(?:originally performed by|in the style of|made famous by)\b")

# YouTube/video cruft: a bracket whose every token is in _CRUFT_WORDS and at least one is strong.
_CRUFT_STRONG = {
    "official",
    "oficial",
    "officiel",
    "officielle",
    "offizielles",
    "ufficiale",
    "video",
    "videoclip",
    "clip",
    "audio",
    "lyric",
    "lyrics",
    "letra",
    "letras",
    "paroles",
    "legendado",
    "legendada",
    "subtitulado",
    "traducida",
    "hd",
    "hq",
    "4k",
    "8k",
    "1080p",
    "720p",
    "visualizer",
    "visualiser",
    "mv",
    "stream",
    "premiere",
    "teaser",
    "trailer",
}
_CRUFT_WORDS = _CRUFT_STRONG | {
    "w",
    "music",
    "musical",
    "with",
    "full",
    "track",
    "new",
    "the",
    "and",
    "on",
    "screen",
    "hd",
    "sub",
    "espanol",
    "subs",
    "english",
    "y",
    "et",
    "song",
    "m",
    "v",
    "free",
    "download",
    "out",
    "now",
    "exclusive",
    "animated",
    "dance",
}
_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")
_CATALOGUE = re.compile(
    r"^(?:[A-Z][\w'&.]*\s+){1,2}(?:[A-Z]{1,3}[- ]?)?\d{2,6}(?:-\d{1,4})?$"
    r"|^(?:[A-Z][\w'&.]*\s+){0,3}(?:[Rr]ecords|[Rr]ecordings|[Ll]abel)\s+(?:19|20)\d\d$"
)
# Words before a number that make it a part number, not a catalogue number ("Vol 2").
_CUE_WORDS = frozenset(
    {
        "part",
        "pt",
        "vol",
        "volume",
        "no",
        "nr",
        "number",
        "num",
        "chapter",
        "chap",
        "ch",
        "episode",
        "ep",
        "op",
        "opus",
        "act",
        "book",
        "track",
        "session",
        "sessions",
        "mvt",
        "movement",
        "side",
        "round",
        "take",
        "symphony",
        "concerto",
        "sonata",
        "mass",
        "psalm",
    }
)
_PRODUCER = re.compile(r"^(?:prod|produced)\b")


_PIECE_SPLIT = re.compile(r"\s*[/+|]\s*|\s+-\s+")
_TagResult = tuple[str, str, str]  # (category, kind or same-tag, detail)


@lru_cache(maxsize=8192)
def _classify_tag(tag: str) -> tuple[_TagResult, ...] | None:
    """Classify one bracket or ' - ' suffix. Returns None when it is part of the title.

    Categories: 'feat' (detail = credit text), 'cruft', 'same' (kind = canonical tag),
    'differs' (kind + human detail)."""
    raw = tag.strip(" -:")
    if not raw:
        return (("cruft", "", "empty brackets"),)
    t = translit(raw)
    if not t:
        return None
    words = t.split()
    first = words[0]
    if all(w in _CRUFT_WORDS for w in words) and any(w in _CRUFT_STRONG for w in words):
        return (("cruft", "", raw),)
    if first in ("feat", "ft", "featuring", "with", "w") and len(words) > 1:
        credit = re.sub(r"^\s*(?:feat\.?|ft\.?|featuring|with|w/)\s*", "", raw, flags=re.I)
        return (("feat", "", credit),)
    if _PRODUCER.match(t):
        return (("cruft", "", raw),)
    # A bare year or an upload date in brackets is upload noise, not part of the title.
    if _DATE.search(raw) or (len(words) == 1 and len(first) == 4 and first.isdigit()):
        return (("cruft", "", raw),)
    if t in ("album track", "full album") or t.endswith(" album track"):
        return (("same", "album version", raw),) if t != "full album" else (("cruft", "", raw),)

    # Compound tags ("Live / Remastered", "Slowed + Reverb") are classified piece by piece.
    pieces: list[str] = []
    for p in _PIECE_SPLIT.split(raw):
        if not p.strip():
            continue
        # "2011 - Remaster": a lone year belongs to its neighbour.
        if pieces and _YEAR.match(pieces[-1].strip()):
            p = f"{pieces.pop().strip()} {p}"
        elif pieces and _YEAR.match(p.strip()):
            pieces[-1] = f"{pieces[-1]} {p.strip()}"
            continue
        pieces.append(p)
    out: list[_TagResult] = []
    for piece in pieces:
        # a tag of one piece is the whole tag, whose translit is already known
        res = _classify_piece(piece, t if piece == raw else None)
        if res is None:
            return _catalogue(raw, first)
        out.extend(res)
    return tuple(out) if out else _catalogue(raw, first)


def _catalogue(raw: str, first: str) -> tuple[_TagResult, ...] | None:
    """A record label's catalogue number (`Fabor 124`, `Decca 78-1234`) or a label and year
    (`Arista Records 1994`) in a tag that is no version tag: upload noise (since normalizer 3).
    Not a part number (`Vol 2`, `Symphony 40`)."""
    if first not in _CUE_WORDS and _CATALOGUE.match(raw):
        return (("cruft", "", raw),)
    return None


def classify_tag(tag: str) -> tuple[_TagResult, ...] | None:
    """Public form of the tag classifier: (category, kind, detail) results for a bracket's or a
    ` - ` suffix's text, or None when the text is part of a title."""
    return _classify_tag(tag)


def _classify_piece(piece: str, translit_piece: str | None = None) -> list[_TagResult] | None:
    t = translit(piece) if translit_piece is None else translit_piece
    if _ANY_PHRASE.search(t):
        # most pieces hold no phrase: one search instead of a substitution per phrase
        for rx, rep in _PHRASES:
            t = rx.sub(rep, t)
    words = t.split()
    if not words:
        return None
    years = [w for w in words if _YEAR.match(w)]
    year = f" {years[0]}" if years else ""

    # Same-recording tags: only known words, numbers and filler.
    if (
        any(w in _SAME_STRONG for w in words)
        and all(w in _SAME_STRONG or w in _SAME_FILLER or _NUM.match(w) for w in words)
        and not any(w in _DIFF_TOKENS for w in words)
    ):
        tags = dict.fromkeys(_SAME_STRONG[w] for w in words if w in _SAME_STRONG)
        if "mix" in words and "original" in tags:
            tags = {"original mix": None}
        if len(tags) > 1:
            tags.pop("original", None)
            tags.pop("album version", None) if "explicit" in tags or "clean" in tags else None
        return [
            ("same", tag + (year if tag in ("remaster", "reissue") else ""), piece.strip())
            for tag in tags
        ]
    if words == ["mix", *years[:1]] or (len(words) == 2 and years and "mix" in words):
        return [("same", f"mix{year}", piece.strip())]

    if _KARAOKE_PHRASE.search(t):
        return [("differs", "karaoke", piece.strip())]
    if _COVER_PHRASE.search(t):
        return [("differs", "cover", piece.strip())]
    if _FROM_MEDIA.search(t) or _FROM_QUOTED.match(piece):
        return [("differs", "from_media", _media_detail(piece))]

    kinds = [_DIFF_TOKENS[w] for w in words if w in _DIFF_TOKENS]
    if "mix" in words and not kinds:
        # "Radio Mix", "Extended Mix" are edits; "Club Mix", "Dave's Mix" are remixes.
        before = words[: words.index("mix")]
        if before and all(w in _EDIT_MIX or _NUM.match(w) for w in before):
            kinds = ["edit"] if before[-1] != "club" else ["remix"]
        elif before:
            kinds = ["remix"]
    if "extended" in words or ("radio" in words and ("version" in words or "mix" in words)):
        kinds.append("edit")
    if ("short" in words or "long" in words) and "version" in words:
        kinds.append("edit")
    if words[-1] == "version" or (words[0] in ("version", "versao") and len(words) > 1):
        langs = [w for w in words if w in _LANGUAGE_NAMES]
        if langs:
            kinds.append("language")
    if words[0] == "en" and len(words) == 2 and words[1] in _LANGUAGE_NAMES:
        kinds.append("language")

    if not kinds:
        # "(Super Cool Version)", "(Alternate Take)": some other recording of the song.
        if len(words) >= 2 and (
            words[-1] in ("version", "take", "versao", "version")
            or words[0] in ("alternate", "alternative", "alt")
        ):
            return [("differs", "alternate", piece.strip())]
        return None

    kinds = list(dict.fromkeys(kinds))
    known = set(_DIFF_TOKENS) | _DIFF_FILLER | _EDIT_MIX | _LANGUAGES | {"radio"}
    rest = [w for w in words if w not in known and not _NUM.match(w) and w not in _SAME_STRONG]
    same_extra = [
        ("same", _SAME_STRONG[w] + (year if _SAME_STRONG[w] == "remaster" else ""), w)
        for w in dict.fromkeys(words)
        if w in _SAME_STRONG and w not in ("original", "single", "album")
    ]
    # Free text is allowed only where it names something: the venue of a live recording,
    # the remixer, the covered artist. Otherwise this is a title word ("Live Is Life").
    if rest and not (
        ("live" in kinds and "live" in (words[0], words[-1]))
        or (kinds[0] in ("remix", "edit") and (words[-1] in _TAIL_WORDS or "by" in words))
        or ("cover" in kinds and "cover" in (words[0], words[-1]))
    ):
        return None
    results: list[_TagResult] = []
    for kind in kinds:
        results.append(("differs", kind, _detail(kind, piece.strip(), rest)))
    return results + same_extra


_TAIL_WORDS = {*_DIFF_TOKENS, "mix", "version", "edit"}
_REMIX_WORD = re.compile(
    r"\s*\b(?:re-?mix(?:ed)?|rmx|rework(?:ed)?|bootleg|refix|vip|dub|mix|edit|version|by)\b\s*",
    re.IGNORECASE,
)


def _detail(kind: str, piece: str, rest: list[str]) -> str:
    if kind == "remix" and rest:
        who = _REMIX_WORD.sub(" ", piece).strip(" '\"")
        who = re.sub(r"'s$", "", who)
        return f"remix by {who}" if who else "remix"
    if kind == "cover" and rest:
        return piece
    if kind == "live" and rest:
        return piece
    return kind.replace("_", " ") if piece.casefold() == kind else piece


def _media_detail(piece: str) -> str:
    m = re.search(r"\"([^\"]+)\"?", piece) or re.search(r"(?<!\w)'([^']+)'", piece)
    if m:
        return f"from '{m.group(1).strip()}'"
    m = re.match(r"^\s*(?:from|de|aus)\s+(.+)$", piece, re.IGNORECASE)
    return f"from '{m.group(1).strip()}'" if m else piece.strip()


# --------------------------------------------------------------------------------------------
# Titles
# --------------------------------------------------------------------------------------------

# Fast-path filter: an ASCII title with none of these characters or words is already clean.
_TITLE_NEEDS_CHARS = frozenset('()[]|"*;:&`\t\n')
_TITLE_KEYWORDS = frozenset(
    [
        "feat",
        "ft",
        "featuring",
        "hd",
        "hq",
        "4k",
        "1080p",
        "lyric",
        "lyrics",
        "video",
        "clip",
        "videoclip",
        "official",
        "oficial",
        "offizielles",
        "album",
        "new",
        "sub",
        "live",
        "remaster",
        "remastered",
        "remix",
        "edit",
        "version",
        "avi",
        "wmv",
        "mpg",
        "mpeg",
        "flv",
        "mp4",
        "mp3",
        "mkv",
        "webm",
        "mov",
        "reissue",
        "itunes",
        "spotify",
    ]
)
_BRACKET = re.compile(r"\s*[\(\[]([^\(\)\[\]]*)[\)\]]")
_PIPE_TAIL = re.compile(r"\s*\|.*$")
_EXTENSION = re.compile(r"\.(?:avi|wmv|mpg|mpeg|flv|mp4|mp3|mkv|webm|mov)\s*$", re.IGNORECASE)
# Upload noise at the edges of a title (since normalizer 3): a leading track number, only when
# zero-padded or after `#` (`08 Lover Man`, `01. Intro`, `#11 - For No One`; `1. Allegro` and
# `31 - 40` keep theirs: a movement, a title), a year after a bracket, a quote or a comma
# (`Sukiyaki (classic) 1981`, `Yes! We Have No Bananas, 1923`), a record format with its year
# (`Hold On LP '67`), and "on iTunes" / "on Spotify & Apple" tails.
_TRACK_NO = re.compile(r"^(?:#\d{1,3}\s*(?:-\s+|\s)|0\d(?:\.|\s+-)?\s+)(?=\S)")
_EDGE_YEAR = re.compile(
    r"(?:\s*,\s*|(?<=[\)\]\"'])\s*|\s+(?:LP|EP|45|78)\s+'?)(?:19|20)\d\d\.?\s*$"
    r"|\s+(?:LP|EP)\s+'\d\d\s*$",
    re.IGNORECASE,
)
_ON_STORE = re.compile(
    r"\s*(?:-\s*)?\b(?:out\s+)?(?:now\s+)?on\s+(?:itunes|spotify)(?:\s*(?:&|and|/)\s*(?:apple(?:\s+music)?|"
    r"itunes|spotify|amazon))*(?:\s+now)?\s*!*\s*$",
    re.IGNORECASE,
)
_STARS = re.compile(r"\s*\*\*[^*]+\*\*\s*")
_TITLE_FEAT_BARE = re.compile(rf"\s+(?:{_FEAT_WORD})\s+(.+)$", re.IGNORECASE)
_DASH = re.compile(r"\s+-\s+")
# "Song - 2011 - Remaster": the year belongs to the remaster tag. Not when the year opens the
# title ("1977 - Remastered 2011" is the song "1977") or the tag carries its own year.
_YEAR_DASH = re.compile(
    r"(?<=\S)(\s+-\s+)((?:19|20)\d\d)\s+-\s+"
    r"(?=(?:digital\s+)?re-?master\w*(?!\s+(?:19|20)\d\d))",
    re.IGNORECASE,
)
_LIVE_AT = re.compile(r"\s+-\s+live\s+@\s+", re.IGNORECASE)
_BARE_TAIL = re.compile(
    r"(?:[\s,]+(?:full\s+album|full\s+song|(?:with|w/)\s*lyrics|sub\s+espa[nñ]ol|"
    r"(?:(?:official|oficial|officiel|offizielles)\s+)?(?:music\s+|lyric\s+|lyrics\s+|hd\s+)?"
    r"(?:video|vid[eé]o)\s*clip(?:\s+(?:official|officiel|oficial|oficiel))?|"
    r"videoclip(?:\s+(?:official|officiel|oficial|oficiel))?|"
    r"(?:official|offizielles|oficial|officiel)\s+(?:music\s+|lyric\s+|hd\s+)?(?:video|audio)|"
    r"lyrics?\s+video|hd|hq|4k|1080p|lyrics))+\s*$",
    re.IGNORECASE,
)
_EDGE_PUNCT = " \t:;-|~*_,/"
_BARE_REISSUE = re.compile(r"\s+re-?issue$", re.IGNORECASE)


def _strip_edges(text: str) -> str:
    text = text.strip(_EDGE_PUNCT)
    # A stray quote at one edge is YouTube noise; a balanced pair ('Track "field"') is text.
    if text and text.count('"') % 2:
        text = text.strip('"').strip()
    # A title fully wrapped in quotes: 'Track Title'.
    if len(text) > 2 and text[0] == text[-1] and text[0] in "'\"" and text.count(text[0]) == 2:
        text = text[1:-1].strip()
    return text


def _credited(left: Artists, artists: Artists | None) -> bool:
    """Whether `left` names one of `artists`: its key or one of its primary names is among their
    primary or featured names, or is the key of their whole credit read as one name (computed
    last: it is rarely needed and costs a fold)."""
    if artists is None:
        return False
    keys = set(artists.primary) | set(artists.featured)
    if left.key in keys or not keys.isdisjoint(left.primary):
        return True
    if not artists.raw:
        return False
    whole = _name_key(artists.raw)
    return left.key == whole or whole in left.primary


class _TitleState:
    __slots__ = ("cruft", "details", "differs", "featured", "rules", "same")

    def __init__(self) -> None:
        self.featured: list[str] = []
        self.differs: list[str] = []
        self.details: list[str] = []
        self.same: list[str] = []
        self.rules: list[str] = []
        self.cruft = False

    def apply(self, results: tuple[_TagResult, ...], original: str) -> None:
        for category, kind, detail in results:
            if category == "feat":
                for name in _split_featured_list(detail):
                    key = _name_key(name)
                    if key and key not in self.featured:
                        self.featured.append(key)
                self.rules.append("featured artist moved from title")
            elif category == "cruft":
                self.cruft = True
                self.rules.append(f"YouTube cruft removed: {original.strip()}")
            elif category == "same":
                if kind not in self.same:
                    self.same.append(kind)
                self.rules.append(f"same recording: {kind}")
            else:
                if kind not in self.differs:
                    self.differs.append(kind)
                if detail and detail not in self.details:
                    self.details.append(detail)
                self.rules.append(f"version: {kind}")


def _title_from_display(
    raw: str, display: str, state: _TitleState | None, artist_in_title: str
) -> Title:
    script_key = fold(display)
    key = _translit_folded(script_key)
    if not key:
        key = " ".join(display.casefold().split())
    if state is None:
        return Title(raw, display, key, script_key, (), "", _NO_VERSION, ())
    version = (
        VersionInfo(tuple(sorted(state.differs)), tuple(state.details), tuple(state.same))
        if state.differs or state.same
        else _NO_VERSION
    )
    return Title(
        raw,
        display,
        key,
        script_key,
        tuple(state.featured),
        artist_in_title,
        version,
        tuple(dict.fromkeys(state.rules)),
    )


def normalize_title(raw: str, *, artists: Artists | None = None) -> Title:
    """When `artists` is given and the title looks like "Artist - Title" where Artist matches one of
    the credited artists (or the title has ' - ' with a YouTube-like shape), split it off.
    Without `artists`, split only on clear YouTube shapes. Feat. credits in the title move to
    `featured`. Version tags in () [] or after ' - ' are classified into VersionInfo; YouTube
    cruft (Official Video/Audio/Music Video, Lyrics, Lyric Video, HD, HQ, 4K, Visualizer,
    '| ...' tails, '[...]' noise) is removed."""
    if (
        raw
        and raw.isascii()
        and _TITLE_NEEDS_CHARS.isdisjoint(raw)
        and raw[0] not in " '-#0123456789"
        and raw[-1] not in "0123456789"
        and raw[-1] not in " '-"
        and "  " not in raw
        and (" -" not in raw and "- " not in raw)
        and _TITLE_KEYWORDS.isdisjoint(raw.lower().translate(_ASCII_PUNCT).split())
    ):
        return _title_from_display(raw, raw, None, "")
    return _normalize_title_slow(raw, artists)


def _normalize_title_slow(raw: str, artists: Artists | None) -> Title:
    st = _TitleState()
    text = _clean_chars(raw)
    text = " ".join(text.replace("\u3000", "\x01").split()).replace("\x01", "\u3000")

    m = _EXTENSION.search(text)
    if m and m.start() > 0:
        st.rules.append(f"YouTube cruft removed: {m.group(0).strip()}")
        st.cruft = True
        text = text[: m.start()]
    m = _ON_STORE.search(text)
    if m and m.start() > 0:
        st.rules.append(f"upload noise removed: {m.group(0).strip()}")
        st.cruft = True
        text = text[: m.start()]
    if text[:1] in "#0123456789":
        m = _TRACK_NO.match(text)
        if m:
            st.rules.append(f"track number removed: {m.group(0).strip()}")
            text = text[m.end() :]
    if "**" in text:
        new = _STARS.sub(" ", text).strip()
        if new:
            st.rules.append("YouTube cruft removed: **...**")
            text = new
    if "|" in text:
        m = _PIPE_TAIL.search(text)
        if m and m.start() > 0:
            st.cruft = True
            st.rules.append(f"YouTube cruft removed: {m.group(0).strip()}")
            text = text[: m.start()]

    # Brackets: feat., cruft and version tags are taken out; anything else is part of the title.
    if "(" in text or "[" in text:
        kept: list[str] = []
        pos = 0
        for m in _BRACKET.finditer(text):
            res = _classify_tag(m.group(1))
            if res is None:
                continue
            kept.append(text[pos : m.start()])
            pos = m.end()
            st.apply(res, m.group(0))
        if pos:
            kept.append(text[pos:])
            text = "".join(kept)
        if "[" in text:
            # Any other square-bracket text is channel noise ("[Whatever]", "[NCS Release]"),
            # except at the very start where it can be the title itself.
            def drop(m: re.Match[str]) -> str:
                if m.start() == 0 and not text[: m.start()].strip():
                    return m.group(0)
                st.cruft = True
                st.rules.append(f"YouTube cruft removed: {m.group(0).strip()}")
                return ""

            text = re.sub(r"\s*\[[^\[\]]*\]", drop, text)

    m = _EDGE_YEAR.search(text)
    if m and m.start() > 0:
        st.rules.append(f"upload noise removed: {m.group(0).strip(' ,')}")
        text = text[: m.start()]

    # ' - ' suffixes, classified from the right; the first unclassified one stops the scan.
    artist_in_title = ""
    if "-" in text:
        text = _YEAR_DASH.sub(r"\1\2 ", text)
        text = _LIVE_AT.sub(" - Live at ", text)
        parts = _DASH.split(text)
        while len(parts) > 1:
            res = _classify_tag(parts[-1])
            if res is None:
                break
            st.apply(res, f"- {parts[-1]}")
            parts.pop()
        if len(parts) > 1:
            artist_in_title = _split_artist(parts, artists, st)
        text = " - ".join(p for p in parts if p.strip())

    if "feat" in text.lower() or "ft" in text.lower():
        m = _TITLE_FEAT_BARE.search(text)
        if m and m.start() > 0:
            st.apply((("feat", "", m.group(1)),), m.group(0))
            text = text[: m.start()]

    m = _BARE_TAIL.search(text)
    if m and m.start() > 0:
        st.cruft = True
        st.rules.append(f"YouTube cruft removed: {m.group(0).strip()}")
        text = text[: m.start()]
        if "-" in text and not artist_in_title and " - " in text:
            parts = _DASH.split(text)
            artist_in_title = _split_artist(parts, artists, st)
            text = " - ".join(parts)

    m = _BARE_REISSUE.search(text)
    if m and m.start() > 0:
        st.apply((("same", "reissue", m.group(0)),), m.group(0))
        text = text[: m.start()]

    collapsed = " ".join(text.split()) if "\u3000" not in text else text.strip()
    display = _strip_edges(collapsed)
    if display != collapsed and display:
        st.rules.append("stray punctuation or quotes removed at the edges")
    if not display:
        # Everything was tags ("(Official Video)" alone): keep the raw text as the title.
        display = _strip_edges(raw.strip()) or raw.strip()
    return _title_from_display(raw, display, st, artist_in_title)


def _split_artist(parts: list[str], artists: Artists | None, st: _TitleState) -> str:
    """Split 'Artist - Title' in place when the left part is a credited artist or the title
    has a YouTube shape (cruft removed). Returns the artist key or ''."""
    left = parts[0]
    if not left.strip() or not "".join(parts[1:]).strip():
        return ""
    left_artists = normalize_artists(left)
    if not st.cruft and not _credited(left_artists, artists):
        return ""
    del parts[0]
    for f in left_artists.featured:
        if f not in st.featured:
            st.featured.append(f)
    st.rules.append("artist split from title")
    return left_artists.key
