"""Upstream balance (kling-kinds.md §7.8): the Kling provider reads its resource packs from the
simulator, the due loop refreshes them at most once a minute, and admins see them and a banner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from simulator import Simulator
from simulator.costs import EPOCH_MS
from simulator.testing import provider_for
from videos import tasks
from videos.models import Generation, Provider, ProviderBalance, Status
from videos.providers import UpstreamError

pytestmark = pytest.mark.django_db

HOUR_MS = 3600 * 1000


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as running:
        yield running


@pytest.fixture
def kling(sim: Simulator) -> Provider:
    return provider_for(sim, name="kling-main")


def _pack(name: str, pack_id: str, total: float, remaining: float, **extra) -> dict:
    return {
        "resource_pack_name": name,
        "resource_pack_id": pack_id,
        "resource_pack_type": "decreasing_total",
        "total_quantity": total,
        "remaining_quantity": remaining,
        "purchase_time": EPOCH_MS,
        "effective_time": EPOCH_MS,
        "invalid_time": extra.pop("invalid_time", EPOCH_MS + 3650 * 24 * HOUR_MS),
        "status": extra.pop("status", "online"),
    }


# ---- the provider against the simulator ------------------------------------------------------
def test_kling_provider_reads_the_simulators_packs(sim: Simulator, kling: Provider) -> None:
    packs = kling.upstream().balance()
    assert [(p.pack_id, p.status, p.total, p.remaining) for p in packs] == [
        ("sim-pack-online", "online", Decimal("1000.0"), Decimal("1000.0")),
        ("sim-pack-trial", "runOut", Decimal("66.0"), Decimal("0.0")),
        ("sim-pack-expired", "expired", Decimal("300.0"), Decimal("120.0")),
    ]
    online = packs[0]
    assert online.name == "Video Generation - 1000 units"
    assert online.pack_type == "decreasing_total"
    assert online.effective_time == datetime(2026, 1, 1, tzinfo=UTC)
    assert online.invalid_time == datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=3650)
    assert sim.counts["costs"] == 1


def test_it_asks_for_the_last_365_days_in_milliseconds(sim: Simulator, kling: Provider) -> None:
    seen: list[str] = []
    original = sim.server.RequestHandlerClass._costs

    def spy(handler, method, query):  # type: ignore[no-untyped-def]
        seen.append(f"{query['start_time'][0]}:{query['end_time'][0]}")
        return original(handler, method, query)

    sim.server.RequestHandlerClass._costs = spy
    try:
        kling.upstream().balance()
    finally:
        sim.server.RequestHandlerClass._costs = original
    start, end = (int(v) for v in seen[0].split(":"))
    assert end - start == 365 * 24 * HOUR_MS
    assert abs(end / 1000 - timezone.now().timestamp()) < 60


def test_the_simulator_refuses_a_missing_window(sim: Simulator, kling: Provider) -> None:
    client = kling.upstream()
    with pytest.raises(UpstreamError) as caught:
        client._call("GET", "/account/costs", params={"end_time": 1})
    assert caught.value.code == 1201 and "start_time" in caught.value.message


def test_spent_units_lower_the_online_pack_after_the_lag(sim: Simulator, kling: Provider) -> None:
    sim.account.lag_seconds = 0
    task = sim._new_task("text2video", {"mode": "pro", "duration": "10"})
    sim.finish(task.task_id)
    sim.clock_offset += 2  # the simulator's 1 QPS limit reads its own clock
    packs = kling.upstream().balance()
    assert packs[0].remaining == Decimal("993.0")  # 3.5 units per 5 s of pro: 7 spent
    sim.account.lag_seconds = 12 * 3600  # remaining lags the spend (§7.8): not yet counted
    sim.clock_offset += 2
    assert kling.upstream().balance()[0].remaining == Decimal("1000.0")


def test_more_than_one_query_a_second_is_rate_limited(sim: Simulator, kling: Provider) -> None:
    client = kling.upstream()
    client.balance()
    with pytest.raises(UpstreamError) as caught:
        client.balance()
    assert caught.value.code == 1302 and caught.value.retry_after


def test_a_slow_account_route_holds_the_due_loop_only_briefly(
    sim: Simulator, kling: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from videos.providers import kling as kling_module

    monkeypatch.setattr(kling_module, "COSTS_TIMEOUT_SECONDS", 0.3)
    sim.slow_seconds = 3
    sim.add_fault("slow", on="costs")
    started = time.monotonic()
    tasks.refresh_balances()
    assert time.monotonic() - started < 2
    assert ProviderBalance.objects.get(provider=kling).message == "no answer within 0.3 s"


def test_a_gateway_without_the_route_reads_balance_not_available() -> None:
    with Simulator(gateway=True, api_key="gw-key") as gateway:
        provider = provider_for(gateway, name="gw")
        with pytest.raises(UpstreamError) as caught:
            provider.upstream().balance()
    assert caught.value.message.startswith("balance not available")
    assert caught.value.permanent


def test_the_local_provider_is_not_metered() -> None:
    local = Provider.objects.get(name="local")
    assert local.upstream().balance() is None


# ---- the due loop --------------------------------------------------------------------------------
def test_the_due_loop_refreshes_at_most_once_a_minute(sim: Simulator, kling: Provider) -> None:
    t0 = timezone.now()
    assert tasks.refresh_balances(now=t0) == 1
    balance = ProviderBalance.objects.get(provider=kling)
    assert balance.refreshed_at == t0 and len(balance.packs) == 3
    assert balance.packs[0]["remaining"] == "1000.0"
    for seconds in (1, 30, 59):
        sim.clock_offset += 2
        assert tasks.refresh_balances(now=t0 + timedelta(seconds=seconds)) == 0
    assert sim.counts["costs"] == 1
    sim.clock_offset += 2
    assert tasks.refresh_balances(now=t0 + timedelta(seconds=60)) == 1
    assert sim.counts["costs"] == 2
    assert ProviderBalance.objects.get(provider=kling).refreshed_at == t0 + timedelta(seconds=60)


def test_the_due_pass_refreshes_kling_providers_only(sim: Simulator, kling: Provider) -> None:
    tasks.run_due_once()
    assert sim.counts["costs"] == 1
    assert not ProviderBalance.objects.filter(provider__kind=Provider.Kind.LOCAL).exists()


def test_a_disabled_provider_is_not_asked(sim: Simulator, kling: Provider) -> None:
    Provider.objects.filter(pk=kling.pk).update(enabled=False)
    assert tasks.refresh_balances() == 0
    assert sim.counts["costs"] == 0


def test_a_failed_refresh_keeps_the_last_packs_and_says_why(
    sim: Simulator, kling: Provider
) -> None:
    t0 = timezone.now()
    tasks.refresh_balances(now=t0)
    sim.add_fault("500", on="costs")
    sim.clock_offset += 2
    tasks.refresh_balances(now=t0 + timedelta(minutes=1))
    balance = ProviderBalance.objects.get(provider=kling)
    assert len(balance.packs) == 3 and balance.refreshed_at == t0
    assert "internal error" in balance.message


def test_a_1102_on_create_alerts_at_once(sim: Simulator, kling: Provider, user) -> None:
    from simulator.testing import disable_local_providers, queued_generation

    disable_local_providers()
    generation = queued_generation(user, prompt="sim:error:1102 a boat")
    tasks.submit_generation(generation.pk)
    balance = ProviderBalance.objects.get(provider=kling)
    assert balance.used_up_at is not None
    assert balance.alerts() == ["the upstream answered 1102: resource packs used up"]


# ---- the alert rule ------------------------------------------------------------------------------
def _stored(kling: Provider, packs: list[dict], now: datetime, **fields) -> ProviderBalance:
    from videos.providers.kling import parse_packs

    ProviderBalance.claim_refresh(kling, now)
    ProviderBalance.store(
        kling, parse_packs({"data": {"resource_pack_subscribe_infos": packs}}), now
    )
    ProviderBalance.objects.filter(provider=kling).update(**fields)
    return ProviderBalance.objects.get(provider=kling)


def _spent(kling: Provider, user, units: str, finished_at: datetime) -> None:
    Generation.objects.create(
        owner=user, provider=kling, status=Status.SUCCEEDED, units=Decimal(units),
        finished_at=finished_at,
    )  # fmt: skip


def test_low_alert_subtracts_the_last_12_hours_of_spend(kling: Provider, user) -> None:
    now = timezone.now()
    balance = _stored(kling, [_pack("A", "a", 500, 150)], now, low_threshold=Decimal(100))
    assert balance.alerts(now) == []  # 150 left, threshold 100
    _spent(kling, user, "30", now - timedelta(hours=11))
    _spent(kling, user, "500", now - timedelta(hours=13))  # older than the lag: already counted
    assert balance.alerts(now) == []  # 150 - 30 = 120
    _spent(kling, user, "25", now - timedelta(hours=1))
    assert balance.alerts(now) == ["95 units left after the last 12 h of spend (alert below 100)"]


def test_only_counted_packs_count(kling: Provider) -> None:
    now = timezone.now()
    packs = [
        _pack("A", "a", 500, 80),
        _pack("B", "b", 500, 400, status="expired"),
        _pack("C", "c", 500, 60, status="toBeOnline"),
    ]
    balance = _stored(kling, packs, now)
    assert balance.counted_remaining() == Decimal(80)  # default: online packs only
    assert len(balance.alerts(now)) == 1
    balance.counted_packs = ["a", "c"]
    assert balance.counted_remaining() == Decimal(140)
    assert balance.alerts(now) == []


def test_a_counted_pack_expiring_within_a_week_alerts(kling: Provider) -> None:
    now = timezone.now()
    soon = int((now + timedelta(days=3)).timestamp() * 1000)
    later = int((now + timedelta(days=30)).timestamp() * 1000)
    packs = [
        _pack("Soon", "s", 500, 300, invalid_time=soon),
        _pack("Later", "l", 500, 300, invalid_time=later),
    ]
    alerts = _stored(kling, packs, now).alerts(now)
    assert len(alerts) == 1
    assert alerts[0].startswith("pack Soon expires on ") and "with 300 units left" in alerts[0]


def test_a_1102_alert_lasts_12_hours(kling: Provider) -> None:
    now = timezone.now()
    balance = _stored(kling, [_pack("A", "a", 500, 400)], now, used_up_at=now - timedelta(hours=2))
    assert balance.alerts(now) == ["the upstream answered 1102: resource packs used up"]
    assert balance.alerts(now + timedelta(hours=9, minutes=59)) != []
    assert balance.alerts(now + timedelta(hours=10, seconds=1)) == []


# ---- what admins see -----------------------------------------------------------------------------
def test_staff_see_the_low_balance_banner_on_every_page(
    kling: Provider, staff_client, alice_client
) -> None:
    _stored(kling, [_pack("A", "a", 500, 20)], timezone.now())
    page = staff_client.get(reverse("history")).content.decode()
    assert "kling-main" in page and "20 units left after the last 12 h of spend" in page
    assert "units left" not in alice_client.get(reverse("history")).content.decode()


def test_no_banner_when_the_balance_is_fine(kling: Provider, staff_client) -> None:
    _stored(kling, [_pack("A", "a", 500, 400)], timezone.now())
    assert "units left" not in staff_client.get(reverse("history")).content.decode()


def test_the_usage_page_lists_each_providers_packs(
    sim: Simulator, kling: Provider, staff_client
) -> None:
    tasks.refresh_balances()
    page = staff_client.get(reverse("usage")).content.decode()
    section = page[page.index('id="balances"') :]
    assert "kling-main" in section
    assert "Video Generation - 1000 units" in section and "1000" in section
    assert "Trial - 66 units" in section and "runOut" in section
    assert "2035-12-30" in section  # the online pack's invalid_time: 2026-01-01 + 3650 days
    local_row = section[section.index(">local<") :]
    assert "not metered" in local_row[:400]


def test_the_usage_page_says_when_a_balance_is_not_available(kling: Provider, staff_client) -> None:
    ProviderBalance.claim_refresh(kling, timezone.now())
    ProviderBalance.store_failure(kling, "balance not available: no route (code 1202, HTTP 404)")
    page = staff_client.get(reverse("usage")).content.decode()
    assert "balance not available: no route" in page


def test_the_admin_shows_the_packs(sim: Simulator, kling: Provider, staff_client) -> None:
    tasks.refresh_balances()
    change = staff_client.get(reverse("admin:videos_provider_change", args=[kling.pk]))
    html = change.content.decode()
    assert "Video Generation - 1000 units" in html and "sim-pack-online" in html
    listing = staff_client.get(reverse("admin:videos_provider_changelist")).content.decode()
    assert "1000 units left" in listing
    assert "not metered" in listing  # the local provider


def test_the_admin_picks_the_counted_packs(sim: Simulator, kling: Provider) -> None:
    from videos.admin import ProviderBalanceForm

    tasks.refresh_balances()
    balance = ProviderBalance.objects.get(provider=kling)
    choices = dict(ProviderBalanceForm(instance=balance).fields["counted_packs"].choices)
    assert choices == {
        "sim-pack-online": "Video Generation - 1000 units (online)",
        "sim-pack-trial": "Trial - 66 units (runOut)",
        "sim-pack-expired": "Monthly - 300 units (expired)",
    }
    form = ProviderBalanceForm(
        {"counted_packs": ["sim-pack-expired"], "low_threshold": "500"}, instance=balance
    )
    assert form.is_valid(), form.errors
    form.save()
    balance.refresh_from_db()
    assert balance.counted_packs == ["sim-pack-expired"]
    assert balance.counted_remaining() == Decimal("120.0")
    assert balance.alerts() == ["120 units left after the last 12 h of spend (alert below 500)"]
    refused = ProviderBalanceForm({"counted_packs": ["made-up"]}, instance=balance)
    assert "counted_packs" in refused.errors


def test_an_admin_saves_the_alert_settings_on_the_providers_page(
    sim: Simulator, kling: Provider, staff_client
) -> None:
    tasks.refresh_balances()
    url = reverse("admin:videos_provider_change", args=[kling.pk])
    html = staff_client.get(url).content.decode()
    assert 'name="balance-0-counted_packs" value="sim-pack-trial"' in html
    response = staff_client.post(
        url,
        {
            "name": kling.name, "kind": "kling", "base_url": kling.base_url,
            "path_prefix": "", "enabled": "on", "priority": 10, "max_concurrent": 50,
            "model_map": "{}",
            "balance-TOTAL_FORMS": "1", "balance-INITIAL_FORMS": "1",
            "balance-MIN_NUM_FORMS": "0", "balance-MAX_NUM_FORMS": "1",
            "balance-0-provider": str(kling.pk),
            "balance-0-counted_packs": ["sim-pack-online", "sim-pack-trial"],
            "balance-0-low_threshold": "2000",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    balance = ProviderBalance.objects.get(provider=kling)
    assert balance.counted_packs == ["sim-pack-online", "sim-pack-trial"]
    assert balance.low_threshold == Decimal(2000)
    assert balance.packs[0]["remaining"] == "1000.0"  # the listed packs are not form input
    page = staff_client.get(reverse("history")).content.decode()
    assert "1000 units left after the last 12 h of spend (alert below 2000)" in page
