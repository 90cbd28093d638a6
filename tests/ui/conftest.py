"""The settings page's tests: one headless Chromium per session (Playwright driving the system's
``/usr/bin/chromium``; ``make`` installs it when missing), and one page server per test on a
temporary settings file.

There is no skip here: without Playwright or Chromium these tests fail, as they should.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Response, sync_playwright

from langchain_hf_spaces.cli._ui._app import SESSION_HEADER, SettingsPage
from langchain_hf_spaces.testing._loopback import LoopbackServer

CHROMIUM = os.environ.get("UI_TEST_CHROMIUM", "/usr/bin/chromium")
"""The system Chromium (Debian's ``chromium``; ``make`` installs it when missing)."""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token or HF_SPACES_* setting of the machine leaks into the page's tests."""
    for name in list(os.environ):
        if name.startswith("HF_SPACES_") or name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
            monkeypatch.delenv(name, raising=False)


@dataclass
class Served:
    """A running settings page: its app, address, session token and settings file."""

    app: SettingsPage
    server: LoopbackServer
    path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/?token={self.app.session}"

    @property
    def headers(self) -> dict[str, str]:
        return {SESSION_HEADER: self.app.session}


def serve(path: Path) -> Served:
    app = SettingsPage(path)
    server = LoopbackServer(app, label="settings page", thread_name="hf-spaces-ui")
    server.start()
    app.port = server.port
    return Served(app, server, path)


@pytest.fixture
def settings_page(tmp_path: Path) -> Iterator[Served]:
    served = serve(tmp_path / "hf-spaces.toml")
    try:
        yield served
    finally:
        served.server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Traffic:
    """Every response the page got, to look into their bodies afterwards."""

    responses: list[Response] = field(default_factory=list)

    def bodies(self) -> list[tuple[str, bytes]]:
        out = []
        for response in self.responses:
            try:
                out.append((response.url, response.body()))
            except Exception:  # a redirect or an aborted request has no body
                out.append((response.url, b""))
        return out


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def page(browser: Browser, traffic: Traffic) -> Iterator[Page]:
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.on("response", lambda response: traffic.responses.append(response))
    errors: list[Any] = []
    tab.on("pageerror", lambda error: errors.append(error))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_page(page: Page, served: Served) -> None:
    page.goto(served.url)
    page.wait_for_selector("body[data-ready=true]")
