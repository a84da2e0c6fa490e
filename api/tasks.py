"""Jobs of the api app: posting status changes to clients' callback URLs (kling-api.md §5)."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django_q.tasks import async_task

from videos.models import Generation
from videos.providers.fetch import guarded_client
from videos.providers.webhooks import sign

from .forms import validate_callback_url
from .http import base_url_of, task_row
from .kling import kling_task
from .models import CallbackDelivery, RequestBucket

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
# How long a retry taken by the due loop waits in the queue before it is due again (a lost
# job), and how long a retry job holds it while posting (more than one POST's timeout).
RETRY_QUEUE_LEASE_SECONDS = 300
RETRY_SEND_LEASE_SECONDS = TIMEOUT_SECONDS + 50
MAX_RETRIES_PER_PASS = 100


def deliver_callback(generation_pk: int, status: str) -> bool:
    """Post the Kling task object for one status change; False if there is nothing to send.

    A job of plain arguments (an int and a str, never an enum or a model): its arguments
    cross processes and must mean the same on the other side. A failed attempt is
    retried later by the due loop.
    """
    generation = Generation.objects.select_related("api_key").filter(pk=generation_pk).first()
    row = task_row(generation_pk)
    if generation is None or row is None or not generation.client_callback_url:
        return False
    url = generation.client_callback_url
    attempt = CallbackDelivery.objects.filter(generation=generation, task_status=status).count() + 1
    # The same id on every retry lets the client drop duplicates (Standard Webhooks).
    msg_id = f"{generation.pk}-{status}"
    body = json.dumps(kling_task(row, base_url_of(row), status=status)).encode()
    delivery = CallbackDelivery(
        generation=generation,
        api_key=generation.api_key,
        url=url,
        task_status=status,
        webhook_id=msg_id,
        attempt=attempt,
    )
    permanent = False
    try:
        validate_callback_url(url)  # checked at create too; DNS may have changed since
        delivery.http_status = _post(url, msg_id, body, generation)
        delivery.ok = 200 <= delivery.http_status < 300
        if not delivery.ok:
            delivery.error = f"the callback URL answered HTTP {delivery.http_status}"
    except ValidationError as exc:
        delivery.error = f"not sent: {exc.messages[0]}"
        permanent = exc.code in ("scheme", "refused")
    except Exception as exc:  # noqa: BLE001 (any transport failure is a failed attempt, retried)
        delivery.error = f"not delivered: {exc}"
    delays = settings.STUDIO_CALLBACK_RETRY_SECONDS
    if not delivery.ok and not permanent and attempt <= len(delays):
        # Sent by the due loop (enqueue_due_retries) once due: nothing is scheduled in django-q2.
        delivery.next_retry_at = timezone.now() + timedelta(seconds=delays[attempt - 1])
    delivery.save()
    delivery.supersede_earlier()
    if not delivery.ok:
        log.info("callback %s attempt %s failed: %s", msg_id, attempt, delivery.error)
    return True


def enqueue_due_retries() -> int:
    """Queue a job for every callback retry that is due (a step of the due loop); returns how many.

    Each is taken first (CallbackDelivery.claim_retry), so concurrent loops queue it once.
    The POST runs in a worker job, not in the loop: a slow receiver cannot delay polling.
    """
    queued = 0
    for delivery in CallbackDelivery.objects.retry_due()[:MAX_RETRIES_PER_PASS]:
        if delivery.claim_retry(RETRY_QUEUE_LEASE_SECONDS):
            # The claimed time goes with the job as a token (an ISO string, a plain value).
            token = delivery.next_retry_at.isoformat()
            async_task(
                "api.tasks.retry_callback", delivery.pk, token, task_name=f"retry-{delivery.pk}"
            )
            queued += 1
    return queued


def retry_callback(delivery_pk: int, token: str) -> None:
    """Send the retry of one failed attempt, unless it was sent or superseded meanwhile."""
    # A job whose queue lease ran out was queued again with a new token: the stale one
    # finds another value here and does nothing, so a retry is sent once.
    delivery = CallbackDelivery.objects.filter(
        pk=delivery_pk, next_retry_at=datetime.fromisoformat(token)
    ).first()
    if delivery is None or not delivery.claim_retry(RETRY_SEND_LEASE_SECONDS):
        return
    if not deliver_callback(delivery.generation_id, delivery.task_status):
        delivery.drop_retry()  # nothing to send any more (the callback URL was removed)


def _post(url: str, msg_id: str, body: bytes, generation: Generation) -> int:
    """One POST of a signed body; returns the HTTP status."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
    }
    secret = generation.api_key.get_webhook_secret() if generation.api_key else ""
    if secret:
        headers["webhook-signature"] = sign(secret, msg_id, timestamp, body)
    with guarded_client(timeout=TIMEOUT_SECONDS) as client:
        # No redirects: a 302 would turn the POST into a GET somewhere else.
        response = client.post(url, content=body, headers=headers, follow_redirects=False)
    return response.status_code


MINUTES_PER_DAY = 1440


def compact_request_buckets(keep_days: int = 2) -> int:
    """Merge per-minute request counts older than keep_days into one row per key and day.

    The rate limit needs only the current minute; usage needs totals. Without this a busy
    key would leave half a million rows a year. Returns how many rows were merged away.
    """
    cutoff = int(time.time() // 60) - keep_days * MINUTES_PER_DAY
    cutoff -= cutoff % MINUTES_PER_DAY  # whole days only, so a day is merged once
    with transaction.atomic():
        old = RequestBucket.objects.filter(minute__lt=cutoff)
        days = list(
            old.annotate(day=F("minute") / MINUTES_PER_DAY)
            .values("key_id", "day")
            .annotate(total=Sum("count"))
            .order_by()
        )
        merged = old.count()
        old.delete()
        RequestBucket.objects.bulk_create(
            RequestBucket(key_id=d["key_id"], minute=d["day"] * MINUTES_PER_DAY, count=d["total"])
            for d in days
        )
    return merged - len(days)
