"""Test settings: only overrides of settings.py."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")

from .settings import *  # noqa: E402,F403
from .settings import DATABASES, Q_CLUSTER  # noqa: E402

# Jobs run inline unless a test starts a real worker process.
Q_CLUSTER = {**Q_CLUSTER, "sync": os.environ.get("STUDIO_Q_SYNC", "1") == "1"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STUDIO_ALLOW_LOOPBACK_URLS = True  # the simulator and fixture servers live on 127.0.0.1
# A settling thread would write while the test's transaction holds SQLite's lock; tests
# settle with api.ratelimit.flush_all(), and live servers they start run the thread.
STUDIO_RATE_LIMIT_FLUSH_THREAD = False
MEDIA_ROOT = tempfile.mkdtemp(prefix="studio-test-media-")
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so a real worker process (browser tests) can share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get(
            "STUDIO_TEST_DB",
            os.path.join(tempfile.gettempdir(), f"studio-test-{os.getpid()}.sqlite3"),
        )
    }
