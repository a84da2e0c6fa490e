"""Claim: a 200 MB video streams through the media views with less than 20 MB of memory growth.

Run: .venv/bin/python bench/media_memory.py [--megabytes 200]   (exit 1 if growth >= 20 MB)

One server process: gunicorn with one sync worker on 127.0.0.1, on a temporary SQLite
database and a temporary MEDIA_ROOT holding one generation whose video is 200 MB of random
bytes. The worker's peak resident memory (VmHWM, reset before each target through
/proc/<pid>/clear_refs, and VmRSS sampled every 5 ms) is compared with its resident memory
just before the target's requests. Targets, each after a warm-up request:
  session   GET /generations/<pk>/media/video/ as a signed-in member (videos/media.py)
  signed    GET /media/s/<token>/, the session-free URL API clients get
  ranges    Range requests on the signed URL: the first MB, a 100 MB middle slice,
            the last 5 MB (suffix range) and everything from 150 MB on
  naive     the baseline (bench/mediabench/urls.py): HttpResponse(open(...).read())
Every answer is checked byte for byte (SHA-256 of the whole file or of the slice).
Whole-file answers are FileResponses, which gunicorn sends with sendfile(2) (no copy through
Python at all); Range answers go through videos/media.py's 256 kB generator.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchkit import ROOT, free_port, server_env, wait_for

GOAL_MB = 20.0
MB = 1024 * 1024


def setup_database(megabytes: int) -> None:
    """In a child process: migrate, a member with a session, one generation with a big video."""
    import django

    django.setup()
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from videos.media import signed_media_path
    from videos.models import Generation, Status

    call_command("migrate", verbosity=0, interactive=False)
    member = User.objects.create_user("bench", password="bench-password-1")
    name = "generations/bench/video.mp4"
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for _ in range(megabytes):
            chunk = os.urandom(MB)
            digest.update(chunk)
            fh.write(chunk)
    generation = Generation.objects.create(
        owner=member, prompt="a 200 MB clip", status=Status.SUCCEEDED, video=name
    )
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(member.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = member.get_session_auth_hash()
    session.create()
    facts = {
        "pk": generation.pk,
        "file": str(path),
        "sha256": digest.hexdigest(),
        "signed": signed_media_path(name),
        "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
    }
    print(json.dumps(facts))


def worker_pid(master: int, timeout: float = 30) -> int:
    """The pid of gunicorn's one worker (the process that serves, whose memory we watch)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Sampler:
    """Samples a process's VmRSS every few ms; also resets and reads its peak (VmHWM)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmRSS"))
            time.sleep(0.005)

    def __enter__(self) -> Sampler:
        # Writing 5 to clear_refs resets VmHWM, so the peak is this target's own.
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self.before_kb = status_kb(self.pid, "VmRSS")
        self.peak_kb = self.before_kb
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmHWM"))

    @property
    def growth_mb(self) -> float:
        return (self.peak_kb - self.before_kb) / 1024


@dataclass
class Fetched:
    status: int
    length: int
    sha256: str
    seconds: float


def fetch(port: int, path: str, headers: dict[str, str]) -> Fetched:
    """GET a URL, reading the body in 1 MB pieces (the client holds no more than that)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    digest, length = hashlib.sha256(), 0
    while chunk := response.read(MB):
        digest.update(chunk)
        length += len(chunk)
    conn.close()
    return Fetched(response.status, length, digest.hexdigest(), time.perf_counter() - started)


def slice_sha256(file: str, start: int, length: int) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        fh.seek(start)
        remaining = length
        while remaining > 0:
            chunk = fh.read(min(MB, remaining))
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def measure_whole(
    port: int, pid: int, path: str, headers: dict[str, str], facts: dict, size: int
) -> float:
    fetch(port, path, {**headers, "Range": "bytes=0-1023"})  # warm-up: code paths loaded
    with Sampler(pid) as sampler:
        got = fetch(port, path, headers)
    assert got.status == 200, f"{path}: HTTP {got.status}"
    assert got.length == size and got.sha256 == facts["sha256"], f"{path}: wrong bytes"
    return sampler.growth_mb


def measure_ranges(port: int, pid: int, path: str, facts: dict, size: int) -> tuple[float, int]:
    ranges = [
        ("bytes=0-1048575", 0, MB),
        (f"bytes={size // 4}-{size // 4 + 100 * MB - 1}", size // 4, 100 * MB),
        ("bytes=-5242880", size - 5 * MB, 5 * MB),
        (f"bytes={size * 3 // 4}-", size * 3 // 4, size - size * 3 // 4),
    ]
    fetch(port, path, {"Range": "bytes=0-1023"})
    total = 0
    with Sampler(pid) as sampler:
        for header, start, length in ranges:
            got = fetch(port, path, {"Range": header})
            assert got.status == 206 and got.length == length, f"{header}: {got}"
            assert got.sha256 == slice_sha256(facts["file"], start, length), (
                f"{header}: wrong bytes"
            )
            total += length
    return sampler.growth_mb, total


def main(args: argparse.Namespace) -> int:
    folder = tempfile.mkdtemp(prefix="media-bench-")
    env = server_env(
        "mediabench.settings",
        folder,
        SESSION_COOKIE_SECURE="0",
        STUDIO_MAX_DOWNLOAD_BYTES=str(4096 * MB),
    )
    server = None
    try:
        setup = subprocess.run(
            [sys.executable, __file__, "--setup", "--megabytes", str(args.megabytes)],
            env=env, cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        facts = json.loads(setup.stdout.strip().splitlines()[-1])
        size = args.megabytes * MB
        port = free_port()
        gunicorn = Path(sys.executable).parent / "gunicorn"
        server = subprocess.Popen(
            [str(gunicorn), "studio.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "sync",
             "--timeout", "300", "--log-level", "warning", "--no-control-socket"],
            env=env, cwd=ROOT, start_new_session=True,
        )  # fmt: skip
        wait_for(port)
        pid = worker_pid(server.pid)
        pk = facts["pk"]
        session = {"Cookie": facts["cookie"]}
        page_url = f"/generations/{pk}/media/video/"
        results = {
            "session": measure_whole(port, pid, page_url, session, facts, size),
            "signed": measure_whole(port, pid, facts["signed"], {}, facts, size),
        }
        ranges_growth, ranges_bytes = measure_ranges(port, pid, facts["signed"], facts, size)
        results["naive"] = measure_whole(port, pid, f"/bench/naive/{pk}", {}, facts, size)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    mb = args.megabytes
    naive = results["naive"]
    for name, label in (("session", "signed-in route"), ("signed", "signed URL")):
        growth = results[name]
        print(
            f"media streaming {mb} MB ({label}): RSS growth {growth:.1f} MB "
            f"(goal < {GOAL_MB:.0f} MB); naive whole-file read: {naive:.1f} MB"
        )
    print(
        f"range requests (4, {ranges_bytes / MB:.0f} MB in all): RSS growth {ranges_growth:.1f} MB "
        f"(goal < {GOAL_MB:.0f} MB)"
    )
    worst = max(results["session"], results["signed"], ranges_growth)
    return 0 if worst < GOAL_MB else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.setup:
        setup_database(arguments.megabytes)
        sys.exit(0)
    sys.exit(main(arguments))
