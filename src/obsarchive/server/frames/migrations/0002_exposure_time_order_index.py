"""An index that serves ``ordering=exposure_time`` / ``-exposure_time`` pages (L1).

The API sorts NULL as the smallest value: ``exposure_time DESC NULLS LAST, id DESC`` and its
reverse ``exposure_time ASC NULLS FIRST, id ASC``. One index walked in both directions serves
both, but its NULL placement must match the query's, which Django's ``Index`` cannot spell
portably: PostgreSQL needs ``NULLS LAST`` written out (its descending default is NULLS FIRST),
while SQLite refuses the clause in ``CREATE INDEX`` and already sorts NULL smallest.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

INDEX = "frames_frame_exptime_id"
CREATE = {
    "postgresql": (
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON frames_frame "
        "(exposure_time DESC NULLS LAST, id DESC)"
    ),
    "sqlite": f"CREATE INDEX IF NOT EXISTS {INDEX} ON frames_frame (exposure_time DESC, id DESC)",
}


def create_index(apps: Any, schema_editor: Any) -> None:
    statement = CREATE.get(schema_editor.connection.vendor)
    if statement is not None:
        schema_editor.execute(statement)


def drop_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor in CREATE:
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("frames", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
