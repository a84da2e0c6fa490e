"""Path settings: an empty variable means the default, and nothing lands among the code.

`.env.example` leaves MEDIA_ROOT empty; read as the current directory, that put finished
videos in videos/<id>/ inside the `videos` package. Each case starts the real settings
module in a fresh process with the environment under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from studio import settings as project_settings
from tests.processes import ROOT

BASE = {"DEBUG": "0", "SECRET_KEY": "s" * 50}
SHOW = (
    "from django.core.files.storage import default_storage; "
    "print(settings.MEDIA_ROOT); print(settings.DATABASES['default']['NAME']); "
    "print(settings.STATIC_ROOT); print(default_storage.path('videos/7/clip.mp4'))"
)


OURS = {"MEDIA_ROOT", "SQLITE_PATH", "DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}


def run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    """Load studio.settings in a new process with exactly these path variables."""
    clean = {k: v for k, v in os.environ.items() if k not in OURS | {"DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; {code}",
        ],
        cwd=ROOT,
        env={
            **clean,
            "STUDIO_READ_ENV_FILE": "0",
            "DJANGO_SETTINGS_MODULE": "studio.settings",
            **env,
        },
        capture_output=True,
        text=True,
    )


def example_env() -> dict[str, str]:
    """The variables of .env.example, as `make run` copies them to .env."""
    env = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name.strip()] = value.strip()
    return {**env, "SECRET_KEY": "s" * 50}


def shown(env: dict[str, str]) -> list[Path]:
    result = run_settings(env, SHOW)
    assert result.returncode == 0, result.stderr
    return [Path(line) for line in result.stdout.split()]


def test_the_example_configuration_keeps_media_and_database_out_of_the_code() -> None:
    media, database, static, video = shown(example_env())
    assert media == ROOT / "media"  # the default, ignored by git
    assert video == ROOT / "media" / "videos" / "7" / "clip.mp4"
    assert database == ROOT / "db.sqlite3"
    assert static == ROOT / "staticfiles"


def test_a_path_among_the_code_stops_the_studio_at_startup() -> None:
    result = run_settings({**BASE, "MEDIA_ROOT": "videos"}, "print(settings.MEDIA_ROOT)")
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: MEDIA_ROOT points inside the code "
        f"({ROOT / 'videos'}): the studio would write its files among the source. "
        "Choose a directory of its own (empty means the default)."
    )


# The same rules, through the settings module's own function (no process per case).
@pytest.fixture
def env_path(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    monkeypatch.chdir(ROOT / "videos")  # relative paths must not follow the current directory

    def read(name: str, value: str) -> Path:
        monkeypatch.setenv(name, value)
        if name == "SQLITE_PATH":
            return project_settings.env_path(name, ROOT / "db.sqlite3", is_file=True)
        return project_settings.env_path(name, ROOT / "media")

    return read


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_or_blank_path_variable_means_its_default(env_path, value: str) -> None:
    assert env_path("MEDIA_ROOT", value) == ROOT / "media"
    assert env_path("SQLITE_PATH", value) == ROOT / "db.sqlite3"


def test_relative_paths_are_taken_from_the_checkout_not_the_current_directory(env_path) -> None:
    assert env_path("MEDIA_ROOT", "data/media") == ROOT / "data" / "media"
    assert env_path("SQLITE_PATH", "data/db") == ROOT / "data" / "db"
    assert env_path("SQLITE_PATH", "studio.sqlite3") == ROOT / "studio.sqlite3"


def test_absolute_paths_outside_the_checkout_are_kept(env_path, tmp_path: Path) -> None:
    assert env_path("MEDIA_ROOT", str(tmp_path / "m")) == tmp_path / "m"
    assert env_path("SQLITE_PATH", str(tmp_path / "s.db")) == tmp_path / "s.db"


@pytest.mark.parametrize(
    ("name", "value", "where"),
    [
        ("MEDIA_ROOT", ".", "holds the checkout"),
        ("MEDIA_ROOT", str(ROOT), "holds the checkout"),
        ("MEDIA_ROOT", str(ROOT.parent), "holds the checkout"),
        ("MEDIA_ROOT", "videos", "videos"),
        ("MEDIA_ROOT", str(ROOT / "studio" / "media"), "studio"),
        ("MEDIA_ROOT", "templates/media", "templates"),
        ("MEDIA_ROOT", "static", "static"),
        ("MEDIA_ROOT", "./api/../review/x", "review"),
        ("SQLITE_PATH", "api/db.sqlite3", "api"),
        ("SQLITE_PATH", "videos/migrations/studio.db", "videos"),
    ],
)
def test_a_path_among_the_code_is_refused(env_path, name: str, value: str, where: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"^{name} ") as refused:
        env_path(name, value)
    assert where in str(refused.value) and "code" in str(refused.value)


def test_a_symlink_into_the_code_is_refused(env_path, tmp_path: Path) -> None:
    link = tmp_path / "media"
    link.symlink_to(ROOT / "videos")
    with pytest.raises(ImproperlyConfigured, match=r"MEDIA_ROOT points inside the code .*videos"):
        env_path("MEDIA_ROOT", str(link))
