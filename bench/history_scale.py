"""Claim: the history page and a search (English or Chinese) stay fast at 100,000 generations.

Goals: with 100,000 generations each answers within 2x of its time with 100, and the
number of SQL queries does not depend on the page size (no N+1).

Run: .venv/bin/python bench/history_scale.py [--rows 100000] [--repeat 15]

It builds a throwaway SQLite database (all migrations, so the real indexes and the
FTS5 triggers), measures with 100 generations, grows the table to --rows with
bulk_create, and measures the same requests again through Django's test client
(URL routing, middleware, forms, queries and template rendering included).
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKDIR = tempfile.mkdtemp(prefix="studio-bench-history-")
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)  # 100 MB of SQLite per run
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "SECRET_KEY": "bench-only",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "testserver",
        "SQLITE_PATH": os.path.join(WORKDIR, "bench.sqlite3"),
        "MEDIA_ROOT": os.path.join(WORKDIR, "media"),
        "DATABASE_URL": "",
        "LOG_LEVEL": "WARNING",
    }
)

import warnings  # noqa: E402

import django  # noqa: E402

# whitenoise warns that collectstatic has not run: irrelevant to what is measured.
warnings.filterwarnings("ignore", message="No directory at")

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from review.models import Comment, Rating, Star, Tag, Tagging  # noqa: E402
from videos.models import Generation  # noqa: E402

WORDS = (
    "city neon ocean sunset robot forest rain desert mountain cat dog car night river "
    "castle dragon lantern snow storm cloud garden bridge train space ship market glass "
    "paper boat golden silver ancient future crowd dancer violin smoke mirror"
).split()
# Each prompt also carries a Chinese clause (as a Chinese team's do), so CJK search is
# measured over the same rows: its words are indexed one character each (review/search.py).
WORDS_ZH = (
    "城市 霓虹 海洋 日落 机器人 森林 下雨 沙漠 高山 汽车 夜晚 河流 城堡 巨龙 灯笼 雪地 风暴 "
    "云朵 花园 桥梁 火车 太空 飞船 市场 玻璃 纸船 金色 银色 古老 未来 人群 舞者 烟雾 镜子"
).split()
GLUE_ZH = ["在", "和", "的", "里", "上", "，"]
MODELS = ["kling-v1", "kling-v1-6", "kling-v2-6", "kling-v3"]
STATUSES = ["succeeded"] * 8 + ["failed", "cancelled"]
SEARCH = "fox"  # in 60% of prompts: a page fills at 100 rows as at 100,000
SEARCH_ZH = "小猫"  # likewise in 60%, inside the Chinese clause
BATCH = 5_000


def fill(owners: list[User], start: int, count: int, rng: random.Random) -> None:
    """Add `count` generations older than every existing one (ids stay time-ordered)."""
    now = timezone.now()
    millis_now = int(now.timestamp() * 1000) - 1_577_836_800_000
    rows = []
    for n in range(start, start + count):
        seconds_ago = n * 37  # about 43 days for 100,000 rows
        words = rng.sample(WORDS, 6) + (["fox"] if rng.random() < 0.6 else [])
        rng.shuffle(words)
        zh = rng.sample(WORDS_ZH, 4) + (["小猫"] if rng.random() < 0.6 else [])
        rng.shuffle(zh)
        clause = "一只" + "".join(word + rng.choice(GLUE_ZH) for word in zh)
        rows.append(
            Generation(
                id=((millis_now - seconds_ago * 1000) << 20) | rng.getrandbits(20),
                owner=owners[n % len(owners)],
                prompt=f"a {' '.join(words)}，{clause}",
                negative_prompt="blurry" if n % 7 == 0 else "",
                model_name=MODELS[n % len(MODELS)],
                mode="pro" if n % 5 == 0 else "std",
                duration=10 if n % 3 == 0 else 5,
                aspect_ratio=["16:9", "9:16", "1:1"][n % 3],
                status=STATUSES[n % len(STATUSES)],
                created_at=now - timedelta(seconds=seconds_ago),
            )
        )
        if len(rows) == BATCH:
            Generation.objects.bulk_create(rows)
            rows = []
    Generation.objects.bulk_create(rows)


def judge(owners: list[User], rng: random.Random, count: int) -> None:
    """Stars, ratings, tags and comments on the newest generations (what a page shows)."""
    tags = [Tag.objects.get_or_create(name=name)[0] for name in ("keep", "hero", "retry", "blue")]
    newest = list(Generation.objects.order_by("-pk").values_list("pk", flat=True)[:count])
    for pk in newest[::2]:
        Star.objects.get_or_create(user=owners[0], generation_id=pk)
        for user in owners[:2]:
            Rating.objects.update_or_create(
                user=user, generation_id=pk, defaults={"value": rng.randint(1, 5)}
            )
        Tagging.objects.get_or_create(generation_id=pk, tag=rng.choice(tags))
        Comment.objects.create(generation_id=pk, author=owners[1], body="nice light", timecode=1.5)


def timed(client: Client, params: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process for one request, in milliseconds.

    CPU time is printed beside wall time because on a shared machine other processes
    stretch the wall time of one phase and not the other; this process's own CPU time
    they barely change.
    """
    for _ in range(3):  # warm caches (templates, SQLite pages)
        client.get("/history/", params)
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        response = client.get("/history/", params)
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - cpu_start) * 1000)
        assert response.status_code == 200
    return statistics.median(walls), statistics.median(cpus)


