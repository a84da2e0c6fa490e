"""Claim: indexing CJK text one character at a time beats a word segmenter (jieba) for search.

What is compared, on 100,000 generated Chinese prompts in an SQLite FTS5 table (and in a
PostgreSQL tsvector table with a GIN index when --postgres URL is given):

* recall: how many of the prompts that contain a search string as a substring are found;
* the time to index a prompt, and the time for one 50-row page of results, newest first;
* jieba's start-up (dictionary load) and memory.

Run: .venv/bin/python bench/cjk_search_choice.py [--rows 100000] [--postgres URL]
jieba is not a dependency of the studio: `.venv/bin/pip install jieba==0.42.1` to include it
(without it only the character index is measured).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "SECRET_KEY": "bench-only",
        "DATABASE_URL": "",
        "SQLITE_PATH": os.path.join(tempfile.gettempdir(), "studio-bench-cjk-unused.sqlite3"),
    }
)

import django  # noqa: E402

django.setup()  # review.search imports the models; no database is opened

from review.search import split_cjk  # noqa: E402

WORDS = (
    "小猫 小狗 花园 城市 霓虹 海洋 日落 机器人 森林 下雨 沙漠 高山 汽车 夜晚 河流 城堡 巨龙 灯笼 "
    "雪地 风暴 云朵 桥梁 火车 太空 飞船 市场 玻璃 纸船 金色 银色 古老 未来 人群 舞者 小提琴 烟雾 "
    "镜子 阳光 草地 奔跑"
).split()
GLUE = ["的", "在", "和", "里", "上", "，"]
# Common (60% of prompts), rare (0.1%), single characters, runs across two words, absent.
QUERIES = ["狐狸", "小猫", "独角兽", "猫", "狸", "猫在", "园里", "提琴", "猫园"]


def prompts(count: int) -> list[str]:
    rng = random.Random(5)
    out = []
    for n in range(count):
        words = rng.sample(WORDS, 6) + (["狐狸"] if rng.random() < 0.6 else [])
        rng.shuffle(words)
        if n % 1000 == 0:
            words.append("独角兽")
        out.append("一只" + "".join(word + rng.choice(GLUE) for word in words))
    return out


class Scheme:
    """How text is indexed and how a search string becomes a query, per engine."""

    def __init__(self, name: str, index: Callable[[str], str], tokens: Callable[[str], list]):
        self.name, self.index, self.tokens = name, index, tokens

    def fts5(self, q: str) -> str:
        words = self.tokens(q)
        if self.name == "characters":  # the studio's query: a phrase of characters
            return '"' + " ".join(words) + '"'
        return " ".join(f'"{word}"*' for word in words)  # jieba's words, each a prefix

    def tsquery(self, q: str) -> str:
        words = self.tokens(q)
        if self.name == "characters":
            return " <-> ".join(words)
        return " & ".join(f"{word}:*" for word in words)


def schemes() -> list[Scheme]:
    chosen = [Scheme("characters", split_cjk, lambda q: split_cjk(q).split())]
    try:
        import logging

        import jieba
    except ImportError:
        print("jieba is not installed: measuring the character index only")
        return chosen
    jieba.setLogLevel(logging.WARNING)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    jieba.initialize()
    seconds = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"jieba {jieba.__version__}: dictionary loaded in {seconds:.2f} s, +{grown:.0f} MB")
    chosen.append(
        Scheme(
            "jieba words",
            lambda text: " ".join(w for w in jieba.cut_for_search(text) if w.strip()),
            lambda q: [w for w in jieba.cut(q) if w.strip()],
        )
    )
    return chosen


def page_ms(db: Any, sql: str, query: str) -> float:
    """Median time of one results page (sqlite3 or psycopg connection), in milliseconds."""
    db.execute(sql, [query]).fetchall()
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        db.execute(sql, [query]).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def sqlite_figures(scheme: Scheme, texts: list[str], docs: list[str], folder: str) -> None:
    path = os.path.join(folder, f"{scheme.name}.sqlite3")
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE s USING fts5(t, tokenize = 'unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO s (rowid, t) VALUES (?, ?)", enumerate(texts, 1))
    db.commit()
    print(f"  SQLite FTS5, {os.path.getsize(path) / 1e6:.1f} MB:")
    for q in QUERIES:
        match = scheme.fts5(q)
        found = db.execute("SELECT count(*) FROM s WHERE s MATCH ?", [match]).fetchone()[0]
        sql = "SELECT rowid FROM s WHERE s MATCH ? ORDER BY rowid DESC LIMIT 50"
        ms = page_ms(db, sql, match)
        report(q, match, found, docs, ms)
    db.close()


def postgres_figures(scheme: Scheme, texts: list[str], docs: list[str], url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS bench_cjk_choice")
        db.execute("CREATE TABLE bench_cjk_choice (id bigint PRIMARY KEY, d tsvector NOT NULL)")
        with db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO bench_cjk_choice VALUES (%s, to_tsvector('simple', %s))",
                list(enumerate(texts, 1)),
            )
        db.execute("CREATE INDEX ON bench_cjk_choice USING GIN (d)")
        db.execute("ANALYZE bench_cjk_choice")
        size = db.execute("SELECT pg_total_relation_size('bench_cjk_choice')").fetchone()[0]
        print(f"  PostgreSQL tsvector + GIN, {size / 1e6:.1f} MB:")
        where = "d @@ to_tsquery('simple', %s)"
        for q in QUERIES:
            query = scheme.tsquery(q)
            count = f"SELECT count(*) FROM bench_cjk_choice WHERE {where}"
            found = db.execute(count, [query]).fetchone()[0]
            sql = f"SELECT id FROM bench_cjk_choice WHERE {where} ORDER BY id DESC LIMIT 50"
            ms = page_ms(db, sql, query)
            report(q, query, found, docs, ms)
        db.execute("DROP TABLE bench_cjk_choice")


def report(q: str, query: str, found: int, docs: list[str], ms: float) -> None:
    truth = sum(q in doc for doc in docs)
    print(f"    {q:4} {query:22} found {found:6,} of {truth:6,} containing it   page {ms:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure there too")
    args = parser.parse_args()
    docs = prompts(args.rows)
    with tempfile.TemporaryDirectory(prefix="studio-bench-cjk-") as folder:
        for scheme in schemes():
            started = time.perf_counter()
            texts = [scheme.index(doc) for doc in docs]
            per_prompt = (time.perf_counter() - started) / len(docs) * 1e6
            print(f"{scheme.name}: {per_prompt:.1f} us to index a prompt")
            sqlite_figures(scheme, texts, docs, folder)
            if args.postgres:
                postgres_figures(scheme, texts, docs, args.postgres)


if __name__ == "__main__":
    main()
