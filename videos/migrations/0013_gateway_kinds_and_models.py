from django.db import migrations, models

# kling-kinds.md §8: the gateway model families. Seedance 2.0 as the seeds name it (000_*,
# seeded in 0002: the resolution is in the model name; §8c: 4..15 s; the seeds' bodies keep
# their mode, cfg_scale and camera_control, which the route likely ignores: the timeline says
# so), and one representative each for MiniMax Hailuo, Vidu and PixVerse as a gateway
# exposes them (001_*: one quality, no camera control, no cfg_scale). Every field stays
# editable in the admin; a provider maps the studio's name to its own in model_map.
BOTH = ["text2video", "image2video"]
GATEWAY_MODELS = [
    {
        "name": "doubao-seedance-2-0-fast-480p",
        "label": "Seedance 2.0 fast 480p (gateway)",
        "durations": list(range(4, 16)),
        "aspect_ratios": ["16:9", "9:16", "1:1", "4:3", "3:4"],
        "typical_seconds": 90,
        "sort_order": 300,
    },
    {
        "name": "doubao-seedance-2-0-fast-720p",
        "label": "Seedance 2.0 fast 720p (gateway)",
        "durations": list(range(4, 16)),
        "aspect_ratios": ["16:9", "9:16", "1:1", "4:3", "3:4"],
        "typical_seconds": 120,
        "sort_order": 301,
    },
    {
        "name": "MiniMax-Hailuo-02",
        "label": "MiniMax Hailuo 02 (gateway)",
        "durations": [6, 10],
        "aspect_ratios": ["16:9", "9:16", "1:1"],
        "supports_last_frame": True,
        "typical_seconds": 180,
        "units_std": "2",
        "sort_order": 310,
    },
    {
        "name": "viduq1",
        "label": "Vidu Q1 (gateway)",
        "durations": [5],
        "aspect_ratios": ["16:9", "9:16", "1:1"],
        "supports_last_frame": True,
        "typical_seconds": 120,
        "units_std": "2",
        "sort_order": 320,
    },
    {
        "name": "pixverse-v4.5",
        "label": "PixVerse v4.5 (gateway)",
        "durations": [5, 8],
        "aspect_ratios": ["16:9", "9:16", "1:1", "4:3", "3:4"],
        "supports_last_frame": True,
        "typical_seconds": 60,
        "units_std": "1",
        "sort_order": 330,
    },
]


def seed(apps, schema_editor):
    VideoModel = apps.get_model("videos", "VideoModel")
    for entry in GATEWAY_MODELS:
        fields = dict(entry)
        name = fields.pop("name")
        if name.startswith("doubao-seedance"):
            # Seeded in 0002 with the seeds' rules: only §8c's durations and sizes change.
            VideoModel.objects.filter(name=name).update(**fields)
            continue
        # One quality per name on these gateways: std only, pro costs the same.
        fields.update(
            kinds=BOTH,
            modes=["std"],
            default_mode="std",
            supports_cfg_scale=False,
            supports_camera_control=False,
            supports_first_frame=True,
            units_pro=fields["units_std"],
        )
        VideoModel.objects.update_or_create(name=name, defaults=fields)


def unseed(apps, schema_editor):
    names = [e["name"] for e in GATEWAY_MODELS if not e["name"].startswith("doubao-seedance")]
    apps.get_model("videos", "VideoModel").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [("videos", "0012_batches_trash")]

    operations = [
        migrations.AlterField(
            model_name="provider",
            name="kind",
            field=models.CharField(
                choices=[
                    ("local", "Local renderer"),
                    ("kling", "Kling (official API)"),
                    ("kling-gateway", "Kling-compatible gateway"),
                    ("openai-video", "OpenAI-style video gateway (/v1/videos)"),
                    ("video-generations", "new-api-style gateway (/v1/video/generations)"),
                ],
                default="local",
                max_length=20,
            ),
        ),
        migrations.RunPython(seed, unseed),
    ]
