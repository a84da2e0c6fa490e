"""Callbacks to API clients: signed Kling task objects on every status change, retried, logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from api.models import CallbackDelivery
from api.tasks import deliver_callback
from tests.api_helpers import issue, post_json
from tests.receiver import Receiver
from videos import tasks
from videos.models import Generation
from videos.providers.webhooks import sign
from videos.rendering import VideoMeta

pytestmark = pytest.mark.django_db

T2V = "/kling/v1/videos/text2video"
BODY = {"model_name": "kling-v1", "prompt": "a kite over the dunes", "duration": "5"}
META = VideoMeta(duration=5.0, width=1280, height=720, fps=24.0, bytes=10, sha256="0" * 64)

# kling-api.md §5's test vector for the Standard Webhooks signature.
VECTOR_SECRET = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="
VECTOR_BODY = (
    b'{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,'
    b'"update_time":1781080794151}'
)
VECTOR_SIGNATURE = "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4="


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A client's verifier, written from the §5 description (not the studio's code)."""
    key = base64.b64decode(secret[len("whsec_") :])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        part.split(",", 1)[1] == expected for part in headers["webhook-signature"].split(" ")
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def key_and_secret(user):
    return issue(user)


def create_with_callback(client: Client, secret: str, url: str) -> Generation:
    response = post_json(client, T2V, {**BODY, "callback_url": url}, secret)
    assert response.status_code == 200, response.content
    return Generation.objects.get(pk=int(response.json()["data"]["task_id"]))


