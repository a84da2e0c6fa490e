"""Worker processes for tests: a real qcluster, and killing it the way a machine dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL a qcluster and its children: a worker machine that dies."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def start_qcluster(env: dict[str, str]) -> subprocess.Popen:
    """`manage.py qcluster` in its own process group, so a kill takes all its processes."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
