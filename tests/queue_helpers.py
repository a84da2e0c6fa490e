"""django-q2 for tests: a broker that keeps what a scheduler tick enqueues."""

from __future__ import annotations

from django_q.signing import SignedPackage


class RecordingBroker:
    """Keeps what django-q2's scheduler enqueues, as a broker would, without running it."""

    list_key = "recording"

    def __init__(self) -> None:
        self.packages: list[str] = []

    def enqueue(self, package: str) -> str:
        self.packages.append(package)
        return str(len(self.packages))

    def funcs(self) -> list[str]:
        """The job of every task enqueued, read back from its signed package."""
        return [SignedPackage.loads(package)["func"] for package in self.packages]
