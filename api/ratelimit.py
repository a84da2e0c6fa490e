"""Counting requests per key and minute without a database write on every request.

Each request must be counted (the rate limit, and the request counts admins see), but
on SQLite a write per request serialises the web workers on the database's write lock
and costs more than the rest of a GET. So each process tallies requests in memory and
adds them to the key's RequestBucket row (one atomic upsert that returns the total):

* at once, on every request, when the key is near its limit (from EXACT_FROM of it):
  there the upsert's returned total makes the limit exact across processes;
* otherwise at most every FLUSH_SECONDS or FLUSH_REQUESTS per key and process.

What this gives up: another process's unflushed tally (at most a second's worth) is not
seen until it flushes, and a worker that is killed loses its last second of counts.
"""

from __future__ import annotations

import atexit
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .models import RequestBucket

if TYPE_CHECKING:
    from .models import ApiKey

EXACT_FROM = 0.8
FLUSH_SECONDS = 1.0
FLUSH_REQUESTS = 50


@dataclass
class Tally:
    access_id: str
    minute: int
    pending: int = 0  # counted here, not yet in the database
    known: int = 0  # the database's total for the minute at our last flush
    flushed_at: float = 0.0


# Keyed by access id and minute: a pk can be reused (tests roll back), an access id cannot;
# a minute's tally stays until written, so a new minute never drops the last one's count.
_tallies: dict[tuple[str, int], Tally] = {}
_lock = threading.Lock()


def count_request(key: ApiKey) -> int:
    """Count one request of a key; returns the best known total for the current minute."""
    now = time.time()
    minute = int(now // 60)
    with _lock:
        tally = _tallies.get((key.access_id, minute))
        if tally is None:
            tally = _tallies[key.access_id, minute] = Tally(key.access_id, minute)
        # Other tallies (other keys, and this key's past minutes) left pending go out now.
        stale = [_take(t, now) for t in _tallies.values() if t is not tally and _overdue(t, now)]
        tally.pending += 1
        estimate = tally.known + tally.pending
        flush = (
            estimate >= key.requests_per_minute * EXACT_FROM
            or tally.pending >= FLUSH_REQUESTS
            or now - tally.flushed_at >= FLUSH_SECONDS
        )
        if flush:
            take = _take(tally, now)[2]
        for old in [name for name, t in _tallies.items() if t.minute != minute and not t.pending]:
            del _tallies[old]
    for access_id, stale_minute, n in stale:
        RequestBucket.hit(access_id, stale_minute, n)
    if not flush:
        return estimate
    total = RequestBucket.hit(key.access_id, minute, take)
    with _lock:
        tally.known = max(tally.known, total)
        return tally.known + tally.pending


def _overdue(tally: Tally, now: float) -> bool:
    return bool(tally.pending) and (
        now - tally.flushed_at >= FLUSH_SECONDS or tally.minute != int(now // 60)
    )


def _take(tally: Tally, now: float) -> tuple[str, int, int]:
    """Hand a tally's pending count over for writing (call with the lock held)."""
    taken = (tally.access_id, tally.minute, tally.pending)
    tally.pending, tally.flushed_at = 0, now
    return taken


@atexit.register
def flush_all() -> None:
    """Write every pending tally (a worker shutting down cleanly loses no counts)."""
    with _lock:
        pending = [(t.access_id, t.minute, t.pending) for t in _tallies.values() if t.pending]
        for tally in _tallies.values():
            tally.pending = 0
    for access_id, minute, n in pending:
        try:
            RequestBucket.hit(access_id, minute, n)
        except Exception:  # noqa: BLE001 (at exit the database may be gone: counts are best effort)
            return
