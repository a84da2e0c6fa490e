"""Seed the model catalogue (kling-api.md §1.3 plus the seeds' gateway models) and the local provider."""

from decimal import Decimal

from django.db import migrations

BOTH = ["text2video", "image2video"]
I2V = ["image2video"]
MODES = ["std", "pro"]
FIVE_TEN = [5, 10]

# name, label, kinds, durations, cfg_scale, camera, last frame, typical s, units std, units pro
CATALOGUE = [
    ("kling-v1", "Kling 1.0", BOTH, FIVE_TEN, True, True, True, 120, "1", "3.5"),
    ("kling-v1-5", "Kling 1.5", I2V, FIVE_TEN, True, True, True, 150, "2", "3.5"),
    ("kling-v1-6", "Kling 1.6", BOTH, FIVE_TEN, True, True, True, 180, "2", "3.5"),
    ("kling-v2-master", "Kling 2.0 Master", BOTH, FIVE_TEN, False, False, False, 300, "10", "10"),
    ("kling-v2-1", "Kling 2.1", I2V, FIVE_TEN, False, True, True, 200, "2", "3.5"),
    ("kling-v2-1-master", "Kling 2.1 Master", BOTH, FIVE_TEN, False, False, False, 300, "10", "10"),
    ("kling-v2-5-turbo", "Kling 2.5 Turbo", BOTH, FIVE_TEN, False, True, True, 90, "2.5", "5"),
    ("kling-v2-6", "Kling 2.6", BOTH, FIVE_TEN, False, True, True, 150, "3", "5"),
    ("kling-v3", "Kling 3.0", BOTH, list(range(3, 16)), False, True, True, 200, "3", "6"),
    ("doubao-seedance-2-0-fast-480p", "Seedance 2.0 fast 480p (gateway)", BOTH, FIVE_TEN, True, True, True, 60, "1", "1"),
    ("doubao-seedance-2-0-fast-720p", "Seedance 2.0 fast 720p (gateway)", BOTH, FIVE_TEN, True, True, True, 90, "1.5", "1.5"),
]


def seed(apps, schema_editor):
    VideoModel = apps.get_model("videos", "VideoModel")
    Provider = apps.get_model("videos", "Provider")
    for order, (name, label, kinds, durations, cfg, camera, tail, typical, std, pro) in enumerate(CATALOGUE):
        VideoModel.objects.update_or_create(
            name=name,
            defaults={
                "label": label,
                "kinds": kinds,
                "modes": MODES,
                "durations": durations,
                "supports_cfg_scale": cfg,
                "supports_camera_control": camera,
                "supports_last_frame": tail,
                "typical_seconds": typical,
                "units_std": Decimal(std),
                "units_pro": Decimal(pro),
                "sort_order": order,
            },
        )
    # The built-in renderer serves every catalogue model, so every example works offline.
    # A high priority number: real upstreams added later are tried first.
    Provider.objects.get_or_create(
        name="local", defaults={"kind": "local", "priority": 1000, "max_concurrent": 2}
    )


def unseed(apps, schema_editor):
    apps.get_model("videos", "VideoModel").objects.filter(name__in=[c[0] for c in CATALOGUE]).delete()


class Migration(migrations.Migration):
    dependencies = [("videos", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
