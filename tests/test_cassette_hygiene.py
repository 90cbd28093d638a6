"""Cassettes are safe to publish and pleasant to read.

:func:`leaks` lists every way a cassette could give a secret away; the tests run it over every
cassette, prove on planted cassettes that it notices each kind of leak, and record a real
exchange with a private LocalSpace to show that the recording settings filter the token.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import vcr
import yaml

from langchain_hf_spaces.testing import LocalSpace
from tests.conftest import CASSETTES, PLANTED_TOKEN, _ReadableYAML

SECRET_HEADERS = frozenset({"authorization", "x-hf-authorization", "cookie", "set-cookie"})
SECRET_QUERY = frozenset({"token", "access_token", "api_key"})
TOKEN_SHAPE = re.compile(r"hf_[A-Za-z0-9]{20,}")
"""A Hugging Face access token (``hf_`` and 34 letters and digits; shorter ones count too)."""
BEARER = re.compile(r"bearer\s+\S+", re.IGNORECASE)


def leaks(text: str) -> list[str]:
    """What in this cassette could carry a credential (empty when it is clean)."""
    found: list[str] = []
    data = yaml.safe_load(text)
    for number, interaction in enumerate(data["interactions"]):
        for side in ("request", "response"):
            for name in interaction[side].get("headers") or {}:
                if name.lower() in SECRET_HEADERS:
                    found.append(f"interaction {number}: {side} header {name!r}")
        query = urlsplit(interaction["request"]["uri"]).query
        for key, _ in parse_qsl(query, keep_blank_values=True):
            if key.lower() in SECRET_QUERY:
                found.append(f"interaction {number}: query parameter {key!r}")
    found.extend(f"a token: {m.group()[:6]}..." for m in TOKEN_SHAPE.finditer(text))
    found.extend(f"a bearer credential: {m.group()[:10]}..." for m in BEARER.finditer(text))
    return found


def _cassettes() -> list[Path]:
    return sorted(Path(CASSETTES).rglob("*.yaml"))


def test_cassettes_hold_no_token() -> None:
    """Authorization is filtered at record time: no cassette may hold a token."""
    files = _cassettes()
    assert len(files) >= 100, f"only {len(files)} cassettes found under {CASSETTES}"
    found = {str(p.relative_to(CASSETTES)): leaks(p.read_text("utf-8")) for p in files}
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_a_private_space_was_recorded_with_its_token() -> None:
    """The check above has something to find: this cassette was recorded with PLANTED_TOKEN
    against a private Space, which answered 200, so the header was sent and then filtered."""
    path = Path(CASSETTES) / "test_cassettes" / "test_private_space_with_token.yaml"
    (interaction,) = yaml.safe_load(path.read_text("utf-8"))["interactions"]
    assert interaction["response"]["status"]["code"] == 200
    assert set(interaction["request"]["headers"]) & SECRET_HEADERS == set()


# ---------------------------------------------------------------------- the check can fail

_CLEAN: dict[str, Any] = {
    "interactions": [
        {
            "request": {
                "body": '{"inputs":"Hi"}',
                "headers": {"content-type": ["application/json"]},
                "method": "POST",
                "uri": "http://localspace.test/api/generate",
            },
            "response": {
                "body": {"string": '{"generated_text":"Hello"}'},
                "headers": {"content-type": ["application/json"]},
                "status": {"code": 200, "message": "OK"},
            },
        }
    ],
    "version": 1,
}


def _planted(change: str) -> str:
    data = json.loads(json.dumps(_CLEAN))
    request, response = data["interactions"][0]["request"], data["interactions"][0]["response"]
    if change == "authorization header":
        request["headers"]["Authorization"] = [f"Bearer {PLANTED_TOKEN}"]
    elif change == "x-hf-authorization header":
        request["headers"]["x-hf-authorization"] = ["Bearer something-else"]
    elif change == "cookie header":
        request["headers"]["cookie"] = ["session=abc"]
    elif change == "set-cookie header":
        response["headers"]["set-cookie"] = ["session=abc; HttpOnly"]
    elif change == "token query parameter":
        request["uri"] += "?token=abc"
    elif change == "token in the body":
        request["body"] = json.dumps({"inputs": "Hi", "api_key": "hf_" + "a1B2" * 9})
    elif change == "bearer in an answer":
        response["body"]["string"] = '{"error":"Bearer xyz is invalid"}'
    return yaml.safe_dump(data)


def test_a_clean_cassette_passes() -> None:
    assert leaks(yaml.safe_dump(_CLEAN)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("authorization header", "interaction 0: request header 'Authorization'"),
        ("x-hf-authorization header", "interaction 0: request header 'x-hf-authorization'"),
        ("cookie header", "interaction 0: request header 'cookie'"),
        ("set-cookie header", "interaction 0: response header 'set-cookie'"),
        ("token query parameter", "interaction 0: query parameter 'token'"),
        ("token in the body", "a token: hf_a1B..."),
        ("bearer in an answer", "a bearer credential: Bearer xyz..."),
    ],
)
def test_each_kind_of_leak_is_found(change: str, expected: str) -> None:
    assert expected in leaks(_planted(change))


def test_the_planted_token_is_found_where_the_hub_would_reject_it() -> None:
    """The planted token alone (no header, no "Bearer"), e.g. echoed in an answer."""
    data = json.loads(json.dumps(_CLEAN))
    data["interactions"][0]["response"]["body"]["string"] = f'{{"echo":"{PLANTED_TOKEN}"}}'
    assert leaks(yaml.safe_dump(data)) == [f"a token: {PLANTED_TOKEN[:6]}..."]


# ---------------------------------------------------------------------- recording filters


def _record(path: Path, config: dict[str, Any], space: LocalSpace) -> None:
    recorder = vcr.VCR(**config, record_mode="all")
    recorder.register_serializer("yaml", _ReadableYAML())
    with recorder.use_cassette(str(path)), httpx.Client() as client:
        answer = client.post(
            f"{space.url}/api/generate?token=abc",
            json={"inputs": "Secret hi"},
            headers={"Authorization": f"Bearer {PLANTED_TOKEN}", "Cookie": "session=abc"},
        )
    assert answer.status_code == 200  # the private Space took the token


def test_recording_filters_credentials(tmp_path: Path, vcr_config: dict[str, Any]) -> None:
    """The suite's recording settings (conftest.vcr_config) leave no credential behind; the
    same exchange recorded without them is caught."""
    with LocalSpace(name="private", token=PLANTED_TOKEN) as space:
        _record(tmp_path / "filtered.yaml", vcr_config, space)
        unfiltered = {
            **vcr_config,
            "filter_headers": [],
            "filter_query_parameters": [],
            "before_record_request": None,
        }
        _record(tmp_path / "unfiltered.yaml", unfiltered, space)
    assert leaks((tmp_path / "filtered.yaml").read_text("utf-8")) == []
    assert leaks((tmp_path / "unfiltered.yaml").read_text("utf-8")) == [
        "interaction 0: request header 'authorization'",
        "interaction 0: request header 'cookie'",
        "interaction 0: query parameter 'token'",
        f"a token: {PLANTED_TOKEN[:6]}...",
        f"a bearer credential: Bearer {PLANTED_TOKEN[:3]}...",
    ]


# ---------------------------------------------------------------------- readability


def test_no_cassette_stores_a_body_as_binary() -> None:
    offenders = [str(p.relative_to(CASSETTES)) for p in _cassettes() if "!!binary" in p.read_text()]
    assert offenders == []


def test_cassette_bodies_are_readable_json() -> None:
    path = Path(CASSETTES) / "test_cassettes" / "test_complete[generate].yaml"
    (interaction,) = yaml.safe_load(path.read_text("utf-8"))["interactions"]
    request_body = interaction["request"]["body"]
    assert isinstance(request_body, str)  # text in the YAML, not bytes
    assert json.loads(request_body) == {
        "inputs": "Write a haiku about tea",
        "parameters": {"max_new_tokens": 6, "seed": 7},
    }
    answer = json.loads(interaction["response"]["body"]["string"])
    assert answer == {"generated_text": "Demo answer from base: Quiet simple"}
