"""Claim: GET one task on the Kling route has at least 0.7 of a bare Django JSON view's throughput.

Run: .venv/bin/python bench/api_throughput.py [--requests N] [--concurrency C]   (exit 1 if < 0.7)

One run, one server: gunicorn (2 sync workers) on 127.0.0.1 against a temporary SQLite
database that the script migrates and fills with 20,000 generations. Every route goes through
the same middleware stack. Baselines (bench/apibench/urls.py), no auth:
  baseline  get_object_or_404(Generation, pk=pk), answer four fields as JSON (the goal's yardstick)
  lean      .values() of four columns, answer JSON: the least a Django row read costs (shown too)
The Kling route authenticates the Bearer key (cached for 2 s on reads), counts the request
for the rate limit (in memory, written to its minute bucket at least every second), reads the
task's twelve columns with values() and answers the Kling envelope. A client in another
process sends bounded requests with C threads; rounds are interleaved so all targets see
the same machine load.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchkit import ROOT, free_port, server_env, wait_for

GOAL = 0.7
ROUNDS = 3
ROWS = 20_000


def setup_database() -> None:
    """In a child process: migrate, add a user, a key and ROWS generations; print ids and secret."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from api.models import ApiKey
    from videos.models import Generation, Status

    call_command("migrate", verbosity=0, interactive=False)
    owner = User.objects.create_user("bench", password="bench-password-1")
    key, secret = ApiKey.issue(owner, "bench", requests_per_minute=2_000_000_000)
    rows = [
        Generation(
            owner=owner,
            api_key=key,
            prompt=f"bench clip {i}",
            status=Status.FAILED,
            status_message="x",
        )
        for i in range(ROWS)
    ]
    Generation.objects.bulk_create(rows, batch_size=2000)
    target = Generation.objects.order_by("id")[ROWS // 2]
    print(json.dumps({"task_id": target.pk, "secret": secret}))


def client_run(port: int, path: str, headers: dict[str, str], count: int, concurrency: int) -> dict:
    """In the client process: `count` GETs over `concurrency` threads; latencies in ms."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_thread = [
        count // concurrency + (1 if i < count % concurrency else 0) for i in range(concurrency)
    ]

    def worker(n: int) -> None:
        nonlocal errors
        mine, bad = [], 0
        for _ in range(n):
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            mine.append((time.perf_counter() - started) * 1000)
            bad += response.status != 200
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(n,)) for n in per_thread]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"seconds": time.perf_counter() - started, "latencies": latencies, "errors": errors}


def client_main(args: argparse.Namespace) -> None:
    """The client process: reads the plan on stdin, prints results as JSON."""
    plan = json.loads(sys.stdin.read())
    results = {}
    for target in plan["targets"].values():
        client_run(
            plan["port"], target["path"], target["headers"], plan["warmup"], plan["concurrency"]
        )
    for name in plan["targets"]:
        results[name] = {"seconds": 0.0, "latencies": [], "errors": 0}
    for _round in range(plan["rounds"]):
        for name, target in plan["targets"].items():
            got = client_run(
                plan["port"],
                target["path"],
                target["headers"],
                plan["per_round"],
                plan["concurrency"],
            )
            results[name]["seconds"] += got["seconds"]
            results[name]["latencies"] += got["latencies"]
            results[name]["errors"] += got["errors"]
    print(json.dumps(results))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main(args: argparse.Namespace) -> int:
    folder = tempfile.mkdtemp(prefix="api-bench-")
    env = server_env("apibench.settings", folder)
    server = None
    try:
        setup = subprocess.run(
            [sys.executable, __file__, "--setup"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        facts = json.loads(setup.stdout.strip().splitlines()[-1])
        port = free_port()
        gunicorn = Path(sys.executable).parent / "gunicorn"
        server = subprocess.Popen(
            [str(gunicorn), "studio.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--worker-class", "sync", "--log-level", "warning",
             "--no-control-socket"],
            env=env, cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        wait_for(port)
        task_id = facts["task_id"]
        plan = {
            "port": port,
            "concurrency": args.concurrency,
            "warmup": 200,
            "rounds": ROUNDS,
            "per_round": args.requests // ROUNDS,
            "targets": {
                "baseline": {"path": f"/bench/baseline/{task_id}", "headers": {}},
                "lean": {"path": f"/bench/lean/{task_id}", "headers": {}},
                "kling": {
                    "path": f"/kling/v1/videos/text2video/{task_id}",
                    "headers": {"Authorization": f"Bearer {facts['secret']}"},
                },
            },
        }
        client = subprocess.run(
            [sys.executable, __file__, "--client"], input=json.dumps(plan), capture_output=True,
            text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        results = json.loads(client.stdout)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    print(f"cpus: {os.cpu_count()}, gunicorn 2 sync workers, SQLite, {ROWS} generations, "
          f"{args.concurrency} client threads, {ROUNDS} interleaved rounds")  # fmt: skip
    rates = {}
    for name in ("baseline", "lean", "kling"):
        r = results[name]
        n = len(r["latencies"])
        rates[name] = n / r["seconds"]
        p50, p99 = statistics.median(r["latencies"]), percentile(r["latencies"], 99)
        print(
            f"{name:>8}: {n} requests, {rates[name]:7.1f} req/s, p50 {p50:.2f} ms,"
            f" p99 {p99:.2f} ms, errors {r['errors']}"
        )
    ratio = rates["kling"] / rates["baseline"]
    print(f"ratio kling / baseline throughput: {ratio:.2f} (goal >= {GOAL})")
    print(f"ratio kling / lean throughput: {rates['kling'] / rates['lean']:.2f} (for reference)")
    failed = any(results[name]["errors"] for name in results)
    return 0 if ratio >= GOAL and not failed else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per target, over all rounds")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.setup:
        setup_database()
    elif options.client:
        client_main(options)
    else:
        sys.exit(main(options))
