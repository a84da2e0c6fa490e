"""The Kling simulator: a faithful stand-in upstream for tests, benchmarks and development."""

from .server import Simulator

__all__ = ["Simulator"]
