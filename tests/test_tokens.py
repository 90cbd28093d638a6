"""Token discovery in huggingface_hub's order, and where an ambient token may go.

A tier's own token (``token``, a callable, ``token_env``) goes to its Space whatever the host;
the ambient login (``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, the token ``hf auth login`` saved
in ``$HF_HOME/token`` or ``$HF_TOKEN_PATH``) only to Hugging Face hosts and this machine, and
not at all under ``HF_HUB_DISABLE_IMPLICIT_TOKEN``. The conftest gives every test an empty
``HF_HOME``; these tests write their own saved login into a temporary one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_hf_spaces import SpaceClient, SpaceConfig, SpacesSettings, _loading
from langchain_hf_spaces.config import NOT_SENT, hub_endpoint, is_hugging_face_url

ROOT = Path(__file__).resolve().parent.parent
SAVED = "hf_SAVEDloginToken0123456789abcdef"
ENV = "hf_ENVtoken0123456789abcdefghijkl"
LEGACY = "hf_LEGACYtoken0123456789abcdefghi"
EXPLICIT = "hf_EXPLICITtoken0123456789abcdefg"
HF_URL = "https://acme-x.hf.space"
OTHER_URL = "https://example.com"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "ACME_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_loading, "_saved_cache", None)
    monkeypatch.setattr(_loading, "_fast_cache", None)
    monkeypatch.setattr(_loading, "_RESTAT_AFTER", 0.0)  # the window is tested on its own


@pytest.fixture
def saved_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary ``HF_HOME`` holding a saved token, as ``hf auth login`` leaves it."""
    home = tmp_path / "hf_home"
    home.mkdir()
    (home / "token").write_text(SAVED + "\n", encoding="utf-8")
    monkeypatch.setenv("HF_HOME", str(home))
    return home / "token"


# ------------------------------------------------------------------------------ discovery
def test_the_saved_login_is_used(saved_login: Path) -> None:
    cfg = SpaceConfig(url=HF_URL)
    assert cfg.resolve_token() == SAVED
    assert cfg.token_origin() == "saved login (hf auth login)"


def test_hf_token_path_names_the_saved_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "elsewhere" / "my-token"
    path.parent.mkdir()
    path.write_text(f"  {SAVED}\r\n", encoding="utf-8")
    monkeypatch.setenv("HF_TOKEN_PATH", str(path))
    assert SpaceConfig(url=HF_URL).resolve_token() == SAVED


def test_the_environment_comes_before_the_saved_login(
    saved_login: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = SpaceConfig(url=HF_URL)
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", LEGACY)
    assert (cfg.resolve_token(), cfg.token_origin()) == (LEGACY, "env HUGGING_FACE_HUB_TOKEN")
    monkeypatch.setenv("HF_TOKEN", ENV)
    assert (cfg.resolve_token(), cfg.token_origin()) == (ENV, "env HF_TOKEN")
    monkeypatch.setenv("HF_TOKEN", "  ")  # blank is unset, as huggingface_hub reads it
    assert cfg.resolve_token() == LEGACY


def test_hugging_face_hub_token_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", LEGACY)
    assert SpaceConfig(url=HF_URL).resolve_token() == LEGACY


def test_the_tiers_own_token_comes_first(
    saved_login: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV)
    monkeypatch.setenv("ACME_TOKEN", EXPLICIT)
    assert SpaceConfig(url=HF_URL, token="hf_fixed").resolve_token() == "hf_fixed"
    assert SpaceConfig(url=HF_URL, token=lambda: "hf_rot").resolve_token() == "hf_rot"
    assert SpaceConfig(url=HF_URL, token_env="ACME_TOKEN").resolve_token() == EXPLICIT
    monkeypatch.delenv("ACME_TOKEN")  # token_env unset: the ambient login after it
    assert SpaceConfig(url=HF_URL, token_env="ACME_TOKEN").resolve_token() == ENV
    # A callable's answer is final, even none.
    assert SpaceConfig(url=HF_URL, token=lambda: None).resolve_token() is None


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_disable_implicit_token_sends_no_ambient_token(
    saved_login: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", value)
    cfg = SpaceConfig(url=HF_URL)
    assert cfg.resolve_token() is None
    assert cfg.token_origin() == "none"
    assert SpaceConfig(url=HF_URL, token=EXPLICIT).resolve_token() == EXPLICIT
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "0")
    assert cfg.resolve_token() == ENV


def test_a_new_login_is_seen_by_a_running_client(saved_login: Path) -> None:
    source = SpaceConfig(url=HF_URL).token_source()
    assert source() == SAVED
    saved_login.write_text("hf_AFTERrelogin0123456789abcdefghijkl", encoding="utf-8")
    assert source() == "hf_AFTERrelogin0123456789abcdefghijkl"
    saved_login.unlink()  # hf auth logout
    assert source() is None


def test_the_saved_login_comes_from_get_token_and_is_cached(
    saved_login: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where huggingface_hub itself looks (it reads HF_HOME once, at import), its get_token()
    # is asked, not on every request.
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(saved_login))
    calls: list[None] = []
    real = huggingface_hub.get_token

    def counting() -> str | None:
        calls.append(None)
        return real()

    monkeypatch.setattr(huggingface_hub, "get_token", counting)
    source = SpaceConfig(url=HF_URL).token_source()
    assert [source() for _ in range(50)] == [SAVED] * 50
    assert len(calls) == 1
    saved_login.write_text("hf_ROTATEDsaved0123456789abcdefghijk", encoding="utf-8")
    assert source() == "hf_ROTATEDsaved0123456789abcdefghijk"
    assert len(calls) == 2


def test_a_fresh_process_reads_the_saved_login_through_huggingface_hub(saved_login: Path) -> None:
    # Also the import hygiene: neither the import nor a tier's own token loads huggingface_hub;
    # the first look for a saved login does.
    code = (
        "import sys\n"
        "from langchain_hf_spaces import SpaceConfig\n"
        "own = SpaceConfig(url='https://acme-x.hf.space', token='hf_x')\n"
        "assert own.resolve_token() == 'hf_x'\n"
        "cfg = SpaceConfig(url='https://acme-x.hf.space')\n"
        "assert 'huggingface_hub' not in sys.modules, 'imported too early'\n"
        f"assert cfg.resolve_token() == {SAVED!r}, 'saved login not found'\n"
        "assert 'huggingface_hub' in sys.modules\n"
        "print(cfg.token_origin())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_SPACES_", "HF_TOKEN"))}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "saved login (hf auth login)"
    assert SAVED not in out.stderr


