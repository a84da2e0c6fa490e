from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("videos", "0015_projects")]

    operations = [
        migrations.AddField(
            model_name="provider",
            name="typical_seconds",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="typical run time of a job here, in seconds; empty: the model's "
                "(the local renderer: from the clip's length)",
                null=True,
            ),
        ),
    ]
