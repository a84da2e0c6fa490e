"""With REDIS_URL, login failures are counted in Redis, shared by every gunicorn worker."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from studio.models import LoginThrottle
from tests.live_gunicorn import gunicorn
from tests.scale.helpers import SCALE
from tests.test_login_throttle import LoginClient

pytestmark = SCALE


def login_keys() -> list[bytes]:
    """This studio's login counters in Redis (other runs on the same Redis have other prefixes)."""
    return cache._cache.get_client().keys(f"{settings.Q_CLUSTER['name']}:*login-attempts:*")


def test_wrong_passwords_at_once_across_workers_lock_out_through_redis(
    transactional_db: None, user
) -> None:
    assert login_keys() == []
    with gunicorn(workers=3, threads=4) as base:
        browser = LoginClient(base)
        results = browser.at_once("alice", "wrong-guess", 12)
        assert sorted(results) == ["throttled"] * 7 + ["wrong"] * 5
        assert [browser.attempt("alice", "pw-alice-123") for _ in range(6)] == ["throttled"] * 6
    # Counted in Redis (the configured cache), not in the database.
    assert not LoginThrottle.objects.exists()
    keys = login_keys()
    assert len(keys) == 1
    cache._cache.get_client().delete(*keys)
