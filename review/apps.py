from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class ReviewConfig(AppConfig):
    name = "review"

    def ready(self) -> None:
        from . import search

        # The only signals here, and not model side effects. Schema upkeep after
        # `migrate`, because SQLite drops a table's triggers when a migration rebuilds
        # videos_generation (see review/search.py).
        post_migrate.connect(search.ensure_schema, sender=self, dispatch_uid="review-search-schema")
        # SQLite's index triggers call a Python function (the CJK split); connection_created
        # is Django's one hook into every new connection, the ORM's own and the workers'.
        connection_created.connect(
            search.add_sqlite_functions, dispatch_uid="review-search-sqlite-functions"
        )