def test_the_signature_matches_the_standard_webhooks_test_vector() -> None:
    assert sign(VECTOR_SECRET, "9876543210", 1781080794, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = {
        "webhook-id": "9876543210",
        "webhook-timestamp": "1781080794",
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY)


def test_client_callbacks_are_signed_by_the_code_that_verifies_upstream_callbacks(
    client: Client, key_and_secret, receiver
) -> None:
    from api import tasks as api_tasks
    from videos.providers import webhooks

    assert api_tasks.sign is webhooks.sign  # one Standard Webhooks signer in the studio
    key, secret = key_and_secret
    generation = create_with_callback(client, secret, receiver.url)
    generation.mark_failed("x")
    deliver_callback(generation.pk, "failed")
    ((headers, body),) = receiver.received
    webhooks.verify(
        key.get_webhook_secret(),
        headers["webhook-id"],
        headers["webhook-timestamp"],
        headers["webhook-signature"],
        body,
    )


def test_every_status_change_is_posted_signed_with_studio_ids(
    client: Client, key_and_secret, receiver, local_provider, django_capture_on_commit_callbacks
) -> None:
    key, secret = key_and_secret
    generation = create_with_callback(client, secret, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        generation.mark_submitted(local_provider, "upstream-777")
    with django_capture_on_commit_callbacks(execute=True):
        generation.mark_processing(progress=30)
    with django_capture_on_commit_callbacks(execute=True):
        generation.mark_succeeded(video=f"videos/{generation.pk}/video.mp4", poster="", meta=META)
    bodies = receiver.bodies()
    assert [b["task_status"] for b in bodies] == ["submitted", "processing", "succeed"]
    assert {b["task_id"] for b in bodies} == {str(generation.pk)}  # never the upstream's id
    assert "upstream-777" not in json.dumps(bodies)
    assert bodies[-1]["task_result"]["videos"][0]["url"].startswith("http://testserver/media/s/")
    for headers, body in receiver.received:
        assert headers["content-type"] == "application/json"
        assert headers["webhook-id"].startswith(f"{generation.pk}-")
        assert abs(int(headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
        assert verify(key.get_webhook_secret(), headers, body)
    deliveries = CallbackDelivery.objects.filter(generation=generation)
    assert deliveries.count() == 3 and all(d.ok and d.http_status == 204 for d in deliveries)


def make_retries_due() -> None:
    """What passing time does: every pending retry becomes due."""
    CallbackDelivery.objects.filter(next_retry_at__isnull=False).update(
        next_retry_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_failed_delivery_is_retried_by_the_due_loop_under_the_same_id(
    client: Client, key_and_secret, receiver, local_provider
) -> None:
    _key, secret = key_and_secret
    generation = create_with_callback(client, secret, receiver.url)
    generation.mark_failed("the prompt was refused")
    receiver.plan = [500]
    deliver_callback(generation.pk, "failed")
    first = CallbackDelivery.objects.get(generation=generation)
    assert not first.ok and first.http_status == 500 and "HTTP 500" in first.error
    delay = (first.next_retry_at - first.at).total_seconds()
    retry_delays = django_settings.STUDIO_CALLBACK_RETRY_SECONDS
    assert retry_delays[0] - 1 <= delay <= retry_delays[0] + 1
    assert not Schedule.objects.filter(func__startswith="api.").exists()  # not on the scheduler

    tasks.run_due_once()  # not due yet: nothing is sent
    assert len(receiver.received) == 1
    make_retries_due()
    tasks.run_due_once()
    second = CallbackDelivery.objects.filter(generation=generation).first()
    assert second.ok and second.attempt == 2 and second.next_retry_at is None
    first.refresh_from_db()
    assert first.next_retry_at is None  # made: no longer pending
    ids = [headers["webhook-id"] for headers, _body in receiver.received]
    assert ids == [f"{generation.pk}-failed"] * 2  # the client can drop a duplicate
    assert receiver.bodies()[0] == receiver.bodies()[1]
    assert receiver.bodies()[0]["task_status_msg"] == "the prompt was refused"
    make_retries_due()
    tasks.run_due_once()
    assert len(receiver.received) == 2  # delivered: never sent again


def test_retries_stop_after_the_last_backoff_step(client: Client, key_and_secret, receiver) -> None:
    _key, secret = key_and_secret
    generation = create_with_callback(client, secret, receiver.url)
    generation.mark_failed("x")
    receiver.plan = [503] * 10
    deliver_callback(generation.pk, "failed")
    retry_delays = django_settings.STUDIO_CALLBACK_RETRY_SECONDS
    for _ in range(len(retry_delays) + 2):
        make_retries_due()
        tasks.run_due_once()
    attempts = list(CallbackDelivery.objects.filter(generation=generation).order_by("attempt"))
    assert [a.attempt for a in attempts] == list(range(1, len(retry_delays) + 2))
    assert len(receiver.received) == len(retry_delays) + 1
    assert not CallbackDelivery.objects.filter(next_retry_at__isnull=False).exists()


def test_an_unreachable_callback_is_logged_and_retried(
    client: Client, key_and_secret, receiver
) -> None:
    _key, secret = key_and_secret
    generation = create_with_callback(client, secret, receiver.url)
    receiver.server.shutdown()
    receiver.server.server_close()
    generation.mark_failed("x")
    deliver_callback(generation.pk, "failed")
    delivery = CallbackDelivery.objects.get(generation=generation)
    assert (
        not delivery.ok
        and delivery.http_status is None
        and delivery.error.startswith("not delivered")
    )
    assert delivery.next_retry_at is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/hook",
        "http://192.168.0.10/hook",
    ],
)
def test_private_callback_urls_are_refused_at_create(
    client: Client, key_and_secret, settings, url
) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False
    _key, secret = key_and_secret
    response = post_json(client, T2V, {**BODY, "callback_url": url}, secret)
    assert response.status_code == 400 and response.json()["code"] == 1201
    assert (
        response.json()["message"].startswith("callback_url:")
        and "refused" in response.json()["message"]
    )
    assert not Generation.objects.exists()


def test_an_unresolvable_callback_host_is_refused_at_create(client: Client, key_and_secret) -> None:
    _key, secret = key_and_secret
    response = post_json(client, T2V, {**BODY, "callback_url": "https://hooks.invalid/x"}, secret)
    assert response.status_code == 400 and response.json()["code"] == 1201
    message = response.json()["message"]
    assert message.startswith("callback_url:") and "hooks.invalid does not resolve" in message
    assert not Generation.objects.exists()


def test_a_url_that_became_private_is_not_called_nor_retried(
    client: Client, key_and_secret, receiver, settings
) -> None:
    _key, secret = key_and_secret
    generation = create_with_callback(client, secret, receiver.url)
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False
    generation.mark_failed("x")
    deliver_callback(generation.pk, "failed")
    delivery = CallbackDelivery.objects.get(generation=generation)
    assert not delivery.ok and "refused" in delivery.error and delivery.next_retry_at is None
    assert receiver.received == []


def test_the_owner_sees_the_delivery_log_and_others_do_not(
    client: Client, key_and_secret, receiver, alice_client, bob_client
) -> None:
    key, secret = key_and_secret
    generation = create_with_callback(client, secret, receiver.url)
    generation.mark_failed("x")
    receiver.plan = [500]
    deliver_callback(generation.pk, "failed")
    page = alice_client.get(f"/keys/{key.pk}/deliveries/")
    html = page.content.decode()
    assert (
        page.status_code == 200
        and receiver.url in html
        and "HTTP 500" in html
        and str(generation.pk) in html
    )
    assert bob_client.get(f"/keys/{key.pk}/deliveries/").status_code == 404
    anonymous = Client().get(f"/keys/{key.pk}/deliveries/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_no_callback_url_means_no_delivery(
    client: Client, key_and_secret, local_provider, django_capture_on_commit_callbacks
) -> None:
    _key, secret = key_and_secret
    generation = Generation.objects.get(
        pk=int(post_json(client, T2V, BODY, secret).json()["data"]["task_id"])
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        generation.mark_failed("x")
    assert callbacks == [] and not CallbackDelivery.objects.exists()
    assert timezone.now() - generation.finished_at < timedelta(seconds=5)


def test_the_clients_callback_url_and_external_id_are_never_sent_upstream(
    client: Client, key_and_secret, receiver, settings
) -> None:
    from videos.models import Provider
    from videos.tasks import prepare_request

    settings.STUDIO_PUBLIC_URL = "https://studio.example.org"
    _key, secret = key_and_secret
    body = {**BODY, "callback_url": receiver.url, "external_task_id": "client-42"}
    generation = Generation.objects.get(
        pk=int(post_json(client, T2V, body, secret).json()["data"]["task_id"])
    )
    provider = Provider.objects.create(
        name="kling-test", kind="kling", base_url="https://api.klingai.com"
    )
    upstream = prepare_request(generation, provider, files={}, workdir="").body
    assert upstream["external_task_id"] == str(generation.pk)
    assert upstream["callback_url"].startswith("https://studio.example.org/")
    assert receiver.url not in json.dumps(upstream) and "client-42" not in json.dumps(upstream)


def test_the_owner_finds_the_webhook_secret_on_the_keys_callbacks_page(
    key_and_secret, alice_client, bob_client
) -> None:
    key, _secret = key_and_secret
    page = alice_client.get(f"/keys/{key.pk}/deliveries/")
    webhook_secret = key.get_webhook_secret()
    assert webhook_secret.startswith("whsec_")
    assert (
        f'<code id="key-webhook-secret" class="mono">{webhook_secret}</code>'
        in page.content.decode()
    )
    assert "no-store" in page["Cache-Control"]
    assert webhook_secret not in bob_client.get(f"/keys/{key.pk}/deliveries/").content.decode()


def test_the_api_docs_say_where_the_secret_is_and_their_verifier_accepts_a_real_callback(
    client: Client, key_and_secret, receiver, alice_client
) -> None:
    key, secret = key_and_secret
    docs = alice_client.get("/api/").content.decode()
    assert f'<a id="key-callbacks" href="/keys/{key.pk}/deliveries/">' in docs
    assert "apikey create" in docs
    snippet = html.unescape(re.search(r'<pre[^>]*id="ex-verify">(.*?)</pre>', docs, re.S)[1])
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 (the documentation's own example, run as a client would)
    generation = create_with_callback(client, secret, receiver.url)
    generation.mark_failed("x")
    deliver_callback(generation.pk, "failed")
    ((headers, body),) = receiver.received
    assert namespace["verify"](key.get_webhook_secret(), headers, body)
    assert not namespace["verify"](key.get_webhook_secret(), headers, body + b" ")
