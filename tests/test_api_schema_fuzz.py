"""Schemathesis against /api/openapi.json of the live test server, with a real studio key.

Every operation of the published description gets a few dozen generated requests (a fixed
seed, so a run is repeatable); the test fails on any 5xx and on any answer that breaks the
description: an undocumented status, an undocumented content type, or a body that does not
match its schema. A failure prints the request that caused it as a curl command.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests
import schemathesis
from django_q.conf import Conf
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.openapi_spec import openapi_document
from tests.api_helpers import issue

# The live server runs in a thread of this process; Django's async-safety check
# would otherwise refuse ORM calls made from the test while it serves.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_OPERATION = 25
SEED = 20_260_412
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def studio_key(live_server: Any, user: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real key with room for every generated create; jobs are queued, not run inline."""
    # The test settings run jobs inline; here a create only queues its job (a row in the
    # ORM broker), so the fuzzer measures the API, not hundreds of renders.
    monkeypatch.setattr(Conf, "SYNC", False)
    _key, secret = issue(user, "schemathesis", requests_per_minute=1_000_000, max_concurrent=10_000)
    return secret


# Values outsiders used against the studio, mixed into the generated ones: digits that
# str.isdigit() accepts and int() refuses (or reads), a NUL, a direction override, a URL
# with credentials, numbers no float or 64-bit column holds. (Lone surrogates cannot be
# sent in a path or query; tests/test_hostile_input.py sends them in bodies.)
HOSTILE_STRINGS = [
    "²", "¹²", "³", "1²", "١٢", "１２", "\u0000", "\u202e12",
    "http://user:pass@example.com/a.jpg", "9" * 40, "-1", "1e400", "NaN",
]  # fmt: skip
HOSTILE_NUMBERS = [10**30, -(10**30), 1.5e308, -1, 0]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["all"],
        "dictionaries": {
            "hostile-strings": {"values": HOSTILE_STRINGS},
            "hostile-numbers": {"values": HOSTILE_NUMBERS},
        },
        # Valid and invalid requests alike; nothing saved between runs or in the work tree.
        "generation": {
            "max-examples": EXAMPLES_PER_OPERATION,
            "database": "none",
            "dictionaries": {
                "string": {"dictionary": "hostile-strings", "probability": 0.25},
                "integer": {"dictionary": "hostile-numbers", "probability": 0.25},
                "number": {"dictionary": "hostile-numbers", "probability": 0.25},
            },
        },
        # The coverage phase's deterministic boundary cases run to ~350 requests on one
        # image2video create: the hand-written hostile tables cover boundaries instead.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
# The document is built here, at collection, exactly as the server serves it (the last test
# checks that); requests go to the live server's address, base_url below. Schemathesis's
# lazy loader, which would fetch it from the server, fails under pytest 9 (_nodeid).
schema = schemathesis.openapi.from_dict(openapi_document("http://studio.invalid"), config=CONFIG)


@schema.parametrize()
def test_the_api_answers_every_generated_request_as_it_publishes(
    case: Any, live_server: Any, studio_key: str
) -> None:
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {studio_key}"},
        checks=CHECKS,
    )


def test_the_fuzzed_document_is_the_one_the_server_serves(live_server: Any) -> None:
    served = requests.get(live_server.url + "/api/openapi.json", timeout=30).json()
    assert served == {**openapi_document("http://studio.invalid"), "servers": served["servers"]}
