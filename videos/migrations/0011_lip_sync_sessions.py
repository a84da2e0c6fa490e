import django.db.models.deletion
import django.utils.timezone
import videos.ids
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('api', '0001_initial'),
        ('videos', '0010_forget_url_credentials'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='LipSyncSession',
            fields=[
                ('id', models.BigIntegerField(default=videos.ids.new_task_id, editable=False, primary_key=True, serialize=False)),
                ('upstream_session_id', models.CharField(max_length=128)),
                ('faces', models.JSONField(default=list)),
                ('units', models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField()),
                ('api_key', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='api.apikey')),
                ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lip_sync_sessions', to=settings.AUTH_USER_MODEL)),
                ('provider', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='videos.provider')),
                ('source', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='videos.generation')),
                ('video_url', models.URLField(blank=True, max_length=2000)),
                ('video', models.FileField(blank=True, max_length=300, upload_to='lip-sync/')),
                ('video_duration', models.FloatField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
    ]
