"""Database upkeep the services do themselves rather than leave to autovacuum: planner
statistics for the rows a bulk write has just added."""

from __future__ import annotations

from django.db import connections, models


def statistics_refresh(*tables: type[models.Model], using: str = "default") -> None:
    """ANALYZE the tables of these models (PostgreSQL; other databases plan without it).

    After a bulk write, the next statements on the new rows are planned from statistics that
    predate them until autovacuum comes, which on a busy server can be long after: a run or a
    catalog the statistics do not know is estimated at one row, and a nested loop over it is
    then chosen where it rescans the new rows once per row. ANALYZE reads a fixed-size sample,
    so it costs well under a second whatever the table's size. Inside a transaction it sees the
    transaction's own rows and holds a lock that only another ANALYZE or VACUUM of the same
    table waits for (autovacuum skips a table it cannot lock).
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        for model in tables:
            # Table names come from the models, never from input.
            cur.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
