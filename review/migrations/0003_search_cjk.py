"""Search finds Chinese and Japanese words inside text: split CJK characters in the index.

The triggers and PostgreSQL's reindex function now pass text through review_split_cjk
(review/search.py), and every existing document is rebuilt with it. The reverse
restores the previous definitions, which were the same SQL without the split.
"""

from django.db import migrations

from review import search


def _run(schema_editor, sqlite, sqlite_index, postgres) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in postgres:
            schema_editor.execute(sql)
        schema_editor.execute("SELECT review_search_reindex(id) FROM videos_generation")
    else:
        # CREATE TRIGGER IF NOT EXISTS would keep the old ones: drop them first.
        for name in search.SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        for sql in sqlite:
            schema_editor.execute(sql)
        schema_editor.execute("DELETE FROM review_search")
        schema_editor.execute(sqlite_index)


def split(apps, schema_editor):
    _run(schema_editor, search.SQLITE_SCHEMA, search.SQLITE_INDEX, search.POSTGRES_SCHEMA)


def unsplit(apps, schema_editor):
    # Without the function name, "review_split_cjk(x)" is "(x)": the old SQL exactly.
    def old(statements):
        return [s.replace(search.SPLIT_FUNCTION, "") for s in statements if "regexp_" not in s]

    sqlite_index = search.SQLITE_INDEX.replace(search.SPLIT_FUNCTION, "")
    _run(schema_editor, old(search.SQLITE_SCHEMA), sqlite_index, old(search.POSTGRES_SCHEMA))
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {search.SPLIT_FUNCTION}(text)")


class Migration(migrations.Migration):
    dependencies = [("review", "0002_search_index")]

    operations = [migrations.RunPython(split, unsplit, elidable=False)]
