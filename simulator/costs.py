"""The simulated account's resource packs: GET /account/costs (kling-kinds.md §7.8).

Deterministic: three packs with fixed times (one online, one used up, one expired) unless a
test sets its own. The online pack's remaining is its total minus the units of succeeded
tasks older than `lag_seconds` (upstream, remaining lags the spend by up to 12 hours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Simulator

DAY_MS = 24 * 3600 * 1000
# 2026-01-01T00:00:00Z: fixed, so every run lists the same packs.
EPOCH_MS = 1767225600000


def default_packs() -> list[dict[str, Any]]:
    """An online 1000-unit pack (spent by the simulated tasks), a used-up one, an expired one."""
    return [
        {
            "resource_pack_name": "Video Generation - 1000 units",
            "resource_pack_id": "sim-pack-online",
            "resource_pack_type": "decreasing_total",
            "total_quantity": 1000.0,
            "remaining_quantity": 1000.0,
            "purchase_time": EPOCH_MS,
            "effective_time": EPOCH_MS,
            "invalid_time": EPOCH_MS + 3650 * DAY_MS,
            "status": "online",
            "spent_by_tasks": True,
        },
        {
            "resource_pack_name": "Trial - 66 units",
            "resource_pack_id": "sim-pack-trial",
            "resource_pack_type": "decreasing_total",
            "total_quantity": 66.0,
            "remaining_quantity": 0.0,
            "purchase_time": EPOCH_MS - 30 * DAY_MS,
            "effective_time": EPOCH_MS - 30 * DAY_MS,
            "invalid_time": EPOCH_MS + 3650 * DAY_MS,
            "status": "runOut",
        },
        {
            "resource_pack_name": "Monthly - 300 units",
            "resource_pack_id": "sim-pack-expired",
            "resource_pack_type": "constant_period",
            "total_quantity": 300.0,
            "remaining_quantity": 120.0,
            "purchase_time": EPOCH_MS - 60 * DAY_MS,
            "effective_time": EPOCH_MS - 60 * DAY_MS,
            "invalid_time": EPOCH_MS - 30 * DAY_MS,
            "status": "expired",
        },
    ]


@dataclass
class Account:
    """The packs, how far remaining lags, and when /account/costs was last asked (≤ 1 QPS)."""

    packs: list[dict[str, Any]] = field(default_factory=default_packs)
    lag_seconds: float = 0.0
    last_request: float | None = None

    def infos(self, sim: Simulator) -> list[dict[str, Any]]:
        """The packs as the answer lists them, spending counted up to the lag."""
        cutoff = sim.now() - self.lag_seconds
        spent = sum(
            (
                Decimal(sim.units_of(task))
                for task in sim.tasks
                if task.created <= cutoff and sim.status_of(task)[0] == "succeed"
            ),
            Decimal(0),
        )
        out = []
        for pack in self.packs:
            info = {k: v for k, v in pack.items() if k != "spent_by_tasks"}
            if pack.get("spent_by_tasks"):
                left = max(Decimal(str(pack["total_quantity"])) - spent, Decimal(0))
                info["remaining_quantity"] = float(left)
                if not left:
                    info["status"] = "runOut"
            out.append(info)
        return out


def check_query(query: dict[str, list[str]]) -> str | None:
    """start_time and end_time in ms are required (§7.8): the 1201 message, or None."""
    for name in ("start_time", "end_time"):
        value = query.get(name, [""])[0]
        if not value:
            return f"{name} is required"
        if not value.isascii() or not value.isdigit():
            return f"{name} must be milliseconds since 1970"
    if int(query["start_time"][0]) > int(query["end_time"][0]):
        return "end_time is before start_time"
    return None


def answer(sim: Simulator, query: dict[str, list[str]]) -> dict[str, Any]:
    """The data object: {code, msg, resource_pack_subscribe_infos}, filtered by name if asked."""
    infos = sim.account.infos(sim)
    name = query.get("resource_pack_name", [""])[0]
    if name:
        infos = [info for info in infos if info["resource_pack_name"] == name]
    return {"code": 0, "msg": "SUCCEED", "resource_pack_subscribe_infos": infos}
