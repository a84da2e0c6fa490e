"""Full-text search over prompts, negative prompts, tags and comments: one interface, two engines.

Both engines keep one row per generation in a table named ``review_search``:

* SQLite (the default): an FTS5 virtual table whose rowid is the generation id.
* PostgreSQL: a table of ``tsvector`` documents with a GIN index.

Generations are created by code this app does not own (the web form, the API,
bulk loads), so their prompt text reaches the index through database triggers
on videos_generation: every insert path is covered and no model signal is
needed. Tags and comments change only through this app's model methods, which
call ``reindex()`` in the same transaction.

SQLite rebuilds a table for many ALTERs (a later videos migration adding a field
does), and a rebuild drops the table's triggers. So the schema is (re)ensured
after every ``migrate`` (ReviewConfig.ready connects ``ensure_schema`` to
post_migrate), which also indexes any generation that is missing.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from videos.models import Generation

WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 12


def terms(text: str) -> list[str]:
    """The words of a user's search, lower-cased: operators and quotes are not passed through."""
    return [word.lower() for word in WORD.findall(text or "")][:MAX_TERMS]


def newest_first(queryset: QuerySet[Generation], before: int | None) -> QuerySet[Generation]:
    """The keyset page order of the history: newest first, older than the cursor `before`."""
    queryset = queryset.order_by("-pk")
    return queryset if before is None else queryset.filter(pk__lt=before)


class SearchBackend:
    """What both engines share; each says how words match and how its index is kept."""

    def search(
        self, queryset: QuerySet[Generation], text: str, before: int | None
    ) -> QuerySet[Generation]:
        """Generations matching every word (as a prefix), newest first, older than `before`.

        No words (a blank box, or only punctuation) means no search: every generation.
        """
        words = terms(text)
        if not words:
            return newest_first(queryset, before)
        return self.matching(queryset, words, before)

    def matching(
        self, queryset: QuerySet[Generation], words: list[str], before: int | None
    ) -> QuerySet[Generation]:
        raise NotImplementedError

    def reindex(self, generation_id: int) -> None:
        """Rebuild one generation's document (after its tags or comments changed)."""
        raise NotImplementedError

    def rebuild(self) -> None:
        """Rebuild the whole index (after a restore or a bulk import without triggers)."""
        raise NotImplementedError

    def ensure_schema(self) -> None:
        """Create what is missing (table, triggers) and index generations not yet indexed."""
        raise NotImplementedError


# ---- SQLite FTS5 ------------------------------------------------------------------------
_SQLITE_INDEX = """
    INSERT INTO review_search (rowid, prompt, negative_prompt, tags, comments)
    SELECT g.id, g.prompt, g.negative_prompt,
           coalesce((SELECT group_concat(t.name, ' ') FROM review_tagging tg
                     JOIN review_tag t ON t.id = tg.tag_id WHERE tg.generation_id = g.id), ''),
           coalesce((SELECT group_concat(c.body, ' ') FROM review_comment c
                     WHERE c.generation_id = g.id), '')
    FROM videos_generation g
"""


