"""Task ids: numeric strings like Kling's, unique across installs, time-ordered."""

import secrets
import threading
import time

_lock = threading.Lock()
_last = 0


def new_task_id() -> int:
    """Milliseconds since 2020 shifted left by 20 bits, plus random low bits.

    Time-ordered so "newest first" is an index scan on the primary key, and random
    enough that two installs sharing an upstream account never reuse an
    external_task_id (Kling rejects duplicates per account). Within one process,
    ids strictly increase even inside the same millisecond.
    """
    global _last
    millis = int(time.time() * 1000) - 1_577_836_800_000
    candidate = (millis << 20) | secrets.randbits(19)
    with _lock:
        if candidate <= _last:
            candidate = _last + 1
        _last = candidate
    return candidate
