"""The full-text index (review/search.py) and the indexes the history's keyset queries need.

The indexes live on videos_generation but are created here with IF NOT EXISTS, so
the videos app's migrations stay the upstream engineer's: each pairs a filter with
the primary key so "WHERE status = ? ORDER BY id DESC LIMIT n" reads n index
entries instead of scanning and sorting.
"""

from django.db import migrations

from review import search

GENERATION_INDEXES = [
    ("review_gen_status_id", "status, id"),
    ("review_gen_model_id", "model_name, id"),
    ("review_gen_key_id", "api_key_id, id"),
    ("review_gen_parent_id", "parent_id, id"),
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = search.POSTGRES_SCHEMA if vendor == "postgresql" else search.SQLITE_SCHEMA
    for sql in statements:
        schema_editor.execute(sql)
    for name, columns in GENERATION_INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON videos_generation ({columns})")
    # Index the generations that existed before this migration.
    if vendor == "postgresql":
        schema_editor.execute("SELECT review_search_reindex(id) FROM videos_generation")
    else:
        schema_editor.execute(
            "INSERT INTO review_search (rowid, prompt, negative_prompt, tags, comments) "
            "SELECT id, prompt, negative_prompt, '', '' FROM videos_generation"
        )


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in search.POSTGRES_DROP if vendor == "postgresql" else search.SQLITE_DROP:
        schema_editor.execute(sql)
    for name, _ in GENERATION_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0001_initial"),
        ("videos", "0002_seed_catalogue_and_local_provider"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
