"""The official openai Python SDK, unchanged, against the studio on a live server."""

from __future__ import annotations

import os
import warnings

import openai
import pytest

from tests.api_helpers import issue
from videos.models import Generation

# The live server runs in a thread of this process; Django's async-safety check
# would otherwise refuse ORM calls made from the test while it serves.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# live_server needs transactions; the root conftest re-seeds the model catalogue that
# the flush between transactional tests drops.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(live_server, user) -> openai.OpenAI:
    _key, secret = issue(user, "openai-sdk")
    return openai.OpenAI(
        base_url=live_server.url + "/v1", api_key=secret, max_retries=0, timeout=60
    )


@pytest.fixture(autouse=True)
def _quiet_deprecations():
    # The SDK marks its video methods deprecated (the Sora API's shutdown); they still work here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def test_the_sdk_creates_polls_downloads_lists_and_deletes(
    sdk: openai.OpenAI, local_provider
) -> None:
    video = sdk.videos.create(
        prompt="a paper boat on a pond", model="kling-v1", seconds="5", size="1280x720"
    )
    assert video.object == "video" and video.model == "kling-v1" and video.seconds == "5"
    done = sdk.videos.poll(video.id, poll_interval_ms=100)
    assert done.status == "completed" and done.progress == 100 and done.error is None
    assert done.size == "1280x720"
    content = sdk.videos.download_content(video.id)
    data = content.read()
    assert data[4:8] == b"ftyp" and len(data) == Generation.objects.get(pk=video.id).video_bytes
    thumbnail = sdk.videos.download_content(video.id, variant="thumbnail").read()
    assert thumbnail[:2] == b"\xff\xd8"
    retrieved = sdk.videos.retrieve(video.id)
    assert retrieved.id == video.id and retrieved.completed_at is not None
    listed = [v.id for v in sdk.videos.list(limit=10)]
    assert listed == [video.id]
    deleted = sdk.videos.delete(video.id)
    assert deleted.deleted is True and deleted.id == video.id
    assert Generation.objects.get(pk=video.id).deleted_at is not None  # in the trash


def test_the_sdk_pages_through_the_list_with_the_cursor(
    sdk: openai.OpenAI, make_generation
) -> None:
    ids = [str(make_generation(prompt=f"take {i}", status="failed").pk) for i in range(5)]
    seen = [v.id for v in sdk.videos.list(limit=2)]  # auto-pagination follows last_id
    assert seen == ids[::-1]


def test_the_sdk_raises_its_own_errors(sdk: openai.OpenAI, live_server) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        sdk.videos.retrieve("123456")
    assert not_found.value.body["code"] == "not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.videos.create(prompt="x", seconds="4")
    assert bad.value.body["param"] == "seconds"
    anonymous = openai.OpenAI(base_url=live_server.url + "/v1", api_key="sk_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.videos.list()
    assert not Generation.objects.exists()