def query_counts(client: Client, params: dict[str, str]) -> list[int]:
    counts = []
    for per in ("10", "50", "100"):
        with CaptureQueriesContext(connection) as ctx:
            html = client.get("/history/", {**params, "per": per}).content.decode()
        assert html.count('class="history-row"') == int(per), "page not full"
        counts.append(len(ctx.captured_queries))
    return counts


REQUESTS = {
    "history page": {"per": "50"},
    f"search {SEARCH!r}": {"per": "50", "q": SEARCH},
    f"search {SEARCH_ZH!r}": {"per": "50", "q": SEARCH_ZH},
    "search + filters": {"per": "50", "q": SEARCH, "status": "succeeded", "mode": "std"},
}


def measure(client: Client, repeat: int) -> dict[str, tuple[float, float]]:
    return {name: timed(client, params, repeat) for name, params in REQUESTS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(5)

    call_command("migrate", verbosity=0)
    owners = [User.objects.create_user(f"member{n}", password="x") for n in range(5)]
    client = Client()
    client.force_login(owners[0])

    with transaction.atomic():
        fill(owners, 0, args.small, rng)
        judge(owners, rng, 60)
    small = measure(client, args.repeat)

    started = time.perf_counter()
    with transaction.atomic():
        fill(owners, args.small, args.rows - args.small, rng)
    fill_seconds = time.perf_counter() - started
    connection.cursor().execute("ANALYZE")
    large = measure(client, args.repeat)

    total = Generation.objects.count()
    print(
        f"history at scale: {args.small} vs {total:,} generations (filled in {fill_seconds:.1f} s)"
    )
    print(f"  median of {args.repeat} requests each, 50 rows per page")
    worst = worst_cpu = 0.0
    for name in REQUESTS:
        (wall, cpu), (wall_large, cpu_large) = small[name], large[name]
        ratio, cpu_ratio = wall_large / wall, cpu_large / cpu
        worst, worst_cpu = max(worst, ratio), max(worst_cpu, cpu_ratio)
        print(
            f"  {name:18} {wall:7.1f} ms -> {wall_large:7.1f} ms   ratio {ratio:4.2f}"
            f"   (CPU {cpu:6.1f} -> {cpu_large:6.1f} ms, ratio {cpu_ratio:4.2f})"
        )
    print(f"  worst ratio {worst:.2f} (goal <= 2): {'OK' if worst <= 2 else 'MISSED'}")
    print(f"  worst CPU-time ratio {worst_cpu:.2f}; load average now {os.getloadavg()[0]:.1f}")
    constant = True
    for name, params in REQUESTS.items():
        counts = query_counts(client, params)
        constant &= len(set(counts)) == 1
        print(f"  SQL queries, {name:18} at per page 10/50/100: {'/'.join(map(str, counts))}")
    print(f"  query count constant across page sizes: {'OK' if constant else 'MISSED'}")


if __name__ == "__main__":
    main()