# ------------------------------------------------------------------- where a token may go
@pytest.mark.parametrize(
    ("url", "ambient"),
    [
        ("https://acme-x.hf.space", True),
        ("https://huggingface.co/api/x", True),
        ("https://router.huggingface.co", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:7860", True),
        ("http://[::1]:9000", True),
        ("https://example.com", False),
        ("https://hf.space.example.com", False),
        ("https://evilhuggingface.co", False),
    ],
)
def test_which_hosts_get_an_ambient_token(url: str, ambient: bool) -> None:
    assert is_hugging_face_url(url) is ambient


def test_the_hf_endpoint_host_gets_an_ambient_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV)
    cfg = SpaceConfig(url="https://hub.acme.example/spaces-proxy")
    assert cfg.resolve_token() is None
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.acme.example/")
    assert hub_endpoint() == "https://hub.acme.example"
    assert cfg.resolve_token() == ENV


def test_hub_endpoint_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert hub_endpoint() == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:5564//")
    assert hub_endpoint() == "http://127.0.0.1:5564"


def _authorization_sent(config: SpaceConfig) -> str | None:
    """Call the Space through the real client; the authorization header its request carried."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"generated_text": "hi"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with SpaceClient(config, tier="base", http_client=http) as client:
        assert client.generate("Hello") == "hi"
    assert len(seen) == 1
    return seen[0].headers.get("authorization")


@pytest.mark.parametrize("source", ["env", "saved"])
def test_an_ambient_token_reaches_only_hugging_face_and_loopback(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = ENV if source == "env" else SAVED
    if source == "env":
        monkeypatch.setenv("HF_TOKEN", ENV)
    else:
        (tmp_path / "token").write_text(SAVED, encoding="utf-8")
        monkeypatch.setenv("HF_HOME", str(tmp_path))
    sent = {
        url: _authorization_sent(SpaceConfig(url=url))
        for url in ("https://acme-x.hf.space", "http://127.0.0.1:8123", "https://example.com")
    }
    assert sent == {
        "https://acme-x.hf.space": f"Bearer {token}",
        "http://127.0.0.1:8123": f"Bearer {token}",
        "https://example.com": None,
    }


@pytest.mark.parametrize(
    "how",
    [
        {"token": EXPLICIT},
        {"token": lambda: EXPLICIT},
        {"token_env": "ACME_TOKEN"},
    ],
    ids=["token", "callable", "token_env"],
)
def test_an_explicit_token_goes_to_its_space_whatever_the_host(
    how: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TOKEN", EXPLICIT)
    monkeypatch.setenv("HF_TOKEN", ENV)
    assert _authorization_sent(SpaceConfig(url=OTHER_URL, **how)) == f"Bearer {EXPLICIT}"
    assert _authorization_sent(SpaceConfig(url=OTHER_URL)) is None  # HF_TOKEN stays home


def test_settings_from_the_environment_keep_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV)
    settings = SpacesSettings.load(
        environ={"HF_SPACES_BASE_URL": OTHER_URL, "HF_SPACES_HUB_URL": "acme/x"}
    )
    assert settings.tiers["base"].resolve_token() is None
    assert settings.tiers["hub"].resolve_token() == ENV
    explicit = SpacesSettings.load(
        environ={"HF_SPACES_BASE_URL": OTHER_URL, "HF_SPACES_BASE_TOKEN": EXPLICIT}
    )
    assert explicit.tiers["base"].resolve_token() == EXPLICIT


# --------------------------------------------------------------------------- token_origin
Setup = Callable[[pytest.MonkeyPatch, Path], dict[str, Any]]


def _home(mp: pytest.MonkeyPatch, tmp: Path) -> None:
    (tmp / "token").write_text(SAVED, encoding="utf-8")
    mp.setenv("HF_HOME", str(tmp))


ORIGINS: dict[str, tuple[Setup, str]] = {
    "config": (lambda mp, tmp: {"token": EXPLICIT}, "config"),
    "callable": (lambda mp, tmp: {"token": lambda: EXPLICIT}, "token callable"),
    "token_env": (
        lambda mp, tmp: mp.setenv("ACME_TOKEN", EXPLICIT) or {"token_env": "ACME_TOKEN"},
        "env ACME_TOKEN",
    ),
    "hf_token": (lambda mp, tmp: mp.setenv("HF_TOKEN", ENV) or {}, "env HF_TOKEN"),
    "legacy": (
        lambda mp, tmp: mp.setenv("HUGGING_FACE_HUB_TOKEN", LEGACY) or {},
        "env HUGGING_FACE_HUB_TOKEN",
    ),
    "saved": (lambda mp, tmp: _home(mp, tmp) or {}, "saved login (hf auth login)"),
    "none": (lambda mp, tmp: {}, "none"),
    "unset_token_env": (lambda mp, tmp: {"token_env": "ACME_TOKEN"}, "none"),
    "not_sent": (
        lambda mp, tmp: mp.setenv("HF_TOKEN", ENV) or {"url": OTHER_URL},
        "not sent: ambient token, non-Hugging Face host",
    ),
}


@pytest.mark.parametrize("case", list(ORIGINS))
def test_token_origin_says_where_the_token_comes_from(
    case: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    setup, expected = ORIGINS[case]
    fields = {"url": HF_URL, **setup(monkeypatch, tmp_path)}
    cfg = SpaceConfig(**fields)
    origin = cfg.token_origin()
    assert origin == expected
    for secret in (SAVED, ENV, LEGACY, EXPLICIT):
        assert secret not in origin
    assert (cfg.resolve_token() is None) == (expected in ("none", NOT_SENT))


def test_token_origin_does_not_call_the_provider() -> None:
    calls: list[None] = []
    cfg = SpaceConfig(url=HF_URL, token=lambda: calls.append(None) or "hf_x")
    assert cfg.token_origin() == "token callable"
    assert calls == []


def test_langchain_models_keep_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_TOKEN picked up by a LangChain model's field default is ambient, not the Space's."""
    from langchain_hf_spaces import HuggingFaceSpaceLLM

    monkeypatch.setenv("HF_TOKEN", "hf_AMBIENTlangchain0123456789")
    elsewhere = HuggingFaceSpaceLLM(space_url="https://llm.acme.example")
    assert elsewhere._space().config.resolve_token() is None
    on_hf = HuggingFaceSpaceLLM(space_url="https://acme-llm.hf.space")
    assert on_hf._space().config.resolve_token() == "hf_AMBIENTlangchain0123456789"
    explicit = HuggingFaceSpaceLLM(space_url="https://llm.acme.example", hf_token="hf_MINE1234567")
    assert explicit._space().config.resolve_token() == "hf_MINE1234567"


def test_the_saved_login_file_is_looked_at_once_a_second_at_most(
    saved_login: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per request only the environment is read; the file's stat waits for the window."""
    now = [100.0]
    monkeypatch.setattr(_loading.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(_loading, "_RESTAT_AFTER", 1.0)
    stats: list[str] = []
    real_stat = os.stat
    monkeypatch.setattr(
        _loading.os, "stat", lambda p, *a, **k: (stats.append(str(p)), real_stat(p, *a, **k))[1]
    )
    source = SpaceConfig(url=HF_URL).token_source()
    assert [source() for _ in range(20)] == [SAVED] * 20
    assert len(stats) == 1
    saved_login.write_text("hf_NEWloginWithinTheWindow0123456789", encoding="utf-8")
    assert source() == SAVED  # inside the window
    now[0] += 1.5
    assert source() == "hf_NEWloginWithinTheWindow0123456789"
