"""Claim: under upstream faults and worker crashes, no generation is lost and none is paid twice.

Run: .venv/bin/python bench/fault_run.py [--generations 300] [--kills 2]   (exits 1 on a miss)

Everything is real except the upstream: a gunicorn server of the studio on 127.0.0.1 with a
fresh database, a `manage.py qcluster` worker, and a studio API key. The bench creates the
generations through the Kling-native route (POST /kling/v1/videos/text2video) while the
Kling simulator injects faults (5xx, 1302/1303, slow answers, creates accepted and then
the connection dropped or answered 500, malformed bodies) and posts every upstream
callback twice; it kills the worker's whole process group with SIGKILL and restarts it
`--kills` times. Then every generation is read back through the API and from storage.

SQLite and django-q2's database broker by default; with DATABASE_URL and REDIS_URL set it
runs in scale mode: a fresh PostgreSQL database on that server and a private Redis queue.
Poll and backoff delays are shortened (STUDIO_POLL_SCALE) to suit 2-6 s simulated clips.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchkit import ROOT, free_port

sys.path.insert(0, str(ROOT))
FAULTS = [
    "500",
    "503",
    "504",
    "rate_limit",  # 1302
    "concurrency",  # 1303
    "slow",  # longer than the studio's upstream timeout
    "malformed",
    "drop_after_accept",  # creates only: the task IS created, the answer never arrives
    "accept_then_500",  # creates only: the task IS created, the answer is a 500
]


def scale_database(url: str, name: str) -> str:
    """Create an empty PostgreSQL database next to the one in DATABASE_URL; returns its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def configure(work: Path, port: int) -> dict[str, Any]:
    """The environment every process of the run shares (web server, worker, this script)."""
    run = f"fault-run-{os.getpid()}"
    env = {
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "STUDIO_READ_ENV_FILE": "0",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "STUDIO_ENCRYPTION_KEY": "",
        "MEDIA_ROOT": str(work / "media"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "STUDIO_PUBLIC_URL": f"http://127.0.0.1:{port}",  # upstream callbacks come here
        "STUDIO_ALLOW_LOOPBACK_URLS": "1",  # the simulator serves the videos on 127.0.0.1
        "STUDIO_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "STUDIO_Q_NAME": run,
        "STUDIO_WORKERS": os.environ.get("STUDIO_WORKERS", "2"),
        # Short clips: poll every 0.3 s at first; a job held by a killed worker is
        # taken over after 15 s; an ambiguous create is looked up after 3 s.
        "STUDIO_POLL_SCALE": "0.1",
        "STUDIO_LEASE_SECONDS": "15",
        "STUDIO_UPSTREAM_TIMEOUT": "1",
        "STUDIO_LOOKUP_GRACE_SECONDS": "3",
        "STUDIO_DOWNLOAD_TIMEOUT": "10",
        "LOG_LEVEL": "WARNING",
    }
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    info: dict[str, Any] = {"env": env, "drop": None}
    if database_url and redis_url:
        name = run.replace("-", "_")
        env["DATABASE_URL"] = scale_database(database_url, name)
        env["REDIS_URL"] = redis_url
        info["drop"] = (database_url, name)
        info["mode"] = "scale mode: PostgreSQL + django-q2 on Redis"
    else:
        env["DATABASE_URL"], env["REDIS_URL"] = "", ""
        env["SQLITE_PATH"] = str(work / "studio.sqlite3")
        info["mode"] = "SQLite + django-q2's database broker"
    os.environ.update(env)
    return info


class Processes:
    """The studio's web server and its worker, started like `scripts/serve` does."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port = {**os.environ, **env}, port
        self.log = open(log, "ab")  # noqa: SIM115 - open for the whole run
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def _start(self, *argv: str) -> subprocess.Popen:
        return subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log, start_new_session=True
        )

    def start_web(self) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        bind = f"127.0.0.1:{self.port}"
        args = ["--workers", "2", "--threads", "4", "--timeout", "60"]
        self.web = self._start(gunicorn, "studio.wsgi", "--bind", bind, *args)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the web server did not start within 30 s")

    def start_worker(self) -> None:
        self.worker = self._start(sys.executable, "manage.py", "qcluster")

    def kill_worker(self) -> None:
        """SIGKILL the qcluster's whole process group: the worker machine dies mid-work."""
        if self.worker is not None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait()
            self.worker = None

    def stop(self) -> None:
        self.kill_worker()
        if self.web is not None:
            os.killpg(self.web.pid, signal.SIGTERM)
            try:
                self.web.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.web.pid, signal.SIGKILL)
        self.log.close()


