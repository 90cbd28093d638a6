"""The settings page in a real browser (headless Chromium): edit, save, Test Connection."""

from __future__ import annotations

import stat
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from langchain_hf_spaces import SpaceConfig, SpacesSettings
from langchain_hf_spaces.cli._toml import dumps_toml
from langchain_hf_spaces.testing import LocalSpace
from tests.conftest import PLANTED_TOKEN
from tests.ui.conftest import Served, Traffic, open_page


@pytest.fixture
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base") as running:
        yield running


@pytest.fixture
def private_space() -> Iterator[LocalSpace]:
    with LocalSpace(name="company", token=PLANTED_TOKEN) as running:
        yield running


def _mode(served: Served) -> int:
    return stat.S_IMODE(served.path.stat().st_mode)


def test_four_tiers_entered_and_saved_load_back_equal(
    page: Page, settings_page: Served, space: LocalSpace
) -> None:
    open_page(page, settings_page)
    expect(page.get_by_label("Enable Hugging Face Spaces")).to_be_checked()
    page.fill("#base-url", space.url)
    page.fill("#base-revision", "v1.2")
    page.locator("#tier-base summary").click()
    page.fill("#base-wake-timeout", "120")
    page.fill("#base-max-retries", "4")
    page.fill("#company-url", "acme/company-llm")  # a Space id
    page.fill("#company-token-env", "ACME_TOKEN")
    page.fill("#abstraction-url", "https://huggingface.co/spaces/Acme/Abstract_Model")
    page.fill("#abstraction-endpoint", "/v1/generate")
    page.fill("#user-url", "https://acme-user-llm.hf.space/")
    page.select_option("#user-protocol", "auto")
    # the normalised host, shown as the Python API computes it
    expect(page.locator("#company-normalised")).to_have_text(
        "Normalised: https://acme-company-llm.hf.space"
    )
    expect(page.locator("#abstraction-normalised")).to_have_text(
        "Normalised: https://acme-abstract-model.hf.space"
    )
    page.select_option("#default-tier", "company")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.saved")).to_contain_text("Saved")

    loaded = SpacesSettings.load(settings_page.path)
    assert loaded == SpacesSettings(
        enabled=True,
        default_tier="company",
        tiers={
            "base": SpaceConfig(url=space.url, revision="v1.2", wake_timeout=120, max_retries=4),
            "company": SpaceConfig(url="acme/company-llm", token_env="ACME_TOKEN"),
            "abstraction": SpaceConfig(
                url="https://huggingface.co/spaces/Acme/Abstract_Model", endpoint="/v1/generate"
            ),
            "user": SpaceConfig(url="https://acme-user-llm.hf.space", protocol="auto"),
        },
    )
    assert _mode(settings_page) & 0o077 == 0o044  # no token in it: an ordinary file
    # the page reloaded from the file shows what was saved
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#company-url")).to_have_value("https://acme-company-llm.hf.space")
    page.locator("#tier-company summary").click()
    expect(page.locator("#company-space-id")).to_have_value("acme/company-llm")
    expect(page.locator("#default-tier")).to_have_value("company")


def test_field_errors_are_shown_next_to_their_fields_in_the_apis_words(
    page: Page, settings_page: Served
) -> None:
    open_page(page, settings_page)
    page.fill("#base-url", "ftp://example.com")
    page.locator("#tier-base summary").click()
    page.fill("#base-connect-timeout", "-1")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#save-status")).to_contain_text("Not saved")
    with pytest.raises(ValueError) as url_error:
        SpaceConfig(url="ftp://example.com")
    with pytest.raises(ValueError) as timeout_error:
        SpaceConfig(url="http://127.0.0.1", connect_timeout="-1")
    expect(page.locator("#base-url-error")).to_have_text(url_error.value.message)  # type: ignore[attr-defined]
    expect(page.locator("#base-connect-timeout-error")).to_have_text(
        timeout_error.value.message  # type: ignore[attr-defined]
    )
    expect(page.locator("#base-url")).to_have_attribute("aria-invalid", "true")
    assert not settings_page.path.exists()  # nothing written


