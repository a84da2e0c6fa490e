"""Usage figures for admins: generations, failures and units per user, key, provider and model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from api.models import ApiKey
from videos.models import Generation, Provider, ProviderBalance, Status

CHART_WIDTH = 320  # px of the longest bar
DAY_CHART_BASE = 130  # px: the day chart's baseline (bars grow up from it)
TOP_REASONS = 3


@dataclass
class UsageRow:
    label: str
    generations: int
    failed: int
    units: Decimal
    reasons: list[tuple[str, int]] = field(default_factory=list)
    bar: int = 0  # px
    failed_bar: int = 0

    @property
    def failure_rate(self) -> int:
        return round(100 * self.failed / self.generations) if self.generations else 0


@dataclass
class UsageTable:
    title: str
    rows: list[UsageRow]

    @property
    def height(self) -> int:
        return 24 * len(self.rows) + 4


# (title, the grouping column, how a group is named when the column is null)
DIMENSIONS = [
    (_("Per user"), "owner__username", "—"),
    (_("Per API key"), "api_key__name", _("web UI (no key)")),
    (_("Per provider"), "provider__name", _("not submitted")),
    (_("Per model"), "model_name", "—"),
]


def _table(generations: QuerySet[Generation], title: str, column: str, blank: str) -> UsageTable:
    groups = (
        generations.values(column)
        .annotate(
            n=Count("pk"),
            failed=Count("pk", filter=Q(status=Status.FAILED)),
            units_sum=Sum("units"),
        )
        .order_by("-n", column)[:50]
    )
    rows = [
        UsageRow(
            label=group[column] or blank,
            generations=group["n"],
            failed=group["failed"],
            units=group["units_sum"] or Decimal(0),
        )
        for group in groups
    ]
    reasons = (
        generations.filter(status=Status.FAILED)
        .values(column, "status_message")
        .annotate(n=Count("pk"))
        .order_by("-n")[:500]
    )
    by_label = {row.label: row for row in rows}
    for reason in reasons:
        row = by_label.get(reason[column] or blank)
        if row and len(row.reasons) < TOP_REASONS:
            row.reasons.append((reason["status_message"] or "no reason given", reason["n"]))
    _scale(rows)
    return UsageTable(title, rows)


def _scale(rows: list[UsageRow]) -> None:
    top = max((row.generations for row in rows), default=0)
    for row in rows:
        row.bar = round(CHART_WIDTH * row.generations / top) if top else 0
        row.failed_bar = round(CHART_WIDTH * row.failed / top) if top else 0


@dataclass
class Day:
    date: Any
    generations: int
    failed: int
    x: int = 0
    height: int = 0
    failed_height: int = 0

    @property
    def y(self) -> int:
        return DAY_CHART_BASE - self.height

    @property
    def failed_y(self) -> int:
        return DAY_CHART_BASE - self.failed_height


def _day_step(count: int) -> int:
    """px per day: wide bars for a week, thin ones for a year, within 720 px."""
    return max(3, min(24, 720 // max(1, count)))


def _days(generations: QuerySet[Generation]) -> list[Day]:
    per_day = (
        generations.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("pk"), failed=Count("pk", filter=Q(status=Status.FAILED)))
        .order_by("day")
    )
    days = [Day(d["day"], d["n"], d["failed"]) for d in per_day]
    top = max((d.generations for d in days), default=0)
    step = _day_step(len(days))
    for index, day in enumerate(days):
        day.x = index * step
        day.height = round(120 * day.generations / top) if top else 0
        day.failed_height = round(120 * day.failed / top) if top else 0
    return days


def report(start: datetime, end: datetime) -> dict[str, Any]:
    """Everything the usage page shows for [start, end)."""
    generations = Generation.objects.filter(created_at__gte=start, created_at__lt=end)
    totals = generations.aggregate(
        n=Count("pk"), failed=Count("pk", filter=Q(status=Status.FAILED)), units_sum=Sum("units")
    )
    days = _days(generations)
    top_reasons = (
        generations.filter(status=Status.FAILED)
        .values("status_message")
        .annotate(n=Count("pk"))
        .order_by("-n")[:10]
    )
    return {
        "start": start,
        "end": end,
        "totals": totals,
        # Titles and blanks in the request's language, as plain text (blank is a grouping key).
        "tables": [
            _table(generations, str(title), column, str(blank))
            for title, column, blank in DIMENSIONS
        ],
        "days": days,
        "day_width": _day_step(len(days)) - 1,
        "days_width": _day_step(len(days)) * len(days),
        "chart_width": CHART_WIDTH,
        "top_reasons": list(top_reasons),
        "audit": audit_log(),
        "balances": balances(),
    }


@dataclass
class ProviderFunds:
    """One provider's line in the balance section: its packs, or why it has none."""

    provider: Provider
    metered: bool
    balance: ProviderBalance | None = None
    note: str = ""

    @property
    def packs(self) -> list[dict[str, Any]]:
        return self.balance.pack_rows() if self.balance else []

    @property
    def alerts(self) -> list[str]:
        return self.balance.alerts() if self.balance else []


def balances() -> list[ProviderFunds]:
    """Every provider's resource packs as last refreshed (kling-kinds.md §7.8)."""
    out = []
    for provider in Provider.objects.select_related("balance").order_by("priority", "name"):
        if provider.kind == Provider.Kind.LOCAL:
            out.append(ProviderFunds(provider, metered=False, note=gettext("not metered")))
            continue
        if provider.kind != Provider.Kind.KLING:
            note = gettext("not asked: gateways have no /account/costs")
            out.append(ProviderFunds(provider, metered=False, note=note))
            continue
        balance = getattr(provider, "balance", None)  # None: not refreshed yet
        note = "" if balance and balance.refreshed_at else gettext("not checked yet")
        out.append(ProviderFunds(provider, metered=True, balance=balance, note=note))
    return out


def audit_log(limit: int = 100) -> QuerySet[LogEntry]:
    """Changes to studio keys (by admins and on My keys) and upstream providers, newest first."""
    types = ContentType.objects.get_for_models(ApiKey, Provider).values()
    return (
        LogEntry.objects.filter(content_type__in=list(types))
        .select_related("user", "content_type")
        .order_by("-action_time")[:limit]
    )
