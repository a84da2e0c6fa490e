"""Batches (the jobs of one web submission share an id) and the trash (soft delete)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("videos", "0011_lip_sync_sessions")]

    operations = [
        migrations.AddField(
            model_name="generation",
            name="batch_id",
            field=models.UUIDField(blank=True, db_index=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="generation",
            name="batch_index",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="generation",
            name="batch_size",
            field=models.PositiveSmallIntegerField(default=1, editable=False),
        ),
        migrations.AddField(
            model_name="generation",
            name="deleted_at",
            field=models.DateTimeField(blank=True, db_index=True, editable=False, null=True),
        ),
    ]
