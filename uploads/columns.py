"""Catalog columns: guess which column holds which field from header texts, by synonyms in
several languages, and check a mapping the user chose (the pages' form and the API alike).

Pure Python (no Django): used by the parser and shown to the user, who confirms or changes it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

FIELDS = (
    "artist",
    "title",
    "version",
    "isrc",
    "upc",
    "album",
    "label",
    "duration",
    "spotify",
    "youtube",
)
REQUIRED_FIELDS = ("artist", "title")

# Most specific first: when two headers match the same field, the one earlier in its list wins
# ("Track Artist" beats "Artist", which beats "Album Artist"). Matching is exact on the header key
# (see header_key), never by substring: "Spotify Streams" must not become the Spotify id column.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "artist": (
        "Track Artist",
        "Display Artist",
        "Primary Artist",
        "Main Artist",
        "Recording Artist",
        "Artist",
        "Artist Name",
        "Artists",
        "Artist(s)",
        "Track Artists",
        "Performer",
        "Performers",
        "Main Performer",
        "Künstler",
        "Künstlername",
        "Interpret",
        "Interpreten",
        "Interprète",
        "Intérprete",
        "Interprete",
        "Artiste",
        "Artistes",
        "Nom de l'artiste",
        "Artista",
        "Artistas",
        "Artista principal",
        "Nombre del artista",
        "Nome artista",
        "Artiest",
        "Artysta",
        "Album Artist",
    ),
    "title": (
        "Track Title",
        "Recording Title",
        "Song Title",
        "Title",
        "Track Name",
        "Song Name",
        "Song",
        "Track",
        "Recording",
        "Titel",
        "Tracktitel",
        "Songtitel",
        "Titre",
        "Titre du morceau",
        "Morceau",
        "Chanson",
        "Título",
        "Título de la canción",
        "Canción",
        "Nombre de la canción",
        "Titolo",
        "Brano",
        "Titolo brano",
        "Tytuł",
        "Name",
    ),
    "version": (
        "Version Title",
        "Track Version",
        "Version",
        "Mix",
        "Mix Name",
        "Mix Version",
        "Subtitle",
        "Versión",
        "Fassung",
        "Versione",
    ),
    "isrc": (
        "ISRC",
        "ISRC Code",
        "ISRC Number",
        "ISRC No",
        "Track ISRC",
        "Código ISRC",
        "Code ISRC",
    ),
    "upc": (
        "UPC",
        "EAN",
        "UPC/EAN",
        "EAN/UPC",
        "Barcode",
        "UPC Code",
        "EAN Code",
        "Release UPC",
        "Product UPC",
        "Album UPC",
        "GTIN",
        "Strichcode",
        "Code-barres",
        "Código de barras",
    ),
    "album": (
        "Album",
        "Album Name",
        "Album Title",
        "Release",
        "Release Title",
        "Release Name",
        "Product Title",
        "Product Name",
        "Albumtitel",
        "Titre de l'album",
        "Álbum",
        "Nombre del álbum",
        "Titolo album",
    ),
    "label": (
        "Label",
        "Record Label",
        "Label Name",
        "Imprint",
        "Plattenlabel",
        "Maison de disques",
        "Sello",
        "Sello discográfico",
        "Etichetta",
    ),
    "duration": (
        "Duration",
        "Duration (ms)",
        "Duration ms",
        "Track Duration",
        "Length",
        "Length (ms)",
        "Track Length",
        "Running Time",
        "Runtime",
        "Play Time",
        "Time",
        "Durée",
        "Dauer",
        "Länge",
        "Laufzeit",
        "Duración",
        "Durata",
        "Duração",
    ),
    "spotify": (
        "Spotify ID",
        "Spotify Track ID",
        "Spotify URI",
        "Spotify Track URI",
        "Spotify URL",
        "Spotify Track URL",
        "Spotify Link",
        "Spotify",
    ),
    "youtube": (
        "YouTube ID",
        "YouTube Video ID",
        "YouTube URL",
        "YouTube Video URL",
        "YouTube Link",
        "YouTube",
        "YT ID",
        "YT URL",
        "Video ID",
        "Video URL",
    ),
}

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def header_key(header: str) -> str:
    """Reduce a header to lowercase ASCII letters and digits: case, spacing, punctuation and accents
    do not matter ("Track_Name", "track name", "TrackName" and "Tráck-Name" give "trackname")."""
    text = _CAMEL.sub(" ", header)
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NON_ALNUM.sub("", text)


# key -> (field, rank); a key belongs to one field only (the first one listing it).
_KEYS: dict[str, tuple[str, int]] = {}
for _field in FIELDS:
    for _rank, _synonym in enumerate(SYNONYMS[_field]):
        _KEYS.setdefault(header_key(_synonym), (_field, _rank))


def guess_mapping(headers: Sequence[str]) -> dict[str, int]:
    """Map each recognised field to the index of the column that holds it.

    Each column serves one field at most; when several columns match a field, the most specific
    synonym wins, then the leftmost column.
    """
    candidates: list[tuple[int, int, int, str]] = []
    for index, header in enumerate(headers):
        found = _KEYS.get(header_key(header or ""))
        if found:
            field, rank = found
            candidates.append((rank, FIELDS.index(field), index, field))
    mapping: dict[str, int] = {}
    used: set[int] = set()
    for _rank, _order, index, field in sorted(candidates):
        if field not in mapping and index not in used:
            mapping[field] = index
            used.add(index)
    return {field: mapping[field] for field in FIELDS if field in mapping}


def duration_unit(header: str) -> str | None:
    """ "ms" when the header says the durations are in milliseconds ("Duration (ms)", "duration_ms",
    "Length in milliseconds"), "s" when it says seconds, None when it does not say."""
    key = header_key(header)
    if key.endswith("ms") or "millisec" in key or "msec" in key:
        return "ms"
    if key.endswith(("sec", "secs", "seconds", "s")) and key not in _KEYS:
        return "s"
    return None


def mapping_headers(mapping: Mapping[str, int], headers: Sequence[str]) -> dict[str, str]:
    """The mapping by header text (field -> header), the form in which a confirmed mapping is
    remembered: column positions change between exports, header texts much less."""
    return {field: headers[index] for field, index in mapping.items() if 0 <= index < len(headers)}


def mapping_from_headers(
    columns: Mapping[str, str], headers: Sequence[str]
) -> dict[str, int] | None:
    """A remembered mapping (field -> header text) applied to a new header row, or None when
    one of its headers is missing there (compared as header_key does: case and spacing aside)."""
    positions: dict[str, int] = {}
    for index, header in enumerate(headers):
        positions.setdefault(header_key(header), index)
    mapping: dict[str, int] = {}
    for field, header in columns.items():
        found = positions.get(header_key(header))
        if field not in FIELDS or found is None or not header_key(header):
            return None
        mapping[field] = found
    return {field: mapping[field] for field in FIELDS if field in mapping}


def column_letter(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def required_message(name: str) -> str:
    return f"Choose the column that holds the {name}; every row needs one."


def mapping_errors(mapping: Mapping[str, int], headers: Sequence[str]) -> dict[str, list[str]]:
    """Per field, what is wrong with the column chosen for it (a field that is not one, a column
    beyond the sheet's last, a column chosen twice: the later field is told), and each required
    field left out; empty when the mapping can be used."""
    errors: dict[str, list[str]] = {}
    taken: dict[int, str] = {}
    for name, index in mapping.items():
        if name not in FIELDS:
            errors[name] = [f'"{name[:50]}" is not a field; the fields are {", ".join(FIELDS)}.']
        elif index >= len(headers):
            last = column_letter(len(headers) - 1) if headers else "-"
            errors[name] = [
                f"Column {index} ({column_letter(index)}) is beyond the last column of the "
                f"sheet ({last}); columns count from 0 (A)."
            ]
        elif index in taken:
            errors[name] = [
                f'Column {column_letter(index)} ("{headers[index]}") is already chosen for the '
                f"{taken[index]}; each column can hold one field."
            ]
        else:
            taken[index] = name
    for name in REQUIRED_FIELDS:
        if name not in mapping:
            errors[name] = [required_message(name)]
    return errors
