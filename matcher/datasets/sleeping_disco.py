"""Reader for Sleeping-DISCO-9M JSON Lines (``a.jsonl`` ... ``z.jsonl``, optionally gzipped).

Each line is one Genius song: song_id, song_url, primary_artist, featured_artists, album_name,
album_release_date, language, youtube_links, tags, lyrics. Lyrics are read past and never kept:
match evidence needs the song's identity, not its words.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matcher.datasets._text import open_text
from matcher.datasets.base import DatasetFormatError, ImportProblem, ReaderOutput, TrackRecord
from matcher.engine.identifiers import genius_url_key, youtube_video_id

# The card lists no title field by name; Genius API dumps call it "title" (some "full_title").
_TITLE_KEYS = ("title", "song_title", "name", "full_title")


def read(paths: Sequence[Path]) -> ReaderOutput:
    for path in paths:
        yield from _read_file(Path(path))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, dict):  # Genius API objects: {"name": ...}
        return _text(value.get("name"))
    return ""


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [name for name in (_text(item) for item in value) if name]
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    return []


def _read_file(path: Path) -> ReaderOutput:
    name = path.name
    line = 0
    with open_text(path) as handle:
        try:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                yield from _record(name, line, text)
        except UnicodeDecodeError as exc:
            raise DatasetFormatError(
                f"{name}: is not UTF-8 text near line {line + 1}; download it again."
            ) from exc
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DatasetFormatError(
                f"{name}: the gzip stream is damaged after line {line}; download it again."
            ) from exc


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> Any:
    """`value` with lone UTF-16 surrogates (escapes such as "\\ud800" that JSON allows but no
    text encoding can store) replaced by U+FFFD, in strings, lists and objects alike."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def _record(name: str, line: int, text: str) -> ReaderOutput:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        yield ImportProblem(name, line, f"not valid JSON ({exc.msg} at column {exc.colno})")
        return
    if not isinstance(obj, dict):
        yield ImportProblem(name, line, "not a JSON object")
        return
    # json.loads joins escaped surrogate pairs; a lone one stays and could not be stored
    replaced = False
    if "\\ud" in text or "\\uD" in text:
        cleaned = _without_surrogates(obj)
        replaced = cleaned != obj
        obj = cleaned
    song_id = _text(obj.get("song_id", obj.get("id")))
    title = next((_text(obj.get(key)) for key in _TITLE_KEYS if _text(obj.get(key))), "")
    primary = _text(obj.get("primary_artist"))
    absent = [
        label
        for label, value in (("song_id", song_id), ("title", title), ("primary_artist", primary))
        if not value
    ]
    if absent:
        yield ImportProblem(name, line, "missing " + ", ".join(absent))
        return
    if replaced:
        yield ImportProblem(
            name, line, "a lone UTF-16 surrogate escape was replaced by U+FFFD; track kept"
        )
    artists = [primary]
    for featured in _names(obj.get("featured_artists")):
        if featured not in artists:
            artists.append(featured)
    song_url = _text(obj.get("song_url", obj.get("url")))
    identifiers: list[tuple[str, str]] = [("genius", song_id)]
    url_key = genius_url_key(song_url)
    if url_key:
        identifiers.append(("genius_url", url_key))
    links = obj.get("youtube_links") or []
    if isinstance(links, str):
        links = [links]
    for link in links if isinstance(links, list) else []:
        video_id = youtube_video_id(link) if isinstance(link, str) else None
        if video_id and ("youtube", video_id) not in identifiers:
            identifiers.append(("youtube", video_id))
    extra: dict[str, Any] = {}
    for key in ("album_release_date", "language"):
        value = _text(obj.get(key))
        if value:
            extra[key] = value
    tags = _names(obj.get("tags"))
    if tags:
        extra["tags"] = tags
    yield TrackRecord(
        track_id=song_id,
        artists=artists,
        title=title,
        album=_text(obj.get("album_name")),
        url=song_url,
        identifiers=identifiers,
        extra=extra,
        source_file=name,
        source_row=line,
    )
