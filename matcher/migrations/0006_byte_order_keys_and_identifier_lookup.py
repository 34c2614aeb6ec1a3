"""Keys and identifiers compared byte by byte on PostgreSQL; identifiers looked up by value first.

- `DatasetTrack.track_id`, `artist_key`, `title_key` and `TrackIdentifier.kind`, `value` take the
  "C" collation on PostgreSQL (`ByteOrderCharField`): their indexes build 1.5-2.5x faster, and
  key ranges do not depend on the database's default collation. Other databases are unchanged.
- `identifier_lookup` leads with the value: matching asks for identifiers by value and version,
  which the old order (kind first) could only answer by reading the whole table.

On PostgreSQL the three track columns change in one ALTER TABLE, so each index on them is rebuilt
once (the table itself is not rewritten). On the 12.2M-track LAION database this took about a
minute; see docs/benchmarks.md.
"""

from django.db import migrations, models

import matcher.models

OLD_INDEX = models.Index(fields=["kind", "value", "version"], name="identifier_lookup")
NEW_INDEX = models.Index(fields=["value", "kind", "version"], name="identifier_lookup")

TRACK_COLUMNS = (("track_id", 128), ("artist_key", 255), ("title_key", 255))
IDENTIFIER_COLUMNS = (("kind", 16), ("value", 255))


def _alter(schema_editor, table, columns, collation):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    changes = ", ".join(
        f"ALTER COLUMN {quote(name)} TYPE varchar({width}) COLLATE {quote(collation)}"
        for name, width in columns
    )
    schema_editor.execute(f"ALTER TABLE {quote(table)} {changes}")


def forward(apps, schema_editor):
    identifier = apps.get_model("matcher", "TrackIdentifier")
    track = apps.get_model("matcher", "DatasetTrack")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    schema_editor.remove_index(identifier, OLD_INDEX)
    _alter(schema_editor, track._meta.db_table, TRACK_COLUMNS, "C")
    _alter(schema_editor, identifier._meta.db_table, IDENTIFIER_COLUMNS, "C")
    schema_editor.add_index(identifier, NEW_INDEX)


def backward(apps, schema_editor):
    identifier = apps.get_model("matcher", "TrackIdentifier")
    track = apps.get_model("matcher", "DatasetTrack")
    schema_editor.remove_index(identifier, NEW_INDEX)
    _alter(schema_editor, track._meta.db_table, TRACK_COLUMNS, "default")
    _alter(schema_editor, identifier._meta.db_table, IDENTIFIER_COLUMNS, "default")
    schema_editor.add_index(identifier, OLD_INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("matcher", "0005_covering_blocking_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="trackidentifier", name="identifier_lookup"),
                migrations.AlterField(
                    model_name="datasettrack",
                    name="artist_key",
                    field=matcher.models.ByteOrderCharField(max_length=255),
                ),
                migrations.AlterField(
                    model_name="datasettrack",
                    name="title_key",
                    field=matcher.models.ByteOrderCharField(max_length=255),
                ),
                migrations.AlterField(
                    model_name="datasettrack",
                    name="track_id",
                    field=matcher.models.ByteOrderCharField(
                        help_text="The dataset's own id", max_length=128
                    ),
                ),
                migrations.AlterField(
                    model_name="trackidentifier",
                    name="kind",
                    field=matcher.models.ByteOrderCharField(max_length=16),
                ),
                migrations.AlterField(
                    model_name="trackidentifier",
                    name="value",
                    field=matcher.models.ByteOrderCharField(max_length=255),
                ),
                migrations.AddIndex(model_name="trackidentifier", index=NEW_INDEX),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
