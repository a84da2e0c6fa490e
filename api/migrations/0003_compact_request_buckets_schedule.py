"""Upsert the daily job that merges old per-minute request counts (api.tasks.compact_request_buckets)."""

from django.db import migrations


def schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="api-compact-request-buckets",
        defaults={"func": "api.tasks.compact_request_buckets", "schedule_type": "D", "repeats": -1},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="api-compact-request-buckets").delete()


class Migration(migrations.Migration):
    dependencies = [("api", "0002_usage_tasks_callbacks"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(schedule, unschedule)]
