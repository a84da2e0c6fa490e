"""Once upserted the daily request-bucket compaction schedule.

Every schedule is now declared in studio/schedules.py and upserted by `manage.py
studio_setup`; this step is kept empty so the migration graph stays the same.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("api", "0002_usage_tasks_callbacks"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = []
