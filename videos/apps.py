from django.apps import AppConfig


class VideosConfig(AppConfig):
    name = "videos"

    def ready(self) -> None:
        # One malformed schedule must not stop django-q2 from starting the due loop.
        from studio.schedules import guard_scheduler

        guard_scheduler()
