"""Shared test plumbing: cassettes (vcrpy via pytest-recording) and token hygiene.

Cassettes live in the top-level ``cassettes/<test_module>/<test>.yaml``. The record mode comes
from the command line only: ``make test`` replays (``--record-mode=none``, network blocked);
``make cassettes`` re-records them from real local servers (``--record-mode=rewrite``).

A cassette test gets its Space URL from :func:`recording_url`: when recording, a real
:class:`~langchain_hf_spaces.testing.LocalSpace` is started; when replaying, no server runs and
a fixed loopback URL is used. Requests match on method, path, query and body (never host or
port), so replay does not depend on which port the recording server got.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests: a quick profile for `make test`, a deep one for `make fuzz`.
settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
REPLAY_URL = "http://127.0.0.1:9"
"""Where clients point when replaying: nothing listens there, and the network is blocked."""
RECORDED_HOST = "http://localspace.test"

PLANTED_TOKEN = "hf_PLANTEDtokenDoNotLeak0123456789"
"""A recognisable token used by tests that check it never leaks."""


AMBIENT_LOGIN_ENV = (
    "HF_TOKEN_PATH",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN",
    "HF_OIDC_RESOURCE",
    "HF_ENDPOINT",
)


@pytest.fixture(scope="session")
def _empty_hf_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hf_home_empty")


@pytest.fixture(autouse=True)
def _no_saved_login(monkeypatch: pytest.MonkeyPatch, _empty_hf_home: Path) -> None:
    """No test sees this machine's Hugging Face login: ``HF_HOME`` is an empty directory (no
    saved token), and the other ambient-login variables and ``HF_ENDPOINT`` are unset.
    ``HF_TOKEN`` is left to each test (the ones that care clear or set it)."""
    monkeypatch.setenv("HF_HOME", str(_empty_hf_home))
    # Nor this machine's ~/.config/hf-spaces/hf-spaces.toml (SpacesSettings.load() reads it).
    monkeypatch.setenv("XDG_CONFIG_HOME", str(_empty_hf_home / "xdg_config"))
    for name in AMBIENT_LOGIN_ENV:
        monkeypatch.delenv(name, raising=False)


def _scrub_request(request: Any) -> Any:
    # Record a stable host so cassettes do not churn with the server's random port.
    uri: str = request.uri
    if uri.startswith(("http://127.0.0.1:", "http://localhost:")):
        rest = uri.split("//", 1)[1]
        path = rest[rest.find("/") :] if "/" in rest else "/"
        request.uri = RECORDED_HOST + path
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("date", "server", "set-cookie"):
            del headers[name]
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": [
            "authorization",
            "x-hf-authorization",
            "x-ip-token",
            "cookie",
            "set-cookie",
            "host",
        ],
        "filter_query_parameters": ["token", "access_token", "api_key"],
        "decode_compressed_response": True,
        "match_on": ["method", "path", "query", "body"],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
        "serializer": "yaml",
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    module = request.module.__name__.rsplit(".", 1)[-1]
    return str(CASSETTES / module)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_serializer("yaml", _ReadableYAML())


class _ReadableYAML:
    """vcrpy's YAML serializer, with JSON bodies stored as readable text."""

    def serialize(self, cassette_dict: dict[str, Any]) -> str:
        from vcr.serializers import yamlserializer

        for interaction in cassette_dict.get("interactions", []):
            for part in (interaction["request"], interaction["response"]):
                body = part.get("body")
                holder = body if isinstance(body, dict) else part
                key = "string" if isinstance(body, dict) else "body"
                raw = holder.get(key)
                if isinstance(raw, bytes):
                    with contextlib.suppress(UnicodeDecodeError):
                        holder[key] = raw.decode("utf-8")
        return str(yamlserializer.serialize(cassette_dict))

    def deserialize(self, cassette_string: str) -> dict[str, Any]:
        from vcr.serializers import yamlserializer

        data: dict[str, Any] = yamlserializer.deserialize(cassette_string)
        return data


def is_recording(request: pytest.FixtureRequest) -> bool:
    mode = request.config.getoption("--record-mode", default="none")
    return mode not in (None, "none")


@pytest.fixture
def recording_url(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``with recording_url(**LocalSpace kwargs) as (url, space): ...`` (space None on replay)."""

    @contextmanager
    def factory(**kwargs: Any) -> Iterator[tuple[str, Any]]:
        if not is_recording(request):
            yield REPLAY_URL, None
            return
        from langchain_hf_spaces.testing import LocalSpace

        with LocalSpace(**kwargs) as space:
            yield space.url, space

    return factory


def json_body(text: str | bytes) -> Any:
    return json.loads(text)


@pytest.fixture
def gradio_sessions(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Gradio session hashes that replay: the test's own prefix (a live app keeps state per
    session, so two tests must not share one) and the call's number."""
    import hashlib
    import itertools

    prefix = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8]
    counter = itertools.count(1)
    monkeypatch.setattr(
        "langchain_hf_spaces.protocols.gradio.new_session", lambda: f"{prefix}{next(counter):03d}"
    )


@pytest.fixture(autouse=True)
def _fresh_concurrency_limits() -> Iterator[None]:
    """Each test starts with no learnt Space limit: the process keeps one per Space origin
    (``_limiter.limiter_for``), and loopback ports are reused between tests."""
    from langchain_hf_spaces._limiter import forget_limiters

    forget_limiters()
    yield
    forget_limiters()
