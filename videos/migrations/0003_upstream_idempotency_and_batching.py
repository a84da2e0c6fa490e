"""Fields for money-safe upstream submission and batched polling (issue 3)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("videos", "0002_seed_catalogue_and_local_provider")]

    operations = [
        migrations.AddField(
            model_name="provider",
            name="poll_lease_until",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="generation",
            name="create_provider",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="videos.provider",
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="create_attempted_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="generation",
            name="download_attempts",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
    ]
