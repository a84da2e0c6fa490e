"""`make setup` and `make run` in a copy of the checkout: what they create, and how they stop.

The copy shares this checkout's .venv (a symlink; make is told not to rebuild it) and has
its own .env, database, media and .run/, so nothing here touches the real checkout or the
other tests' servers (each run gets a free port). A stop is judged by the processes left
in the session `make run` started in: none may remain.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.db import connection

from simulator.testing import wait_until
from tests.processes import ROOT, kill

COPIED = ["api", "review", "static", "studio", "templates", "videos", "scripts"]
COPIED_FILES = ["manage.py", "Makefile", ".env.example", "pyproject.toml"]
MAKE = ["make", "--no-print-directory", "-o", ".venv/.installed"]  # never rebuild the venv
STOPPED_WITHIN = 60  # seconds; the design bound is 15 s, this only tells a stop from a hang


@dataclass
class Checkout:
    path: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        """A login shell's environment: none of the test run's Django or studio variables."""
        return {"PATH": os.environ["PATH"], "HOME": str(self.home), "LANG": "C.UTF-8", **extra}


def copy_checkout(target: Path) -> Path:
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    for name in COPIED_FILES:
        shutil.copy2(ROOT / name, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Checkout:
    """A copy of the checkout after `make setup`, as a newcomer's first `make run` leaves it."""
    base = tmp_path_factory.mktemp("studio-copy")
    home = base / "home"
    home.mkdir()
    copy = Checkout(copy_checkout(base / "studio"), home)
    setup = subprocess.run(
        [*MAKE, "setup"], cwd=copy.path, env=copy.env(), capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return copy


# ---- what setup creates --------------------------------------------------------------------
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_setup_creates_the_secret_files_readable_by_their_owner_only(checkout: Checkout) -> None:
    for name in [".env", "db.sqlite3", ".run/login"]:
        assert mode(checkout.path / name) == 0o600, name
    env_file = (checkout.path / ".env").read_text()
    assert "\nSECRET_KEY=" in env_file and "\nSECRET_KEY=\n" not in env_file
    assert "admin" in (checkout.path / ".run" / "login").read_text()
    assert mode(checkout.path / ".run") == 0o700


# ---- running and stopping --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_processes(sid: int) -> dict[int, str]:
    """Live processes (zombies aside) of a session: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError):
            continue
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


@dataclass
class Running:
    make: subprocess.Popen
    port: int
    log: Path

    def processes(self) -> dict[int, str]:
        return session_processes(self.make.pid)


@pytest.fixture
def running(checkout: Checkout, tmp_path: Path) -> Iterator[Running]:
    """`make run` in a new session (its own process group), up and serving, worker running."""
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            [*MAKE, "-o", "setup", "run"],  # setup was done once for the module
            cwd=checkout.path,
            env=checkout.env(PORT=str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = Running(make, port, log)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert make.poll() is None, log.read_text()
            if "Q Cluster" in log.read_text() and " running." in log.read_text() and serving(port):
                break
            time.sleep(0.5)
        else:
            pytest.fail("make run did not come up:\n" + log.read_text())
        commands = " ".join(run.processes().values())
        assert "gunicorn" in commands and "qcluster" in commands, commands
        yield run
    finally:
        for pid in run.processes():  # whatever a failed test left: this session only
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        make.wait()


def serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/login/", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_gone(run: Running) -> dict[int, str]:
    """Wait for every process of the session to end; what is left after the deadline."""
    deadline = time.monotonic() + STOPPED_WITHIN
    while time.monotonic() < deadline and run.processes():
        time.sleep(0.2)
    return run.processes()


def test_sigterm_to_the_process_group_stops_web_and_worker(running: Running) -> None:
    os.killpg(running.make.pid, signal.SIGTERM)  # what systemd and container runtimes send
    assert wait_until_gone(running) == {}, running.log.read_text()[-3000:]
    assert not serving(running.port)


def test_sigterm_to_make_run_alone_stops_web_and_worker(
    checkout: Checkout, running: Running
) -> None:
    # While it runs: gunicorn's control socket is this checkout's, not the home directory's
    # (~/.gunicorn/gunicorn.ctl, which every studio of the user would fight over).
    assert (checkout.path / ".run" / "gunicorn.ctl").is_socket()
    assert not (checkout.home / ".gunicorn").exists()
    os.kill(running.make.pid, signal.SIGTERM)
    assert wait_until_gone(running) == {}, running.log.read_text()[-3000:]
    assert not serving(running.port)


def test_ctrl_c_stops_web_and_worker(running: Running) -> None:
    os.killpg(running.make.pid, signal.SIGINT)  # the terminal sends SIGINT to the group
    assert wait_until_gone(running) == {}, running.log.read_text()[-3000:]
    assert not serving(running.port)


# ---- the worker alone: signals that left django-q2's cluster hung in a futex ------------------
def test_the_worker_stops_on_sigterm_to_its_whole_process_group(
    transactional_db: None, tmp_path: Path
) -> None:
    # systemd's control-group stop, a container runtime: the sentinel dies at once, and
    # django-q2's own handler then waited forever for it to acknowledge the stop event.
    log = tmp_path / "qcluster.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "STUDIO_READ_ENV_FILE": "0",
        "SECRET_KEY": "worker-stop-test",
        "SQLITE_PATH": connection.settings_dict["NAME"],
        "MEDIA_ROOT": str(tmp_path / "media"),
        "STUDIO_WORKERS": "2",
        "LOG_LEVEL": "INFO",
    }
    env.pop("STUDIO_Q_SYNC", None)
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert wait_until(lambda: " running." in log.read_text(), timeout=120), log.read_text()
        os.killpg(worker.pid, signal.SIGTERM)
        assert wait_until(lambda: not session_processes(worker.pid), timeout=STOPPED_WITHIN), (
            session_processes(worker.pid),
            log.read_text()[-2000:],
        )
    finally:
        kill(worker)