def test_test_connection_succeeds_and_a_wrong_token_shows_the_auth_failure_and_hint(
    page: Page, settings_page: Served, private_space: LocalSpace
) -> None:
    open_page(page, settings_page)
    page.fill("#company-url", private_space.url)
    page.fill("#company-token", "hf_wrongWRONGwrong123")
    page.locator("#tier-company").get_by_role("button", name="Test Connection").click()
    result = page.locator("#company-result")
    expect(result).to_contain_text("Connection failed: SpaceAuthError", timeout=20_000)
    expect(result).to_contain_text("Hint: The token from config was refused")
    page.fill("#company-token", PLANTED_TOKEN)
    page.locator("#tier-company").get_by_role("button", name="Test Connection").click()
    expect(result).to_contain_text("Connection OK: generate protocol", timeout=20_000)
    expect(result.locator("table")).to_contain_text("auth")


def test_a_sleeping_space_shows_waking_progress_then_success(
    page: Page, settings_page: Served, space: LocalSpace
) -> None:
    # A file with a field the page does not show: kept when the page saves.
    settings_page.path.write_text(
        dumps_toml(
            {
                "version": 1,
                "default_tier": "base",
                "tiers": {"base": {"url": space.url, "max_response_bytes": 123456}},
            }
        )
    )
    open_page(page, settings_page)
    page.locator("#tier-base summary").click()
    page.fill("#base-wake-poll-interval", "0.3")
    page.fill("#base-wake-timeout", "60")
    space.sleep_for(2.5)
    page.locator("#tier-base").get_by_role("button", name="Test Connection").click()
    result = page.locator("#base-result")
    expect(result).to_contain_text("Waking up the Space", timeout=20_000)
    expect(result).to_contain_text("of 60s (wake_timeout)")
    expect(result.locator("progress")).to_have_count(1)
    expect(result).to_contain_text("Connection OK", timeout=30_000)
    assert len([r for r in space.requests if r.path == "/api/generate"]) >= 2  # asleep, then awake
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.saved")).to_be_visible()
    loaded = SpacesSettings.load(settings_page.path)
    assert loaded.tiers["base"].max_response_bytes == 123456
    assert loaded.tiers["base"].wake_poll_interval == 0.3


def test_a_stored_token_is_never_sent_to_the_browser(
    page: Page, settings_page: Served, traffic: Traffic, private_space: LocalSpace
) -> None:
    settings_page.path.write_text(
        dumps_toml(
            {
                "version": 1,
                "default_tier": "company",
                "tiers": {"company": {"url": private_space.url, "token": PLANTED_TOKEN}},
            }
        )
    )
    settings_page.path.chmod(0o600)
    open_page(page, settings_page)
    expect(page.locator("#company-token-status")).to_have_text("Token: set (from config)")
    expect(page.locator("#company-token")).to_have_value("")
    # test with the stored token (kept server-side), edit, save: the token stays in the file
    page.locator("#tier-company").get_by_role("button", name="Test Connection").click()
    expect(page.locator("#company-result")).to_contain_text("Connection OK", timeout=20_000)
    page.fill("#company-revision", "r2")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.saved")).to_contain_text("mode is 0600")
    assert SpacesSettings.load(settings_page.path).tiers["company"].token is not None
    assert _mode(settings_page) == 0o600
    expect(page.locator("#company-token-status")).to_have_text("Token: set (from config)")

    assert PLANTED_TOKEN not in page.content()
    bodies = traffic.bodies()
    assert any("/api/settings" in url for url, _ in bodies)
    assert any("/api/test/" in url for url, _ in bodies)
    for url, body in bodies:
        assert PLANTED_TOKEN.encode() not in body, url
    # the DOM keeps no copy either: every input's value
    values = page.eval_on_selector_all("input", "els => els.map(e => e.value)")
    assert PLANTED_TOKEN not in values

    # clearing it: the file no longer holds a token, and is an ordinary file again
    page.check("#company-token-clear")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#company-token-status")).to_have_text("Token: not set")
    assert SpacesSettings.load(settings_page.path).tiers["company"].token is None
    assert PLANTED_TOKEN not in settings_page.path.read_text()


