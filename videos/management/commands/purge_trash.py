"""Delete for good the generations trashed longer than STUDIO_TRASH_DAYS, with their files."""

from typing import Any

from django.core.management.base import BaseCommand

from videos.tasks import PURGE_BATCH, purge_trash


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        while purged := purge_trash():  # the due loop does the same, a batch per pass
            total += purged
            if purged < PURGE_BATCH:
                break
        self.stdout.write(f"purged {total} generation(s) from the trash")
