"""Login throttling counts failures where every process sees them, not per gunicorn worker.

After MAX_FAILURES wrong passwords for one username from one address, every further
attempt (the right password included) is refused for the window, whichever worker
process answers it, and however many attempts arrive at once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from studio import login
from tests.live_gunicorn import gunicorn

WRONG = "Please enter a correct username and password"
THROTTLED = "Too many failed logins"


class LoginClient:
    """Posts the login form over HTTP with one CSRF cookie and token (as one browser would)."""

    def __init__(self, base: str) -> None:
        self.base = base
        with httpx.Client(base_url=base, timeout=120) as client:
            page = client.get("/login/")
            self.cookies = dict(page.cookies)
            self.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]

    def attempt(self, username: str, password: str) -> str:
        """One login attempt on a fresh connection: 'in', 'wrong' or 'throttled'."""
        form = {"username": username, "password": password, "csrfmiddlewaretoken": self.token}
        with httpx.Client(base_url=self.base, cookies=self.cookies, timeout=120) as client:
            response = client.post("/login/", data=form)
        if response.status_code == 302 and "sessionid" in response.cookies:
            return "in"
        assert response.status_code == 200, response.status_code
        if THROTTLED in response.text:
            return "throttled"
        assert WRONG in response.text
        return "wrong"

    def at_once(self, username: str, password: str, count: int) -> list[str]:
        barrier = threading.Barrier(count)
        results: list[str] = []

        def one() -> None:
            barrier.wait()
            results.append(self.attempt(username, password))

        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results


@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Iterator[str]:
    """gunicorn with 3 worker processes (4 threads each) on the test database, no Redis."""
    with gunicorn(workers=3, threads=4, REDIS_URL="") as base:
        yield base


def test_twelve_wrong_passwords_at_once_across_workers_lock_the_account_out(
    transactional_db: None, user, server: str
) -> None:
    browser = LoginClient(server)
    results = browser.at_once("alice", "wrong-guess", 12)
    # Exactly MAX_FAILURES guesses were checked; the rest never reached the password.
    assert sorted(results) == ["throttled"] * 7 + ["wrong"] * 5
    # The right password is refused too, whichever worker answers (several tries).
    assert [browser.attempt("alice", "pw-alice-123") for _ in range(6)] == ["throttled"] * 6
    # Another account from the same address is not affected.
    assert browser.attempt("bob", "nope") == "wrong"


def test_wrong_passwords_one_after_another_across_workers_lock_the_account_out(
    transactional_db: None, user, server: str
) -> None:
    browser = LoginClient(server)
    results = [browser.attempt("alice", "wrong-guess") for _ in range(12)]
    assert results == ["wrong"] * 5 + ["throttled"] * 7
    assert browser.attempt("alice", "pw-alice-123") == "throttled"


def test_a_successful_login_is_not_counted_as_a_failure(user) -> None:
    client = Client()
    for _ in range(login.MAX_FAILURES - 1):
        response = client.post("/login/", {"username": "alice", "password": "wrong"})
        assert WRONG in response.content.decode()
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    client.logout()
    # Four failures so far: one more wrong password is still checked, then the lockout.
    assert WRONG in client.post("/login/", {"username": "alice", "password": "x"}).content.decode()
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert THROTTLED in response.content.decode() and "_auth_user_id" not in client.session


def test_the_lockout_ends_with_its_window(user, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(login, "now", lambda: now[0])
    client = Client()
    for _ in range(login.MAX_FAILURES):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert THROTTLED in response.content.decode()
    now[0] += login.WINDOW_SECONDS + 1
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302 and "_auth_user_id" in client.session
