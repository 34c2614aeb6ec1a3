"""Search terms for the public dataset search, with their lookup indexes.

The text_pattern_ops and expression indexes are created on PostgreSQL only; on SQLite (the
embedded default) one plain index on (field, key) serves the same lookups, run through the ORM,
which is fine for its small datasets.

The table is filled from the tracks already imported, so upgrading a database with datasets
makes them searchable at once (under 2 minutes for 22.0M tracks, see docs/benchmarks.md).
"""

from django.db import migrations, models

POSTGRES_INDEXES = (
    # Exact lookups (the one-typo variants of a short key), the first half of a longer key
    # (LIKE 'half%') and the suggestions as you type (prefix, ranked by the track counts read
    # from the index alone). text_pattern_ops makes LIKE 'prefix%' a range whatever the
    # database collation, and also serves `=`.
    (
        "searchterm_prefix",
        "CREATE INDEX searchterm_prefix ON matcher_searchterm "
        "(field, key text_pattern_ops) INCLUDE (tracks)",
    ),
    # The second half of a longer key: a prefix of the reversed key, among keys of about the
    # same length (the length is in the index: the key itself is not, and a common ending
    # such as "tion" would otherwise cost one table read per key checked).
    (
        "searchterm_suffix",
        "CREATE INDEX searchterm_suffix ON matcher_searchterm "
        "(field, length(key), reverse(key) text_pattern_ops)",
    ),
)
# Elsewhere (SQLite, the embedded default) one plain index serves the exact and prefix lookups.
PORTABLE_INDEXES = (
    (
        "searchterm_field_key",
        "CREATE INDEX searchterm_field_key ON matcher_searchterm (field, key)",
    ),
)


def _indexes(connection):
    return POSTGRES_INDEXES if connection.vendor == "postgresql" else PORTABLE_INDEXES


def create_indexes(apps, schema_editor):
    for _, sql in _indexes(schema_editor.connection):
        schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    for name, _ in _indexes(schema_editor.connection):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def fill_terms(apps, schema_editor):
    # Kept here rather than imported from matcher.search, so the migration stays as it was
    # written whatever that module becomes.
    connection = schema_editor.connection
    display = "split_part(t.artist, '; ', 1)" if connection.vendor == "postgresql" else "t.artist"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL work_mem = '256MB'")
        for field, key, shown in (
            ("artist", "artist_key", display),
            ("title", "title_key", "t.title"),
        ):
            cur.execute(
                "INSERT INTO matcher_searchterm (field, key, display, tracks) "  # noqa: S608
                f"SELECT %s, t.{key}, coalesce(min({shown}) FILTER (WHERE {shown} <> upper("
                f"{shown})), min({shown})), count(*) FROM matcher_datasettrack t "
                "JOIN matcher_dataset d ON d.current_version_id = t.version_id "
                f"WHERE t.{key} <> '' GROUP BY t.{key}",
                [field],
            )
        if connection.vendor == "postgresql":
            cur.execute("ANALYZE matcher_searchterm")


class Migration(migrations.Migration):
    dependencies = [
        ("matcher", "0003_report_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchTerm",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "field",
                    models.CharField(
                        choices=[("artist", "Artist"), ("title", "Title")], max_length=6
                    ),
                ),
                ("key", models.CharField(max_length=255)),
                (
                    "display",
                    models.TextField(help_text="One published spelling, shown in suggestions"),
                ),
                (
                    "tracks",
                    models.PositiveIntegerField(help_text="Tracks with this key, all datasets"),
                ),
            ],
        ),
        migrations.RunPython(fill_terms, migrations.RunPython.noop),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
