"""The last known resource packs of each Kling provider and their alert settings (§7.8)."""

import django.db.models.deletion
from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0013_gateway_kinds_and_models"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProviderBalance",
            fields=[
                (
                    "provider",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="balance",
                        serialize=False,
                        to="videos.provider",
                    ),
                ),
                ("packs", models.JSONField(blank=True, default=list, editable=False)),
                ("checked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("refreshed_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("message", models.CharField(blank=True, editable=False, max_length=500)),
                (
                    "counted_packs",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="resource pack ids the alert counts; empty means every online pack",
                    ),
                ),
                (
                    "low_threshold",
                    models.DecimalField(
                        decimal_places=2,
                        default=Decimal("100"),
                        help_text="alert when the counted units left, minus the last 12 h of spend, fall below",
                        max_digits=12,
                    ),
                ),
                (
                    "used_up_at",
                    models.DateTimeField(
                        blank=True,
                        help_text="when the upstream last answered 1102 (packs used up)",
                        null=True,
                    ),
                ),
            ],
        ),
    ]
