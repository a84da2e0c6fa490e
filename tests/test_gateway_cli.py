"""`manage.py provider add|test|list` and `kling_simulator --shape` for the gateway kinds of
kling-kinds.md §8: one key, a base URL, a model map; the test makes a real cheap call."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from simulator import Simulator
from videos.admin import ProviderForm
from videos.models import Provider, Status

API_KEY = "gw-key-never-shown-0123456789abcdef"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("provider", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["openai-video", "video-generations"])
def test_it_adds_and_tests_a_gateway_provider(db, kind: str) -> None:
    with Simulator(shape=kind, api_key=API_KEY) as sim:
        out = run(
            "add",
            "--kind",
            kind,
            "--name",
            "gw",
            "--base-url",
            sim.url,
            "--api-key",
            API_KEY,
            "--models",
            "MiniMax-Hailuo-02,doubao-seedance-2-0-fast-480p",
            "--model-map",
            "MiniMax-Hailuo-02=minimax/hailuo-02",
        )
        assert out.startswith(f"gw: added ({kind}, {sim.url};") and API_KEY not in out
        provider = Provider.objects.get(name="gw")
        assert provider.kind == kind and provider.path_prefix == ""
        assert provider.get_credentials() == {"api_key": API_KEY}
        assert provider.model_map == {"MiniMax-Hailuo-02": "minimax/hailuo-02"}
        assert provider.upstream_model_name("MiniMax-Hailuo-02") == "minimax/hailuo-02"
        assert "the key works" in run("test", "gw")
        assert sim.counts["models"] == 1
        listed = run("list")
        assert f"gw\t{kind}\t{sim.url}" in listed and API_KEY not in listed


def test_a_wrong_key_fails_the_test_and_marks_the_provider(db) -> None:
    with Simulator(shape="video-generations", api_key=API_KEY) as sim:
        run(
            "add",
            "--kind",
            "video-generations",
            "--name",
            "gw",
            "--base-url",
            sim.url,
            "--api-key",
            "wrong-key",
        )
        with pytest.raises(CommandError, match="gw: FAILED: invalid API key"):
            run("test", "gw")
    assert not Provider.objects.get(name="gw").healthy


def test_a_gateway_needs_an_api_key_not_a_pair(db) -> None:
    with pytest.raises(CommandError, match="api_key: Give the gateway's API key"):
        run("add", "--kind", "openai-video", "--name", "gw", "--base-url", "https://gw.example")
    with pytest.raises(CommandError, match="access_key: This gateway takes an API key"):
        run(
            "add",
            "--kind",
            "openai-video",
            "--name",
            "gw",
            "--base-url",
            "https://gw.example",
            "--access-key",
            "ak",
            "--secret-key",
            "sk",
        )
    with pytest.raises(CommandError, match="is not studio=upstream"):
        run(
            "add",
            "--kind",
            "openai-video",
            "--name",
            "gw",
            "--base-url",
            "https://gw.example",
            "--api-key",
            API_KEY,
            "--model-map",
            "no-equals-sign",
        )
    assert not Provider.objects.exists() or not Provider.objects.filter(name="gw").exists()


def test_the_admin_form_offers_the_gateway_kinds(db) -> None:
    form = ProviderForm(
        {
            "name": "gw",
            "kind": "video-generations",
            "base_url": "https://gw.example",
            "path_prefix": "",
            "enabled": True,
            "priority": 10,
            "max_concurrent": 5,
            "allowed_models": [],
            "model_map": '{"viduq1": "vidu/q1"}',
            "api_key": API_KEY,
        }
    )
    assert form.is_valid(), form.errors
    provider = form.save()
    assert provider.kind == "video-generations" and provider.model_map == {"viduq1": "vidu/q1"}
    kinds = [value for value, _label in ProviderForm().fields["kind"].choices]
    assert {"openai-video", "video-generations"} <= set(kinds)


@pytest.mark.parametrize("shape", ["openai-video", "video-generations", "seedance-kling"])
def test_the_simulator_command_names_the_provider_kind_for_each_shape(shape: str) -> None:
    from simulator.management.commands import kling_simulator

    sim = Simulator(shape=shape)
    try:
        from simulator.testing import provider_kind_for

        expected = {"seedance-kling": "kling-gateway"}.get(shape, shape)
        assert provider_kind_for(sim) == expected
        assert sim.gateway and sim.api_key == "sim-gateway-key"
        assert sim.prefix == ("/kling" if shape == "seedance-kling" else "")
    finally:
        sim.server.server_close()
    parser = kling_simulator.Command().create_parser("manage.py", "kling_simulator")
    assert parser.parse_args(["--shape", shape]).shape == shape


def test_a_gateway_provider_refuses_motion_masks_in_the_form(db) -> None:
    from tests.images import upload
    from videos.forms import GenerationForm

    gateway = Provider.objects.create(name="gw", kind="openai-video", base_url="https://g.example")
    data = {"kind": "image2video", "model_name": "kling-v1", "prompt": "x", "provider": gateway.pk}
    files = {"image": upload("f.png"), "static_mask": upload("m.png")}
    form = GenerationForm(data, files)
    assert not form.is_valid()
    assert form.errors["static_mask"] == ["gw (openai-video) cannot do motion masks."]


def test_a_dead_gateway_turns_unhealthy_and_a_probe_brings_it_back(db, user) -> None:
    from simulator.testing import disable_local_providers, provider_for, queued_generation
    from videos import tasks

    disable_local_providers()
    with Simulator(shape="openai-video") as sim:
        provider = provider_for(sim, name="gw")
        port = sim.port
    for _ in range(3):  # the simulator is gone: connection refused, nothing was sent
        generation = queued_generation(user)
        tasks.submit_generation(generation.pk)
        generation.refresh_from_db()
        assert (
            generation.status == Status.QUEUED and "connection refused" in generation.waiting_reason
        )
    provider.refresh_from_db()
    assert not provider.healthy and "connection refused" in provider.health_message
    Provider.objects.filter(pk=provider.pk).update(health_checked_at=None)  # re-probe due now
    with Simulator(shape="openai-video", port=port) as sim:
        tasks.probe_unhealthy_providers()
        provider.refresh_from_db()
        assert provider.healthy and sim.counts["models"] == 1
