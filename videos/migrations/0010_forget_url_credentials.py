"""Rows written before URLs with credentials were refused may still show them to the team.

Frame URLs are shown on the detail page and in compare, and a failed fetch put the URL in
the status message and on the timeline: "http://user:pass@host/a" becomes "http://host/a".
"""

import re

from django.db import migrations

CREDENTIALS = re.compile(r"(?i)\b(https?://)[^/\s@]+@")


def forget(apps, schema_editor):
    Generation = apps.get_model("videos", "Generation")
    Event = apps.get_model("videos", "GenerationEvent")
    fields = ("image_url", "image_tail_url", "status_message")
    for generation in (
        Generation.objects.filter(**{"image_url__contains": "@"})
        | Generation.objects.filter(image_tail_url__contains="@")
        | Generation.objects.filter(status_message__contains="@")
    ):
        changes = {
            name: CREDENTIALS.sub(r"\1", getattr(generation, name))
            for name in fields
            if CREDENTIALS.search(getattr(generation, name))
        }
        if changes:
            Generation.objects.filter(pk=generation.pk).update(**changes)
    for event in Event.objects.filter(message__contains="@").iterator():
        if CREDENTIALS.search(event.message):
            Event.objects.filter(pk=event.pk).update(message=CREDENTIALS.sub(r"\1", event.message))


class Migration(migrations.Migration):
    dependencies = [("videos", "0009_effect_scenes")]

    operations = [migrations.RunPython(forget, migrations.RunPython.noop)]
