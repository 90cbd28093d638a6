"""Regenerate the settings page's screenshots in docs/images/ (idle, testing, error).

    .venv/bin/python tests/ui/screenshots.py

Drives the real page in headless Chromium (/usr/bin/chromium) against LocalSpaces on loopback,
as the tests do; nothing leaves the machine.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from langchain_hf_spaces.testing import LocalSpace  # noqa: E402
from tests.ui.conftest import CHROMIUM, serve  # noqa: E402

OUT = ROOT / "docs" / "images"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalSpace(name="base") as base,
        LocalSpace(name="company", token="hf_the_right_one") as company,
        sync_playwright() as playwright,
    ):
        served = serve(Path(tmp) / "hf-spaces.toml")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.goto(served.url)
            page.wait_for_selector("body[data-ready=true]")
            page.fill("#base-url", base.url)
            page.fill("#base-revision", "v1.2")
            page.fill("#company-url", "acme/company-llm")
            page.wait_for_selector("#company-normalised:has-text('Normalised')")
            page.screenshot(path=str(OUT / "settings-page-idle.png"))

            base.sleep_for(30)
            page.locator("#tier-base").get_by_role("button", name="Test Connection").click()
            page.wait_for_selector("#base-result:has-text('Waking up')")
            page.wait_for_timeout(2200)
            page.locator("#tier-base").scroll_into_view_if_needed()
            page.locator("#tier-base").screenshot(path=str(OUT / "settings-page-testing.png"))
            base.wake()

            page.fill("#company-url", company.url)
            page.fill("#company-token", "hf_a_wrong_token")
            page.locator("#tier-company summary").click()
            page.fill("#company-connect-timeout", "-1")
            page.get_by_role("button", name="Save").click()
            page.wait_for_selector("#company-connect-timeout-error:has-text('greater than 0')")
            page.fill("#company-connect-timeout", "")
            page.locator("#tier-company").get_by_role("button", name="Test Connection").click()
            page.wait_for_selector("#company-result:has-text('Connection failed')")
            page.fill("#company-connect-timeout", "-1")
            page.wait_for_selector("#company-connect-timeout-error:has-text('greater than 0')")
            page.locator("#tier-company").screenshot(path=str(OUT / "settings-page-error.png"))
        finally:
            browser.close()
            served.server.stop()
    for name in ("idle", "testing", "error"):
        print(OUT / f"settings-page-{name}.png")


if __name__ == "__main__":
    main()
