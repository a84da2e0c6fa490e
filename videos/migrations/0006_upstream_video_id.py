from django.db import migrations, models


def backfill(apps, schema_editor):
    """Existing rows: take task_result.videos[0].id from the last upstream answer on the timeline.

    Local renders had no upstream answer: their video id is the task id ("local-<pk>").
    """
    Generation = apps.get_model("videos", "Generation")
    Event = apps.get_model("videos", "GenerationEvent")
    done = Generation.objects.filter(status="succeeded", upstream_video_id="")
    for generation in done.iterator():
        video_id = ""
        if generation.upstream_task_id.startswith("local-"):
            video_id = generation.upstream_task_id
        else:
            answers = Event.objects.filter(generation_id=generation.pk, kind="upstream")
            for event in answers.order_by("-at", "-id").iterator():
                video_id = _video_id(event.data)
                if video_id:
                    break
        if video_id:
            Generation.objects.filter(pk=generation.pk).update(upstream_video_id=video_id[:128])


def _video_id(data):
    task = data.get("data") if isinstance(data, dict) and isinstance(data.get("data"), dict) else data
    if not isinstance(task, dict):
        return ""
    videos = (task.get("task_result") or {}).get("videos") if isinstance(task.get("task_result"), dict) else None
    if isinstance(videos, list) and videos and isinstance(videos[0], dict):
        return str(videos[0].get("id") or "")
    return ""


class Migration(migrations.Migration):
    dependencies = [("videos", "0005_provider_failures_and_waiting_reason")]

    operations = [
        migrations.AddField(
            model_name="generation",
            name="upstream_video_id",
            field=models.CharField(blank=True, max_length=128),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
