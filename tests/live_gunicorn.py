"""A real gunicorn serving the studio against the test database, the way `make run` serves it.

Several worker processes (each with threads), so tests see what production sees: requests
of one client land in different processes that share only the database.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.processes import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**extra: str) -> dict[str, str]:
    """The studio's production settings on the test database (SQLite file or PostgreSQL)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "STUDIO_READ_ENV_FILE": "0",
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "STUDIO_ENCRYPTION_KEY": settings.STUDIO_ENCRYPTION_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
    }
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = connection.settings_dict["NAME"]
        env["DATABASE_URL"] = ""
    else:
        from tests.scale.helpers import database_url

        env["DATABASE_URL"] = database_url()
        env["REDIS_URL"] = settings.REDIS_URL
        env["STUDIO_Q_NAME"] = settings.Q_CLUSTER["name"]
    env.pop("STUDIO_Q_SYNC", None)
    env.update(extra)
    return env


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not listen on {port} within {timeout} s")


@contextmanager
def gunicorn(workers: int = 3, threads: int = 4, **env: str) -> Iterator[str]:
    """Serve the studio with `workers` processes; yields its base URL; stopped at the end."""
    port = free_port()
    binary = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(binary), "studio.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--timeout", "120",
         "--no-control-socket", "--log-level", "warning"],
        cwd=ROOT,
        env=server_env(**env),
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