def api(port: int, secret: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """One request to the studio API; returns the JSON answer (errors included)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return {"http_status": exc.code, **json.loads(exc.read() or b"{}")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=300)
    parser.add_argument("--kills", type=int, default=2, help="worker SIGKILLs and restarts")
    parser.add_argument("--rate", type=float, default=6.0, help="creates per second")
    parser.add_argument("--fault-rate", type=float, default=0.15)
    parser.add_argument("--max-seconds", type=float, default=540, help="give up after this")
    opts = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fault-run-"))
    port = free_port()
    info = configure(work, port)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("studio_setup", stdout=open(os.devnull, "w"))  # noqa: SIM115 - the schedule
    procs = Processes(info["env"], port, work / "processes.log")
    try:
        return run(opts, info, procs, port)
    finally:
        procs.stop()
        if info["drop"]:
            from django.db import connections

            connections.close_all()
            drop_database(*info["drop"])
            import redis

            redis.from_url(info["env"]["REDIS_URL"]).delete(
                f"django_q:{info['env']['STUDIO_Q_NAME']}:q"
            )


def run(opts: argparse.Namespace, info: dict[str, Any], procs: Processes, port: int) -> int:
    from django.contrib.auth.models import User

    from api.models import ApiKey
    from simulator import Simulator
    from simulator.testing import disable_local_providers, provider_for
    from videos.models import Generation, Status

    hook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    sim = Simulator(
        fault_rate=opts.fault_rate,
        fault_choices=FAULTS,
        slow_seconds=1.5,
        min_seconds=2,
        max_seconds=6,
        callback_mode="twice",  # every callback is delivered twice
        webhook_secret=hook_secret,
        seed=2024,
    ).start()
    disable_local_providers()
    provider = provider_for(sim, max_concurrent=100)
    provider.set_webhook_secret(hook_secret)
    provider.save()
    owner = User.objects.create_user("fault-run")
    _, secret = ApiKey.issue(owner, "fault-run", max_concurrent=10_000, requests_per_minute=100_000)

    print(f"fault run: {opts.generations} generations, {opts.kills} worker kills, {info['mode']}")
    started = time.monotonic()
    procs.start_web()
    procs.start_worker()
    task_ids: list[str] = []
    create_errors: list[Any] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        body = {"model_name": "kling-v1", "prompt": f"fault run clip {n}", "duration": "5"}
        answer = api(port, secret, "POST", "/kling/v1/videos/text2video", body)
        with lock:
            if answer.get("code") == 0:
                task_ids.append(answer["data"]["task_id"])
            else:
                create_errors.append(answer)

    # Kill k happens once k/(kills+1) of the generations exist, and the worker has run >= 4 s.
    kill_at = [opts.generations * k // (opts.kills + 1) for k in range(1, opts.kills + 1)]
    kills_done, last_start = 0, time.monotonic()
    deadline = started + opts.max_seconds
    with ThreadPoolExecutor(max_workers=6) as pool:
        for n in range(opts.generations):
            pool.submit(create, n)
            time.sleep(1 / opts.rate)
            if kills_done < opts.kills and n >= kill_at[kills_done]:
                if time.monotonic() - last_start >= 4:
                    kills_done, last_start = kill_and_restart(procs, kills_done, started)
    ids = [int(pk) for pk in task_ids]
    pending = Generation.objects.filter(pk__in=ids, status__in=Generation.PENDING)
    last_report = 0.0
    while time.monotonic() < deadline:
        left = pending.count()
        if kills_done < opts.kills and time.monotonic() - last_start >= 4:
            kills_done, last_start = kill_and_restart(procs, kills_done, started)
        elif not left and kills_done >= opts.kills:
            break
        if time.monotonic() - last_report >= 15:
            last_report = time.monotonic()
            print(f"  {time.monotonic() - started:5.0f} s: {left} of {len(ids)} still pending")
        time.sleep(0.5)
    wall = time.monotonic() - started
    sim.stop()

    correct, problems = 0, Counter()
    for generation in Generation.objects.filter(pk__in=ids):
        ok, why = check(generation, sim, port, secret)
        correct += ok
        if not ok:
            problems[why] += 1
    tasks_each = Counter(len(sim.tasks_for(str(pk))) for pk in ids)
    statuses = Counter(Generation.objects.filter(pk__in=ids).values_list("status", flat=True))
    lost = opts.generations - correct
    print(f"faults served by the simulator: {dict(sorted(sim.faults_served.items()))}")
    print(
        f"upstream callback deliveries: {len(sim.callback_log)} (every one sent twice); "
        f"create requests received: {sim.counts['create']} (faulted ones included); "
        f"statuses: {dict(statuses)}"
    )
    if create_errors:
        print(f"API create errors: {len(create_errors)}, e.g. {create_errors[0]}")
    if problems:
        print(f"problems: {dict(problems)}")
    print(f"generations finished correctly: {correct}/{opts.generations}")
    print(f"generations lost: {lost} (goal 0)")
    print(
        f"upstream tasks per generation: {dict(sorted(tasks_each.items()))} "
        f"(goal exactly 1 for all {opts.generations})"
    )
    print(f"worker kills: {kills_done}; wall time: {wall:.1f} s")
    ok = (
        lost == 0
        and tasks_each == Counter({1: opts.generations})
        and kills_done == opts.kills
        and statuses.get(Status.SUCCEEDED, 0) == opts.generations
    )
    print("goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


def kill_and_restart(procs: Processes, kills_done: int, started: float) -> tuple[int, float]:
    procs.kill_worker()
    print(f"  {time.monotonic() - started:5.0f} s: worker killed (SIGKILL), restarting it")
    procs.start_worker()
    return kills_done + 1, time.monotonic()


def check(generation: Any, sim: Any, port: int, secret: str) -> tuple[bool, str]:
    """Finished correctly: succeeded through the API, stored whole, from its one upstream task."""
    from django.conf import settings

    if generation.status != "succeeded":
        return False, f"status {generation.status}: {generation.status_message[:80]}"
    answer = api(port, secret, "GET", f"/kling/v1/videos/text2video/{generation.pk}")
    data = answer.get("data") or {}
    videos = (data.get("task_result") or {}).get("videos") or [{}]
    if data.get("task_status") != "succeed" or not videos[0].get("url"):
        return False, f"the API answers {answer}"[:120]
    stored = Path(settings.MEDIA_ROOT) / generation.video.name
    if not stored.is_file() or stored.stat().st_size != generation.video_bytes:
        return False, "the stored video is missing or truncated"
    tasks = sim.tasks_for(str(generation.pk))
    if len(tasks) != 1 or tasks[0].task_id != generation.upstream_task_id:
        return False, f"{len(tasks)} upstream tasks"
    return True, ""


if __name__ == "__main__":
    sys.exit(main())
