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

Chinese and Japanese are written without spaces, so both engines' tokenizers read a
whole clause ("一只小猫在花园里玩耍") as one word and 小猫 never matched. Text is
indexed with a space around every CJK character (``split_cjk``), and a CJK search
word becomes a phrase of its characters: "小 猫" finds 小猫 wherever it occurs, as a
browser's find-in-page would. Characters rather than a dictionary segmenter (jieba):
measured on 100,000 Chinese prompts (bench/cjk_search_choice.py, README "Chinese in
search"), jieba's words missed single characters (猫 inside 小猫) and runs it cut
differently, cost 10 x more per prompt plus 2-3 s and 55 MB of dictionary per
process, and paged no faster. The split is a regular expression, so it runs
inside the triggers on both engines: a SQL function on PostgreSQL, and on SQLite
a Python function registered on every connection Django opens
(``add_sqlite_functions``), so no write path (bulk_create, QuerySet.update, raw
SQL through Django) can leave a prompt unsplit.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from videos.models import Generation

WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 12
# Scripts written without spaces between words: Hiragana and Katakana, the CJK ideograph
# blocks (BMP, extension A, compatibility, and the supplementary planes' extensions).
# Korean is left out: Hangul separates words with spaces. One list builds both the
# Python pattern and PostgreSQL's, so the index and the queries split alike.
CJK_RANGES = (
    (0x3005, 0x3007),  # 々 〆 〇 (the ideographic iteration mark, closing mark and zero)
    (0x3040, 0x30FF),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
CJK_CLASS = "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES)
CJK_CHAR = re.compile(f"([{CJK_CLASS}])")
# The same class in PostgreSQL's regular expression syntax (\uXXXX / \UXXXXXXXX escapes).
PG_CJK_CLASS = "".join(f"\\U{low:08X}-\\U{high:08X}" for low, high in CJK_RANGES)
SPLIT_FUNCTION = "review_split_cjk"


def split_cjk(text: str) -> str:
    """text with a space either side of every CJK character, so each is a word to the index."""
    return CJK_CHAR.sub(r" \1 ", text)


def is_cjk(char: str) -> bool:
    return CJK_CHAR.fullmatch(char) is not None


def add_sqlite_functions(sender: object, connection: object, **kwargs: object) -> None:
    """connection_created receiver: give SQLite the split the index triggers call.

    A Python function lives in the connection that registered it: a write from outside
    Django (the sqlite3 shell) to videos_generation fails with "no such function:
    review_split_cjk" rather than leaving a prompt unsearchable.
    """
    if getattr(connection, "vendor", None) == "sqlite":
        connection.connection.create_function(  # type: ignore[attr-defined]
            SPLIT_FUNCTION, 1, _split_or_null, deterministic=True
        )


def _split_or_null(text: str | None) -> str | None:
    return None if text is None else split_cjk(text)


def phrases(words: list[str]) -> list[list[str]]:
    """Each search word as the index tokens it must match in order (one unless it has CJK)."""
    return [split_cjk(word).split() for word in words]


def prefix_last(tokens: list[str]) -> bool:
    """Whether the last token matches as a prefix: Latin words do, a CJK character is whole.

    A prefix query also makes FTS5 merge every matching term's whole list before it can
    answer, where an exact one walks newest first and stops at the page size.
    """
    return not is_cjk(tokens[-1][-1])


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
SQLITE_INDEX = """
    INSERT INTO review_search (rowid, prompt, negative_prompt, tags, comments)
    SELECT g.id, review_split_cjk(g.prompt), review_split_cjk(g.negative_prompt),
           review_split_cjk(coalesce((SELECT group_concat(t.name, ' ') FROM review_tagging tg
                     JOIN review_tag t ON t.id = tg.tag_id WHERE tg.generation_id = g.id), '')),
           review_split_cjk(coalesce((SELECT group_concat(c.body, ' ') FROM review_comment c
                     WHERE c.generation_id = g.id), ''))
    FROM videos_generation g
"""


class SQLiteSearch(SearchBackend):
    def matching(
        self, queryset: QuerySet[Generation], words: list[str], before: int | None
    ) -> QuerySet[Generation]:
        # Every word; a CJK word as a phrase of its characters; a Latin word as a prefix.
        match = " ".join(
            f'"{" ".join(tokens)}"' + ("*" if prefix_last(tokens) else "")
            for tokens in phrases(words)
        )
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
            cursor.execute(SQLITE_INDEX + " WHERE g.id = %s", [generation_id])

    def rebuild(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM review_search")
            cursor.execute(SQLITE_INDEX)

    def ensure_schema(self) -> None:
        with connection.cursor() as cursor:
            for sql in SQLITE_SCHEMA:
                cursor.execute(sql)
            cursor.execute(
                SQLITE_INDEX
                + " WHERE NOT EXISTS (SELECT 1 FROM review_search s WHERE s.rowid = g.id)"
            )


# ---- PostgreSQL full-text search ----------------------------------------------------------
class PostgresSearch(SearchBackend):
    def matching(
        self, queryset: QuerySet[Generation], words: list[str], before: int | None
    ) -> QuerySet[Generation]:
        # \w+ words need no escaping; <-> is "followed by": a CJK word's characters in order.
        query = " & ".join(
            " <-> ".join(tokens) + (":*" if prefix_last(tokens) else "")
            for tokens in phrases(words)
        )
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
    "VALUES (new.id, review_split_cjk(new.prompt), review_split_cjk(new.negative_prompt), '', '');"
    " END",
    "CREATE TRIGGER IF NOT EXISTS review_search_update AFTER UPDATE OF prompt, negative_prompt "
    "ON videos_generation BEGIN UPDATE review_search SET prompt = review_split_cjk(new.prompt), "
    "negative_prompt = review_split_cjk(new.negative_prompt) WHERE rowid = new.id; END",
    "CREATE TRIGGER IF NOT EXISTS review_search_delete AFTER DELETE ON videos_generation BEGIN "
    "DELETE FROM review_search WHERE rowid = old.id; END",
]
SQLITE_TRIGGERS = ("review_search_insert", "review_search_update", "review_search_delete")
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
    # split_cjk in SQL: the same character class, so index and queries agree.
    f"""
    CREATE OR REPLACE FUNCTION review_split_cjk(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT regexp_replace(t, '([{PG_CJK_CLASS}])', ' \\1 ', 'g')
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION review_search_reindex(gid bigint) RETURNS void
    LANGUAGE sql AS $$
      INSERT INTO review_search (generation_id, document)
      SELECT g.id,
             setweight(to_tsvector('simple', review_split_cjk(coalesce(g.prompt, ''))), 'A')
             || to_tsvector('simple', review_split_cjk(coalesce(g.negative_prompt, '')))
             || to_tsvector('simple', review_split_cjk(coalesce((SELECT string_agg(t.name, ' ')
                  FROM review_tagging tg JOIN review_tag t ON t.id = tg.tag_id
                  WHERE tg.generation_id = g.id), '')))
             || to_tsvector('simple', review_split_cjk(coalesce((SELECT string_agg(c.body, ' ')
                  FROM review_comment c WHERE c.generation_id = g.id), '')))
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
    "DROP FUNCTION IF EXISTS review_split_cjk(text)",
    "DROP TABLE IF EXISTS review_search",
]
