"""`manage.py kling_simulator`: run the Kling simulator to develop without spending money."""

from __future__ import annotations

import threading
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from simulator import Simulator
from simulator.server import GATEWAY_SHAPES, SHAPES
from simulator.testing import provider_kind_for


class Command(BaseCommand):
    help = "Run a Kling-compatible API simulator (kling-api.md §1; --gateway for §2)."
    # A stand-in upstream: it has no tables, so it skips the checks (they open the database).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8010)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--access-key", default="sim-access-key")
        parser.add_argument("--secret-key", default="sim-secret-key-for-tests-0123456789")
        parser.add_argument("--api-key", default="", help="also accept this Bearer key")
        parser.add_argument(
            "--gateway", action="store_true", help="gateway mode: Bearer key, /kling"
        )
        parser.add_argument(
            "--shape",
            choices=SHAPES,
            default="kling",
            help="kling (official), a Kling gateway's answer shape (flat, openai, record), or a "
            "gateway family of kling-kinds.md §8: openai-video, video-generations, seedance-kling",
        )
        parser.add_argument(
            "--answers",
            choices=("flat", "code", "seedance"),
            default="flat",
            help="video-generations: which §8b query answer shape to send",
        )
        parser.add_argument("--fault-rate", type=float, default=0.0, help="0..1 of requests fail")
        parser.add_argument("--min-seconds", type=float, default=5.0)
        parser.add_argument("--max-seconds", type=float, default=20.0)
        parser.add_argument("--max-concurrent", type=int, default=None)
        parser.add_argument("--webhook-secret", default="", help="sign callbacks (whsec_...)")

    def handle(self, *args: Any, **options: Any) -> None:
        sim = Simulator(
            host=options["host"],
            port=options["port"],
            access_key=options["access_key"],
            secret_key=options["secret_key"],
            api_key=options["api_key"] or ("sim-gateway-key" if options["gateway"] else ""),
            gateway=options["gateway"],
            shape=options["shape"],
            fault_rate=options["fault_rate"],
            min_seconds=options["min_seconds"],
            max_seconds=options["max_seconds"],
            max_concurrent=options["max_concurrent"],
            webhook_secret=options["webhook_secret"],
            generations_answer=options["answers"],
        )
        kind = provider_kind_for(sim)
        creds = (
            f"--api-key {sim.api_key}"
            if sim.gateway or options["shape"] in GATEWAY_SHAPES
            else f"--access-key {options['access_key']} --secret-key <the secret key>"
        )
        self.stdout.write(
            f"Kling simulator on {sim.url}{sim.prefix} "
            f"({'gateway, ' + sim.shape + ' answers' if sim.gateway else 'official API'}).\n"
            f"Use it: manage.py provider add --kind {kind} --name sim --base-url {sim.url} "
            f"{creds}\n"
            "Ctrl-C stops it."
        )
        sim.start()
        try:
            threading.Event().wait()  # serve until interrupted
        except KeyboardInterrupt:
            pass
        finally:
            sim.stop()