class SQLiteSearch(SearchBackend):
    def matching(
        self, queryset: QuerySet[Generation], words: list[str], before: int | None
    ) -> QuerySet[Generation]:
        match = " ".join(f'"{word}"*' for word in words)  # every word, each as a prefix
        where = ["review_search.rowid = videos_generation.id", "review_search MATCH %s"]
        params: list[object] = [match]
        if before is not None:
            where.append("review_search.rowid < %s")
            params.append(before)
        # A join ordered by the FTS table's own rowid (not IN (...) ordered by the
        # generation id): FTS5 then walks its matches newest first and stops at the
        # page size, so a word found in 100,000 prompts costs what one in 100 does.
        # The ORM has no join to a virtual table, hence extra().
        return queryset.extra(
            tables=["review_search"], where=where, params=params, order_by=["-review_search.rowid"]
        )

    def reindex(self, generation_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM review_search WHERE rowid = %s", [generation_id])
            cursor.execute(_SQLITE_INDEX + " WHERE g.id = %s", [generation_id])

    def rebuild(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM review_search")
            cursor.execute(_SQLITE_INDEX)

    def ensure_schema(self) -> None:
        with connection.cursor() as cursor:
            for sql in SQLITE_SCHEMA:
                cursor.execute(sql)
            cursor.execute(
                _SQLITE_INDEX
                + " WHERE NOT EXISTS (SELECT 1 FROM review_search s WHERE s.rowid = g.id)"
            )


# ---- PostgreSQL full-text search ----------------------------------------------------------
class PostgresSearch(SearchBackend):
    def matching(
        self, queryset: QuerySet[Generation], words: list[str], before: int | None
    ) -> QuerySet[Generation]:
        query = " & ".join(f"{word}:*" for word in words)  # \w+ words need no escaping
        matches = RawSQL(
            "SELECT generation_id FROM review_search WHERE document @@ to_tsquery('simple', %s)",
            [query],
        )
        return newest_first(queryset.filter(pk__in=matches), before)

    def reindex(self, generation_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT review_search_reindex(%s)", [generation_id])

    def rebuild(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT review_search_reindex(id) FROM videos_generation")

    def ensure_schema(self) -> None:
        with connection.cursor() as cursor:
            for sql in POSTGRES_SCHEMA:
                cursor.execute(sql)
            cursor.execute(
                "SELECT review_search_reindex(g.id) FROM videos_generation g WHERE NOT EXISTS"
                " (SELECT 1 FROM review_search s WHERE s.generation_id = g.id)"
            )


def backend() -> SearchBackend:
    """The engine of the database in use."""
    return PostgresSearch() if connection.vendor == "postgresql" else SQLiteSearch()


def search(
    queryset: QuerySet[Generation], text: str, before: int | None = None
) -> QuerySet[Generation]:
    """See SearchBackend.search: the history's results, with or without search words."""
    return backend().search(queryset, text, before)


def reindex(generation_id: int) -> None:
    backend().reindex(generation_id)


def rebuild() -> None:
    backend().rebuild()


def ensure_schema(using: str = "default", **kwargs: object) -> None:
    """post_migrate receiver: keep the index and its triggers in place (see the module doc)."""
    from django.db import connections

    if connections[using].vendor not in ("sqlite", "postgresql"):
        return
    if "review_search" not in connections[using].introspection.table_names():
        return  # review's migrations have not run yet (e.g. migrating to an older state)
    backend().ensure_schema()


# ---- schema (used by migration 0002) --------------------------------------------------------
SQLITE_SCHEMA = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS review_search USING fts5("
    "prompt, negative_prompt, tags, comments, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS review_search_insert AFTER INSERT ON videos_generation BEGIN "
    "INSERT INTO review_search (rowid, prompt, negative_prompt, tags, comments) "
    "VALUES (new.id, new.prompt, new.negative_prompt, '', ''); END",
    "CREATE TRIGGER IF NOT EXISTS review_search_update AFTER UPDATE OF prompt, negative_prompt "
    "ON videos_generation BEGIN UPDATE review_search SET prompt = new.prompt, "
    "negative_prompt = new.negative_prompt WHERE rowid = new.id; END",
    "CREATE TRIGGER IF NOT EXISTS review_search_delete AFTER DELETE ON videos_generation BEGIN "
    "DELETE FROM review_search WHERE rowid = old.id; END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS review_search_insert",
    "DROP TRIGGER IF EXISTS review_search_update",
    "DROP TRIGGER IF EXISTS review_search_delete",
    "DROP TABLE IF EXISTS review_search",
]
POSTGRES_SCHEMA = [
    # No foreign key to videos_generation: PostgreSQL refuses to TRUNCATE a table that
    # another table references, and Django's flush (transactional tests, `manage.py
    # flush`) truncates videos_generation without knowing this table. Triggers below
    # delete a generation's document with it, and empty the index on TRUNCATE.
    "CREATE TABLE IF NOT EXISTS review_search ("
    " generation_id bigint PRIMARY KEY, document tsvector NOT NULL)",
    "ALTER TABLE review_search DROP CONSTRAINT IF EXISTS review_search_generation_id_fkey",
    "CREATE INDEX IF NOT EXISTS review_search_document ON review_search USING GIN (document)",
    """
    CREATE OR REPLACE FUNCTION review_search_reindex(gid bigint) RETURNS void
    LANGUAGE sql AS $$
      INSERT INTO review_search (generation_id, document)
      SELECT g.id,
             setweight(to_tsvector('simple', coalesce(g.prompt, '')), 'A')
             || to_tsvector('simple', coalesce(g.negative_prompt, ''))
             || to_tsvector('simple', coalesce((SELECT string_agg(t.name, ' ')
                  FROM review_tagging tg JOIN review_tag t ON t.id = tg.tag_id
                  WHERE tg.generation_id = g.id), ''))
             || to_tsvector('simple', coalesce((SELECT string_agg(c.body, ' ')
                  FROM review_comment c WHERE c.generation_id = g.id), ''))
      FROM videos_generation g WHERE g.id = gid
      ON CONFLICT (generation_id) DO UPDATE SET document = EXCLUDED.document;
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION review_search_trigger() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM review_search_reindex(NEW.id);
      RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS review_search_sync ON videos_generation",
    "CREATE TRIGGER review_search_sync AFTER INSERT OR UPDATE OF prompt, negative_prompt"
    " ON videos_generation FOR EACH ROW EXECUTE FUNCTION review_search_trigger()",
    """
    CREATE OR REPLACE FUNCTION review_search_forget() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM review_search;
      ELSE
        DELETE FROM review_search WHERE generation_id = OLD.id;
      END IF;
      RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS review_search_delete ON videos_generation",
    "CREATE TRIGGER review_search_delete AFTER DELETE ON videos_generation"
    " FOR EACH ROW EXECUTE FUNCTION review_search_forget()",
    "DROP TRIGGER IF EXISTS review_search_truncate ON videos_generation",
    "CREATE TRIGGER review_search_truncate AFTER TRUNCATE ON videos_generation"
    " FOR EACH STATEMENT EXECUTE FUNCTION review_search_forget()",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS review_search_sync ON videos_generation",
    "DROP TRIGGER IF EXISTS review_search_delete ON videos_generation",
    "DROP TRIGGER IF EXISTS review_search_truncate ON videos_generation",
    "DROP FUNCTION IF EXISTS review_search_forget()",
    "DROP FUNCTION IF EXISTS review_search_trigger()",
    "DROP FUNCTION IF EXISTS review_search_reindex(bigint)",
    "DROP TABLE IF EXISTS review_search",
]
