"""The settings page's guard, over plain HTTP (httpx): session token, CSRF, no CORS, Host check
(DNS rebinding), loopback only; and ``hf-spaces ui`` itself, run as a command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from langchain_hf_spaces.cli import EXIT_OK, EXIT_USAGE, main
from langchain_hf_spaces.cli._ui._app import SESSION_HEADER
from langchain_hf_spaces.cli._ui._serve import check_bind_host
from tests.conftest import PLANTED_TOKEN
from tests.ui.conftest import Served

ROOT = Path(__file__).resolve().parents[2]
FORM = {"enabled": True, "default_tier": "base", "tiers": []}


def _post(served: Served, path: str, **kwargs: object) -> httpx.Response:
    headers = {**served.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return httpx.post(served.base + path, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_the_page_needs_the_session_token(settings_page: Served) -> None:
    assert httpx.get(settings_page.base + "/").status_code == 403
    assert httpx.get(settings_page.base + "/?token=wrong").status_code == 403
    ok = httpx.get(settings_page.url)
    assert ok.status_code == 200 and "Hugging Face Spaces Settings" in ok.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/settings"),
        ("POST", "/api/validate"),
        ("POST", "/api/save"),
        ("POST", "/api/test"),
        ("GET", "/api/test/anything"),
        ("GET", "/api/stats"),
    ],
)
def test_every_api_request_needs_the_session_token(
    settings_page: Served, method: str, path: str
) -> None:
    for headers in ({}, {SESSION_HEADER: "wrong"}, {SESSION_HEADER: ""}):
        r = httpx.request(method, settings_page.base + path, headers=headers, json=FORM)
        assert r.status_code == 403, (headers, r.text)
    assert not settings_page.path.exists()
    # ... and the token in the URL is not enough for the API
    r = httpx.get(settings_page.base + path + f"?token={settings_page.app.session}")
    assert r.status_code in (403, 405)


def test_a_cross_origin_post_is_refused_even_with_the_session_token(settings_page: Served) -> None:
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": f"http://localhost:{settings_page.server.port + 1}"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        r = _post(settings_page, "/api/save", json=FORM, headers=headers)
        assert r.status_code == 403, headers
    # a "simple" request a form on another site could send: not JSON
    r = _post(
        settings_page,
        "/api/save",
        content=b"enabled=false",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415
    assert not settings_page.path.exists()
    same = _post(
        settings_page,
        "/api/validate",
        json=FORM,
        headers={"Origin": settings_page.base, "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 200


def test_no_cors_a_preflight_is_refused_and_no_access_control_header_is_sent(
    settings_page: Served,
) -> None:
    r = httpx.options(
        settings_page.base + "/api/save",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": SESSION_HEADER,
        },
    )
    assert r.status_code == 405
    for response in (
        r,
        httpx.get(settings_page.base + "/api/settings", headers=settings_page.headers),
    ):
        assert not [k for k in response.headers if k.lower().startswith("access-control-")]


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1", "127.0.0.1:1", "localhost.evil:{port}"],
)
def test_a_foreign_host_header_is_refused_against_dns_rebinding(
    settings_page: Served, host: str
) -> None:
    headers = {**settings_page.headers, "Host": host.format(port=settings_page.server.port)}
    r = httpx.get(settings_page.base + "/api/settings", headers=headers)
    assert r.status_code == 400
    r = httpx.get(settings_page.url, headers={"Host": headers["Host"]})
    assert r.status_code == 400


def test_every_answer_has_the_security_headers(settings_page: Served) -> None:
    for r in (
        httpx.get(settings_page.url),
        httpx.get(settings_page.base + "/"),
        httpx.get(settings_page.base + "/static/app.js"),
        httpx.get(settings_page.base + "/api/settings", headers=settings_page.headers),
    ):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert "set-cookie" not in r.headers  # nothing a browser would send on its own


def test_static_files_are_only_the_pages_own(settings_page: Served) -> None:
    assert httpx.get(settings_page.base + "/static/app.js").status_code == 200
    assert httpx.get(settings_page.base + "/static/../_app.py").status_code == 404
    assert httpx.get(settings_page.base + "/static/page.html").status_code == 404


def test_the_token_is_not_in_answers_to_the_api(settings_page: Served) -> None:
    settings_page.path.write_text(
        f'version = 1\n[tiers.base]\nurl = "http://127.0.0.1:9"\ntoken = "{PLANTED_TOKEN}"\n'
    )
    settings_page.path.chmod(0o600)
    answers = [
        httpx.get(settings_page.base + "/api/settings", headers=settings_page.headers),
        _post(
            settings_page,
            "/api/validate",
            json={"tiers": [{"name": "base", "values": {"url": "x"}}]},
        ),
        _post(
            settings_page,
            "/api/save",
            json={
                "default_tier": "base",
                "tiers": [{"name": "base", "values": {"url": "http://127.0.0.1:9"}}],
            },
        ),
    ]
    for r in answers:
        assert r.status_code == 200
        assert PLANTED_TOKEN not in r.text
    assert answers[0].json()["tiers"][0]["token_status"] == "set (from config)"
    assert PLANTED_TOKEN in settings_page.path.read_text()  # kept, not shown


def test_a_non_loopback_address_is_refused_unless_unsafe_host(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    everywhere = "0.0.0.0"  # noqa: S104
    code = main(["ui", "--host", everywhere, "--no-browser", "--config", str(tmp_path / "x.toml")])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "not a loopback address" in err and "--unsafe-host" in err
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.com"):  # noqa: S104
        with pytest.raises(Exception, match="not a loopback address"):
            check_bind_host(host, unsafe_host=False)
        check_bind_host(host, unsafe_host=True)  # accepted when asked for
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind_host(host, unsafe_host=False)


def test_hf_spaces_ui_prints_an_address_with_the_session_token_and_serves_it(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_SPACES_")}
    env["PYTHONPATH"] = str(ROOT)
    config = tmp_path / "hf-spaces.toml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "langchain_hf_spaces.cli",
            "ui",
            "--port",
            "0",
            "--no-browser",
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert str(config) in first
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url
        base, token = url.split("/?token=")
        assert len(token) >= 32
        assert httpx.get(url, timeout=10).status_code == 200
        assert httpx.get(base + "/", timeout=10).status_code == 403
        assert httpx.get(base + "/api/settings", timeout=10).status_code == 403
        r = httpx.get(base + "/api/settings", headers={SESSION_HEADER: token}, timeout=10)
        assert r.json()["path"] == str(config.resolve())
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == EXIT_OK, err
    assert "Stopped." in out
