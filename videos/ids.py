"""Task ids: numeric strings like Kling's, unique across installs, roughly time-ordered."""

import secrets
import time


def new_task_id() -> int:
    """Milliseconds since 2020 shifted left, plus random low bits.

    Time-ordered so "newest first" is an index scan on the primary key, and random
    enough that two installs sharing an upstream account never reuse an
    external_task_id (Kling rejects duplicates per account).
    """
    millis = int(time.time() * 1000) - 1_577_836_800_000
    return (millis << 20) | secrets.randbits(20)
