"""The per-key rate limit holds exactly on PostgreSQL: gunicorn workers and other processes.

The same scenarios as tests/test_rate_limit_parallel.py (which runs them on SQLite), here
against PostgreSQL, where the decision rests on row locks of concurrent upserts instead of
SQLite's one writer at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import test_rate_limit_parallel as parallel
from tests.live_gunicorn import gunicorn
from tests.scale.helpers import SCALE

pytestmark = SCALE


@pytest.fixture(scope="module")
def web(django_db_setup: None) -> Iterator[str]:
    """One gunicorn (3 worker processes, 4 threads each) on the PostgreSQL test database."""
    with gunicorn(workers=3, threads=4) as base:
        yield base


def test_fifty_parallel_creates_accept_exactly_the_limit_on_postgresql(
    transactional_db: None, user, web: str
) -> None:
    parallel.test_fifty_parallel_creates_on_a_key_limited_to_20_accept_exactly_20(None, user, web)


def test_a_hundred_parallel_reads_accept_exactly_the_limit_on_postgresql(
    transactional_db: None, user, web: str
) -> None:
    parallel.test_a_hundred_parallel_reads_accept_exactly_the_limit_with_blocks_in_play(
        None, user, web
    )


def test_reads_and_creates_together_accept_exactly_the_limit_on_postgresql(
    transactional_db: None, user, web: str
) -> None:
    parallel.test_parallel_reads_and_creates_together_accept_exactly_the_limit(None, user, web)


def test_other_processes_share_the_exact_limit_on_postgresql(
    transactional_db: None, user, web: str
) -> None:
    parallel.test_other_processes_counting_the_same_key_share_the_exact_limit(None, user, web)
