"""Security by default: CSP, login throttling, body size cap, production settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from videos.models import Generation

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_pages_send_a_strict_content_security_policy(alice_client) -> None:
    policy = alice_client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_pages_do_not_embed_inline_scripts(alice_client, make_generation) -> None:
    generation = make_generation()
    for path in ["/", "/generations/new/", f"/generations/{generation.pk}/", "/login/"]:
        html = alice_client.get(path).content.decode()
        for tag in html.split("<script")[1:]:
            assert tag.lstrip().startswith("src="), f"inline script on {path}"
        assert " hx-on" not in html and "onclick=" not in html


def test_repeated_failed_logins_are_throttled(user) -> None:
    cache.clear()
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    cache.clear()


def test_an_oversized_body_is_refused_before_anything_is_written(alice_client, settings) -> None:
    settings.STUDIO_MAX_REQUEST_BYTES = 1000
    response = alice_client.post(
        "/generations/new/", {"kind": "text2video", "model_name": "kling-v1", "prompt": "x" * 2000}
    )
    assert response.status_code == 413 and b"limit is 1000" in response.content
    assert Generation.objects.count() == 0


def run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}
    }
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


def test_production_settings_need_a_secret_key_and_use_secure_cookies() -> None:
    missing = run_settings({"DEBUG": "0"}, "print(settings.DEBUG)")
    assert missing.returncode != 0 and "SECRET_KEY must be set when DEBUG is off" in missing.stderr
    prod = run_settings(
        {"DEBUG": "0", "SECRET_KEY": "s" * 50},
        "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,"
        " settings.SECURE_CONTENT_TYPE_NOSNIFF)",
    )
    assert prod.stdout.split() == ["True", "True", "True"]
