"""A key's requests-per-minute limit: exact across processes, without a write per read.

Exact means: of 50 parallel requests to a key allowing 20, exactly 20 are let through,
however they are spread over gunicorn workers, machines and other processes. A count is
exact only if taking it and deciding on it are one atomic step on a store every process
shares: the key's RequestBucket row for the minute (see RequestBucket.admit).

* Creates, and every request near the limit, take that step themselves: one conditional
  upsert lets the request through (and counts it) only while accepted + reserved < limit.
* Reads far below the limit would pay a database write each for a decision that cannot
  go wrong (on SQLite a write per request serialises the web workers and cost about a fifth
  of a GET's throughput in bench/api_throughput.py). So a read may reserve a block of
  reads in its upsert, only while all accepted and reserved requests stay within half the
  limit, and the process lets the next reads of the key through from the block in memory.
  Reserved requests count against the limit for every process: nobody can go beyond it.
* A block is settled (its used part counted, the rest released) when used up, when it is
  BLOCK_SECONDS old (by a background thread, or by the process's next request), before
  its process counts the key exactly, and at exit.
* A request that finds the limit taken up only because blocks are still reserved waits
  for them to be settled (at most until WAIT_GRACE_SECONDS after the last block expires)
  before it is refused: requests reserved but never made do not lower the limit.

What this gives up: a worker killed while holding a block loses the reads it let through
from it (the admin's request counts only: they were inside the limit) and its reservation
stays for the rest of that minute, lowering that minute's limit by at most one block
(limit // BLOCK_DIVISOR, at most BLOCK_MAX).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection

from .models import RequestBucket

if TYPE_CHECKING:
    from .models import ApiKey

log = logging.getLogger(__name__)

BLOCK_MAX = 50  # reads per block at most: one write per 50 reads is already negligible
BLOCK_DIVISOR = 16  # a block is at most a sixteenth of the limit: what a dead worker can hold
RESERVE_BELOW = 0.5  # blocks only while accepted + reserved stay within half the limit
BLOCK_SECONDS = 1.0  # a block is used this long at most, then settled
WAIT_GRACE_SECONDS = 2.0  # how long past a block's end a refused request waits for it
POLL_SECONDS = 0.05


def block_size(limit: int) -> int:
    """Reads one reservation covers (the reserving read included); below 2, none."""
    return min(BLOCK_MAX, limit // BLOCK_DIVISOR)


@dataclass
class Block:
    access_id: str
    minute: int
    reserved: int  # reserved in the database, still to be settled
    expires: float  # time.monotonic() after which the block is not used any more
    used: int = 0  # let through from the block, not yet counted in the database


# Keyed by access id and minute: a pk can be reused (tests roll back), an access id cannot.
_blocks: dict[tuple[str, int], Block] = {}
# access id -> the minute in which a reservation was refused: past half its limit a key
# stays there for the minute (its totals only grow), so its reads go exact at once.
_past_half: dict[str, int] = {}
_lock = threading.Lock()
_flusher_pid = 0


def admit(key: ApiKey, *, read: bool) -> bool:
    """Count one request of a key; True when it is within the key's limit for this minute."""
    now, mono = time.time(), time.monotonic()
    minute = int(now // 60)
    limit = key.requests_per_minute
    with _lock:
        block = _blocks.get((key.access_id, minute))
        served = bool(read and block and block.used < block.reserved and mono < block.expires)
        if served:
            block.used += 1
        # A request not served from a block settles its key's block first: this process's
        # unused reservation must not stand in the way of its own exact count.
        due = _take_due(mono, minute, None if served else key.access_id)
    _settle(due)
    if served:
        return True
    size = block_size(limit)
    if read and size >= 2 and _past_half.get(key.access_id) != minute:
        below = int(limit * RESERVE_BELOW)
        if RequestBucket.reserve(key.access_id, minute, size, below, now + BLOCK_SECONDS):
            _keep(Block(key.access_id, minute, size - 1, mono + BLOCK_SECONDS))
            return True
        _past_half[key.access_id] = minute
    if _admit_exactly(key.access_id, minute, limit):
        return True
    RequestBucket.refuse(key.access_id, minute)
    return False


def _admit_exactly(access_id: str, minute: int, limit: int) -> bool:
    """Let one request through if the limit allows; waits while only reservations block it."""
    while True:
        if RequestBucket.admit(access_id, minute, limit):
            return True
        state = (
            RequestBucket.objects.filter(key__access_id=access_id, minute=minute)
            .values_list("accepted", "reserved", "reserved_until")
            .first()
        )
        if state is None:  # the key was deleted meanwhile
            return False
        accepted, reserved, reserved_until = state
        if accepted >= limit:
            return False
        if reserved and time.time() > reserved_until + WAIT_GRACE_SECONDS:
            return False  # the holder did not settle in time: taken as dead (see above)
        if reserved:
            time.sleep(POLL_SECONDS)
        # With no reservation left, room was freed since the upsert: try again at once.


def _keep(block: Block) -> None:
    """Hold a new block; a block another thread took meanwhile absorbs it."""
    with _lock:
        held = _blocks.get((block.access_id, block.minute))
        if held is None:
            _blocks[block.access_id, block.minute] = block
        else:
            held.reserved += block.reserved
            held.expires = max(held.expires, block.expires)
    _start_flusher()


def _take_due(mono: float, minute: int, access_id: str | None) -> list[Block]:
    """Remove and return blocks to settle: old, used up, of past minutes, or of access_id."""
    due = [
        name
        for name, b in _blocks.items()
        if b.access_id == access_id or b.minute != minute or b.used >= b.reserved
        or mono >= b.expires
    ]  # fmt: skip
    return [_blocks.pop(name) for name in due]


def _settle(blocks: list[Block]) -> None:
    for block in blocks:
        RequestBucket.settle(block.access_id, block.minute, block.used, block.reserved)


def _start_flusher() -> None:
    """One background thread per process settles blocks whose process stays quiet."""
    global _flusher_pid
    if not settings.STUDIO_RATE_LIMIT_FLUSH_THREAD or _flusher_pid == os.getpid():
        return
    _flusher_pid = os.getpid()
    threading.Thread(target=_flush_loop, name="ratelimit-settle", daemon=True).start()


def _flush_loop() -> None:
    while True:
        time.sleep(BLOCK_SECONDS / 4)
        with _lock:
            due = _take_due(time.monotonic(), int(time.time() // 60), None)
        if not due:
            continue
        try:
            _settle(due)
        except Exception:
            # The reservation stays until its minute ends; the limit stays safe.
            log.exception("could not settle rate-limit blocks")
        finally:
            connection.close()  # this thread's own connection: none left open between runs


def _forget_after_fork() -> None:
    # A forked child must not settle its parent's blocks a second time.
    global _lock, _flusher_pid
    _blocks.clear()
    _past_half.clear()
    _lock = threading.Lock()
    _flusher_pid = 0


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def flush_all() -> None:
    """Settle every block (a worker shutting down cleanly loses no counts)."""
    with _lock:
        blocks = list(_blocks.values())
        _blocks.clear()
    try:
        _settle(blocks)
    except Exception:  # noqa: BLE001 (at exit the database may be gone: counts are best effort)
        return
