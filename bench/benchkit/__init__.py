"""What the benchmark scripts share: a studio server on 127.0.0.1 with its own temp state.

A package, not a script, so `make bench` (which runs bench/*.py) leaves it alone.
Nothing here imports Django: the scripts start servers before any Django setup.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, timeout: float = 30) -> None:
    """Return once something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def server_env(settings_module: str, folder: str, **extra: str) -> dict[str, str]:
    """A production-like studio environment on a temp SQLite database and media folder."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": f"{ROOT / 'bench'}{os.pathsep}{ROOT}",
        "STUDIO_READ_ENV_FILE": "0",
        "SECRET_KEY": "bench-only-secret-key-" + "x" * 30,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SQLITE_PATH": os.path.join(folder, "bench.sqlite3"),
        "MEDIA_ROOT": os.path.join(folder, "media"),
        "DATABASE_URL": "",
        **extra,
    }
