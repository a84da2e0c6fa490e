from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """Installed only for its `kling_simulator` command: it has no models and no URLs."""

    name = "simulator"
    verbose_name = "Kling simulator (development and tests)"
