"""A key's requests-per-minute limit holds exactly under parallel load, across processes.

A real gunicorn with several worker processes (as `make run` serves) gets 50 requests at
once from 50 threads; other Python processes count requests of the same key meanwhile,
as any process sharing the database may. Exactly the limit's worth is accepted, whatever
the mix of reads and creates, and every request (accepted or refused) is counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from api import ratelimit
from api.models import ApiKey, RequestBucket
from simulator.testing import wait_until
from tests.api_helpers import issue
from tests.live_gunicorn import gunicorn, server_env
from tests.processes import ROOT
from videos.models import Generation

T2V = "/kling/v1/videos/text2video"
BODY = {"model_name": "kling-v1", "prompt": "a lantern in the rain", "duration": "5"}
PARALLEL = 50


def fire(base: str, secret: str, methods: list[str]) -> list[tuple[int, dict]]:
    """Send one request per entry of `methods` at the same moment; (status, JSON body) each."""
    barrier = threading.Barrier(len(methods))
    answers: list[tuple[int, dict]] = [(0, {})] * len(methods)
    headers = {"Authorization": f"Bearer {secret}"}

    def one(i: int, method: str) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            barrier.wait()
            if method == "POST":
                response = client.post(T2V, json=BODY)
            else:
                response = client.get(T2V)
            answers[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=one, args=(i, m)) for i, m in enumerate(methods)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Iterator[str]:
    """One gunicorn (3 worker processes, 4 threads each) on the test database for the module."""
    with gunicorn(workers=3, threads=4) as base:
        yield base


def counted(key: ApiKey) -> int:
    return sum(RequestBucket.objects.filter(key=key).values_list("count", flat=True))


def settle_minute() -> None:
    """Start a burst early in a minute, so all of it lands in one minute's bucket."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


def test_fifty_parallel_creates_on_a_key_limited_to_20_accept_exactly_20(
    transactional_db: None, user, server: str
) -> None:
    key, secret = issue(user, requests_per_minute=20, max_concurrent=1000)
    settle_minute()
    answers = fire(server, secret, ["POST"] * PARALLEL)
    statuses = [status for status, _ in answers]
    assert (statuses.count(200), statuses.count(429)) == (20, 30)
    assert {body["code"] for status, body in answers if status == 429} == {1302}
    # The accepted twenty are real tasks; the refused thirty left nothing behind.
    accepted_ids = {body["data"]["task_id"] for status, body in answers if status == 200}
    assert len(accepted_ids) == 20
    created = Generation.objects.filter(api_key=key).values_list("pk", flat=True)
    assert {str(pk) for pk in created} == accepted_ids
    assert counted(key) == PARALLEL


def test_a_hundred_parallel_reads_accept_exactly_the_limit_with_blocks_in_play(
    transactional_db: None, user, server: str
) -> None:
    # 64 per minute: the first half is let through from blocks of 4 reads, the rest exactly.
    key, secret = issue(user, requests_per_minute=64)
    settle_minute()
    answers = fire(server, secret, ["GET"] * 100)
    statuses = [status for status, _ in answers]
    assert (statuses.count(200), statuses.count(429)) == (64, 36)
    # Blocks are settled within about a second by each worker's own thread.
    assert wait_until(lambda: counted(key) == 100, timeout=60), counted(key)
    bucket = RequestBucket.objects.get(key=key)
    assert (bucket.accepted, bucket.reserved) == (64, 0)


def test_parallel_reads_and_creates_together_accept_exactly_the_limit(
    transactional_db: None, user, server: str
) -> None:
    key, secret = issue(user, requests_per_minute=30, max_concurrent=1000)
    methods = ["GET", "POST"] * (PARALLEL // 2)
    settle_minute()
    answers = fire(server, secret, methods)
    accepted = [m for m, (status, _) in zip(methods, answers, strict=True) if status == 200]
    refused = [body["code"] for status, body in answers if status != 200]
    assert (len(accepted), refused) == (30, [1302] * 20)
    assert Generation.objects.filter(api_key=key).count() == accepted.count("POST")
    assert counted(key) == PARALLEL


# Another program on the same database (a second web server, a worker) reading with the key.
COUNTER = """
import json, sys, threading
import django
django.setup()
from api.auth import check_rate
from api.errors import ApiError
from api.models import ApiKey
key = ApiKey.objects.get(access_id=sys.argv[1])
go = threading.Barrier(int(sys.argv[2]))
results = []
def one():
    go.wait()
    try:
        check_rate(key, read=True)
        results.append("ok")
    except ApiError as error:
        results.append(error.code)
threads = [threading.Thread(target=one) for _ in range(int(sys.argv[2]))]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(results))
"""


def test_other_processes_counting_the_same_key_share_the_exact_limit(
    transactional_db: None, user, server: str
) -> None:
    # 64 per minute: the other processes' reads take blocks of 4 while within 32.
    key, secret = issue(user, requests_per_minute=64, max_concurrent=1000)
    methods = ["POST", "GET"] * 30
    settle_minute()
    others = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER, key.access_id, "20"],
            cwd=ROOT,
            env=server_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    answers = fire(server, secret, methods)
    outputs = [json.loads(proc.communicate(timeout=120)[0]) for proc in others]
    over_http = sum(status == 200 for status, _ in answers)
    elsewhere = sum(result == "ok" for output in outputs for result in output)
    assert over_http + elsewhere == 64, (over_http, elsewhere)
    assert all(result in ("ok", 1302) for output in outputs for result in output)
    assert wait_until(lambda: counted(key) == 60 + 40, timeout=60), counted(key)
    bucket = RequestBucket.objects.get(key=key)
    assert (bucket.accepted, bucket.reserved) == (64, 0)
    accepted = [m for (status, _), m in zip(answers, methods, strict=True) if status == 200]
    assert Generation.objects.filter(api_key=key).count() == accepted.count("POST")


