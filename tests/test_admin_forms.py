"""The admin's provider and key forms: models ticked from the catalogue, typed secrets kept."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.models import ApiKey
from tests.api_helpers import issue
from videos.models import Provider, VideoModel

pytestmark = pytest.mark.django_db
PROVIDER_ADD = "/admin/videos/provider/add/"


def provider_post(**fields: Any) -> dict[str, Any]:
    return {
        "name": "sg",
        "kind": "local",
        "base_url": "",
        "path_prefix": "",
        "enabled": "on",
        "priority": 10,
        "max_concurrent": 2,
        "model_map": "{}",
        **fields,
    }


def checked_models(html: str) -> list[str]:
    """The values of the ticked allowed_models checkboxes."""
    box = r'<input type="checkbox" name="allowed_models" value="([^"]+)"[^>]*checked'
    return re.findall(box, html)


def test_the_provider_form_offers_the_catalogue_as_checkboxes(staff_client: Client) -> None:
    VideoModel.objects.filter(name="kling-v1").update(enabled=False)
    html = staff_client.get(PROVIDER_ADD).content.decode()
    offered = re.findall(r'<input type="checkbox" name="allowed_models" value="([^"]+)"', html)
    assert offered == list(VideoModel.objects.values_list("name", flat=True))  # disabled too
    assert '<textarea name="allowed_models"' not in html  # no raw JSON to type
    assert "kling-v1 (disabled)" in html


def test_the_provider_form_stores_the_ticked_models_as_a_json_list(staff_client: Client) -> None:
    names = list(VideoModel.objects.values_list("name", flat=True)[:2])
    response = staff_client.post(PROVIDER_ADD, provider_post(allowed_models=names))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Provider.objects.get(name="sg").allowed_models == names
    staff_client.post(
        f"/admin/videos/provider/{Provider.objects.get(name='sg').pk}/change/", provider_post()
    )
    assert Provider.objects.get(name="sg").allowed_models == []  # none ticked: every model


def test_an_unknown_model_name_is_refused(staff_client: Client) -> None:
    html = staff_client.post(
        PROVIDER_ADD, provider_post(allowed_models=["no-such-model"])
    ).content.decode()
    assert "Select a valid choice. no-such-model is not one of the available choices." in html
    assert not Provider.objects.filter(name="sg").exists()


def test_a_provider_form_error_keeps_what_the_admin_typed_in_the_secret_fields(
    staff_client: Client,
) -> None:
    typed = {"access_key": "ak-typed-1", "secret_key": "sk-typed-2", "webhook_secret": "whsec_t3"}
    html = staff_client.post(
        PROVIDER_ADD, provider_post(kind="kling", base_url="", allowed_models=["kling-v1"], **typed)
    ).content.decode()
    assert "A Kling or gateway provider needs a base URL." in html
    for name, value in typed.items():
        assert re.search(rf'<input type="(text|password)" name="{name}" value="{value}"', html)
    assert checked_models(html) == ["kling-v1"]
    assert not Provider.objects.filter(name="sg").exists()


def test_stored_secrets_never_come_back_in_the_change_form(staff_client: Client) -> None:
    secrets = {"access_key": "ak-stored-1", "secret_key": "sk-stored-2", "webhook_secret": "whs_s"}
    staff_client.post(
        PROVIDER_ADD, provider_post(kind="kling", base_url="https://api.example.org", **secrets)
    )
    provider = Provider.objects.get(name="sg")
    assert provider.get_credentials()["secret_key"] == "sk-stored-2"
    html = staff_client.get(f"/admin/videos/provider/{provider.pk}/change/").content.decode()
    for value in secrets.values():
        assert value not in html


def test_the_key_form_offers_the_catalogue_and_stores_a_json_list(
    staff_client: Client, user: User
) -> None:
    response = staff_client.post(
        "/admin/api/apikey/add/",
        {
            "owner": user.pk,
            "name": "two models",
            "allowed_models": ["kling-v1", "kling-v2-6"],
            "max_concurrent": 3,
            "requests_per_minute": 60,
        },
    )
    assert response.status_code == 200 and "shown only this once" in response.content.decode()
    key = ApiKey.objects.get(name="two models")
    assert key.allowed_models == ["kling-v1", "kling-v2-6"]
    html = staff_client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert checked_models(html) == ["kling-v1", "kling-v2-6"]


def test_a_stored_name_no_longer_in_the_catalogue_stays_until_unticked(
    staff_client: Client, user: User
) -> None:
    # Dropping it silently would empty the list, and an empty list means every model.
    key, _ = issue(user, "old", allowed_models=["kling-retired"])
    url = f"/admin/api/apikey/{key.pk}/change/"
    html = staff_client.get(url).content.decode()
    assert checked_models(html) == ["kling-retired"]
    assert "kling-retired (not in the catalogue)" in html
    form = {"owner": user.pk, "name": "old", "max_concurrent": 3, "requests_per_minute": 60}
    staff_client.post(url, {**form, "allowed_models": ["kling-retired"]})
    assert ApiKey.objects.get(pk=key.pk).allowed_models == ["kling-retired"]
