"""Every credited artist searchable: a GIN index on the names a track credits besides its first,
and the artist search terms rebuilt to hold those names too.

Nothing is re-imported: the keys of every credited name are already stored in each track's
`artists_norm` (since 0001); only the index is built from them, and the artist terms are
refilled. On SQLite (the embedded default) there is no index: the search reads `artists_norm`
with patterns, and the terms are refilled through the ORM.
"""

from collections import Counter

from django.db import migrations

# Kept here rather than imported from matcher.search, so the migration stays as it was written
# whatever that module becomes (matcher.search.keys spells the same expression and predicate).
OTHER_CREDITS = (
    "array_remove(array_remove(string_to_array(artists_norm, '|'), ''), artist_key::text)"
)
HAS_OTHER_CREDITS = "artists_norm <> (artist_key || '||')"
# the spellings shown first: not in capitals and not the bare key, then not in capitals
TIER = (
    "(CASE WHEN c.shown <> upper(c.shown) AND c.shown <> c.key THEN 0 "
    "WHEN c.shown <> upper(c.shown) THEN 1 ELSE 2 END)"
)
INDEX = "track_other_credits"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {INDEX} ON matcher_datasettrack USING gin (({OTHER_CREDITS})) "
            f"WHERE {HAS_OTHER_CREDITS}"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


def tier(text, key):
    if text == text.upper():
        return 2
    return 1 if text == key else 0


def refill_artist_terms(apps, schema_editor):
    connection = schema_editor.connection
    SearchTerm = apps.get_model("matcher", "SearchTerm")
    DatasetTrack = apps.get_model("matcher", "DatasetTrack")
    Dataset = apps.get_model("matcher", "Dataset")
    SearchTerm.objects.filter(field="artist").delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute("SET LOCAL enable_hashagg = off")
            join = "JOIN matcher_dataset d ON d.current_version_id = t.version_id"
            cur.execute(
                "INSERT INTO matcher_searchterm (field, key, display, tracks) "  # noqa: S608
                f"SELECT 'artist', c.key, coalesce(min(c.shown) FILTER (WHERE {TIER} = 0), "
                f"min(c.shown) FILTER (WHERE {TIER} = 1), min(c.shown)), count(*) FROM ("
                "SELECT t.artist_key AS key, split_part(t.artist, '; ', 1) AS shown "
                f"FROM matcher_datasettrack t {join} WHERE t.artist_key <> '' UNION ALL "
                "SELECT o.key, coalesce((SELECT p FROM unnest(string_to_array(t.artist, '; ')) "
                "AS p WHERE lower(p) = o.key LIMIT 1), o.key) "
                f"FROM matcher_datasettrack t {join} CROSS JOIN LATERAL unnest({OTHER_CREDITS}) "
                f"AS o(key) WHERE {HAS_OTHER_CREDITS} AND length(o.key) <= 255) c GROUP BY c.key"
            )
            cur.execute("ANALYZE matcher_searchterm")
        return
    spellings: dict[str, list[str]] = {}
    tracks: Counter[str] = Counter()
    current = Dataset.objects.exclude(current_version=None).values("current_version_id")
    rows = DatasetTrack.objects.filter(version_id__in=current).values_list(
        "artist", "artist_key", "artists_norm"
    )
    for artist, artist_key, artists_norm in rows.iterator():
        parts = artist.split("; ")
        if artist_key:
            tracks[artist_key] += 1
            spellings.setdefault(artist_key, []).append(parts[0])
        for key in (k for k in artists_norm.split("|") if k and k != artist_key):
            if len(key) <= 255:
                tracks[key] += 1
                shown = next((p for p in parts if p.lower() == key), key)
                spellings.setdefault(key, []).append(shown)
    SearchTerm.objects.bulk_create(
        (
            SearchTerm(
                field="artist",
                key=key,
                display=min(spellings[key], key=lambda s, k=key: (tier(s, k), s)),
                tracks=n,
            )
            for key, n in tracks.items()
        ),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("matcher", "0007_track_readings"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index),
        # backwards: the next import's refresh gives the older code's terms again
        migrations.RunPython(refill_artist_terms, migrations.RunPython.noop),
    ]
