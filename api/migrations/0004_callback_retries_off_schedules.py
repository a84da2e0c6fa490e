"""Callback retries move from django-q2 schedules to CallbackDelivery.next_retry_at.

next_retry_at now means "this failed attempt still awaits its retry" (the due loop sends
it), so it is cleared where the retry was already made or the change was delivered; the
old one-off `callback-…` schedules are removed: their arguments held an enum's repr that
django-q2 could not parse, which stopped every other schedule (issue 12).
"""

from django.db import migrations, models
from django.db.models import Exists, OuterRef, Q


def move_retries_off_schedules(apps, schema_editor):
    CallbackDelivery = apps.get_model("api", "CallbackDelivery")
    later = CallbackDelivery.objects.filter(
        generation=OuterRef("generation"), task_status=OuterRef("task_status"), pk__gt=OuterRef("pk")
    )
    CallbackDelivery.objects.filter(next_retry_at__isnull=False).filter(
        Q(ok=True) | Exists(later)
    ).update(next_retry_at=None)
    apps.get_model("django_q", "Schedule").objects.filter(func="api.tasks.deliver_callback").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("api", "0003_compact_request_buckets_schedule"),
        ("videos", "0004_owner_status_index"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(move_retries_off_schedules, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="callbackdelivery",
            index=models.Index(
                condition=models.Q(("next_retry_at__isnull", False)),
                fields=["next_retry_at"],
                name="callback_retry_pending",
            ),
        ),
    ]