def test_a_new_token_is_saved_with_mode_0600(
    page: Page, settings_page: Served, private_space: LocalSpace, traffic: Traffic
) -> None:
    open_page(page, settings_page)
    page.fill("#base-url", private_space.url)
    page.fill("#base-token", PLANTED_TOKEN)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.saved")).to_contain_text("mode is 0600")
    assert _mode(settings_page) == 0o600
    loaded = SpacesSettings.load(settings_page.path)
    assert loaded.tiers["base"].token is not None
    assert loaded.tiers["base"].token.get_secret_value() == PLANTED_TOKEN
    expect(page.locator("#base-token")).to_have_value("")  # the page forgets it once saved
    for url, body in traffic.bodies():
        assert PLANTED_TOKEN.encode() not in body, url


def test_custom_tiers_are_added_and_removed(
    page: Page, settings_page: Served, space: LocalSpace
) -> None:
    open_page(page, settings_page)
    page.fill("#new-tier", "Bad Name")
    page.get_by_role("button", name="Add tier").click()
    expect(page.locator("#new-tier-error")).to_contain_text("is invalid")
    page.fill("#new-tier", "research")
    page.get_by_role("button", name="Add tier").click()
    page.fill("#research-url", space.url)
    page.fill("#new-tier", "scratch")
    page.get_by_role("button", name="Add tier").click()
    page.fill("#scratch-url", space.url)
    page.get_by_role("button", name="Remove tier scratch").click()
    page.select_option("#default-tier", "research")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.saved")).to_be_visible()
    loaded = SpacesSettings.load(settings_page.path)
    assert list(loaded.tiers) == ["research"]
    assert loaded.default_tier == "research"
    expect(page.locator("#tier-research legend")).to_have_text("research (custom tier)")


def test_test_all_tests_every_configured_tier(
    page: Page, settings_page: Served, space: LocalSpace, private_space: LocalSpace
) -> None:
    open_page(page, settings_page)
    page.fill("#base-url", space.url)
    page.fill("#company-url", private_space.url)  # no token: refused
    page.get_by_role("button", name="Test all").click()
    expect(page.locator("#base-result")).to_contain_text("Connection OK", timeout=20_000)
    expect(page.locator("#company-result")).to_contain_text("SpaceAuthError", timeout=20_000)
    expect(page.locator("#company-result")).to_contain_text("No token was sent")
    expect(page.locator("#user-result")).to_be_empty()  # not configured: not tested


def test_the_disabled_switch_is_saved(page: Page, settings_page: Served, space: LocalSpace) -> None:
    open_page(page, settings_page)
    page.fill("#base-url", space.url)
    page.get_by_label("Enable Hugging Face Spaces").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.saved")).to_be_visible()
    assert SpacesSettings.load(settings_page.path).enabled is False


def test_the_token_status_says_where_the_token_comes_from_as_the_form_stands(
    page: Page, settings_page: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", PLANTED_TOKEN)
    monkeypatch.setenv("ACME_TOKEN", "hf_acme_token_value")
    open_page(page, settings_page)
    status = page.locator("#base-token-status")
    page.fill("#base-url", "acme/base-llm")
    expect(status).to_have_text("Token: set (from env HF_TOKEN)")
    page.fill("#base-url", "https://llm.acme.example")  # the ambient login stays home
    expect(status).to_contain_text("not sent to this host")
    page.fill("#base-token-env", "ACME_TOKEN")
    expect(status).to_have_text("Token: set (from env ACME_TOKEN)")
    page.fill("#base-token", "hf_typed_here")
    expect(status).to_have_text("Token: set (from config)")
    assert PLANTED_TOKEN not in page.content()