# ---- the decision near the limit, step by step (one process) --------------------------------
MINUTE = int(time.time() // 60)


class Clock:
    """time for api.ratelimit, inside one minute; another process may settle when we wait."""

    def __init__(self) -> None:
        self.waits = 0
        self.now = MINUTE * 60 + 10.0
        self.monotonic = time.monotonic
        self.on_wait = lambda: None

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits += 1
        self.now += seconds
        self.on_wait()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ratelimit, "time", fake)
    return fake


def bucket_state(key: ApiKey) -> tuple[int, int, int]:
    row = RequestBucket.objects.get(key=key, minute=MINUTE)
    return row.count, row.accepted, row.reserved


def test_reads_take_blocks_only_within_half_the_limit_then_count_one_by_one(
    db, user, clock: Clock
) -> None:
    key, _secret = issue(user, requests_per_minute=64)  # blocks of 4 while within 32
    assert ratelimit.admit(key, read=True)
    assert bucket_state(key) == (1, 1, 3)  # one let through and counted, three reserved
    assert [ratelimit.admit(key, read=True) for _ in range(2)] == [True] * 2
    assert bucket_state(key) == (1, 1, 3)  # from the block: no write
    assert ratelimit.admit(key, read=True)
    assert bucket_state(key) == (4, 4, 0)  # the block used up is settled at once
    for _ in range(28):
        assert ratelimit.admit(key, read=True)
    ratelimit.flush_all()
    assert bucket_state(key) == (32, 32, 0)
    assert ratelimit.admit(key, read=True)
    assert bucket_state(key) == (33, 33, 0)  # beyond half the limit: each read is written
    assert [ratelimit.admit(key, read=True) for _ in range(33)] == [True] * 31 + [False] * 2
    assert bucket_state(key) == (66, 64, 0)


def test_a_create_is_never_let_through_from_a_block(db, user, clock: Clock) -> None:
    key, _secret = issue(user, requests_per_minute=64)
    assert ratelimit.admit(key, read=True)
    assert ratelimit.admit(key, read=False)
    # The create settled this process's block first (one used, three released), then counted.
    assert bucket_state(key) == (2, 2, 0)


def reserve_elsewhere(key: ApiKey, accepted: int, reserved: int, until: float) -> None:
    """The bucket as another process leaves it: `reserved` held in a block until `until`."""
    RequestBucket.objects.create(
        key=key,
        minute=MINUTE,
        count=accepted,
        accepted=accepted,
        reserved=reserved,
        reserved_until=until,
    )


def test_a_request_refused_only_by_a_block_waits_for_it_to_be_settled(
    db, user, clock: Clock
) -> None:
    key, _secret = issue(user, requests_per_minute=10)
    reserve_elsewhere(key, accepted=7, reserved=3, until=clock.time() + 1)
    # The holder settles while we wait: it used one of its three.
    clock.on_wait = lambda: RequestBucket.settle(key.access_id, MINUTE, used=1, reserved=3)
    assert ratelimit.admit(key, read=False) is True
    assert clock.waits == 1 and bucket_state(key) == (9, 9, 0)
    assert ratelimit.admit(key, read=False) is True
    assert ratelimit.admit(key, read=False) is False  # now the limit is really reached
    assert bucket_state(key) == (11, 10, 0) and clock.waits == 1


def test_a_block_whose_holder_vanished_is_not_waited_for_past_its_grace(
    db, user, clock: Clock
) -> None:
    key, _secret = issue(user, requests_per_minute=10)
    reserve_elsewhere(key, accepted=7, reserved=3, until=clock.time() - 10)  # long expired
    assert ratelimit.admit(key, read=False) is False
    assert clock.waits == 0 and bucket_state(key) == (8, 7, 3)
