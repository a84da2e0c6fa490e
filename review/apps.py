from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReviewConfig(AppConfig):
    name = "review"

    def ready(self) -> None:
        from . import search

        # The only signal here, and not a model side effect: schema upkeep after
        # `migrate`, because SQLite drops a table's triggers when a migration rebuilds
        # videos_generation (see review/search.py).
        post_migrate.connect(search.ensure_schema, sender=self, dispatch_uid="review-search-schema")
