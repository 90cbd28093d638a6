"""FakeHub: the Hub's Space API on loopback, proved against huggingface_hub's own parsers.

The shapes are checked by ``huggingface_hub`` itself: ``HfApi(endpoint=hub.url)`` calls the
fake live (``get_space_runtime``, ``space_info``), ``SpaceRuntime`` parses the raw answers,
``parse_ratelimit_headers`` reads the rate-limit headers and ``hf_raise_for_status`` maps the
errors to the exceptions it raises for the real Hub.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from huggingface_hub import HfApi, SpaceRuntime, SpaceStage
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import parse_ratelimit_headers

from langchain_hf_spaces.testing import FakeHub, HubRequest, LocalSpace

SPACE = "acme/base-llm"
RUNTIME_KEYS = {"stage", "hardware", "storage", "gcTimeout", "replicas", "sdk"}


@pytest.fixture(scope="module")
def shared_hub() -> Iterator[FakeHub]:
    with FakeHub() as hub:
        yield hub


@pytest.fixture
def hub(shared_hub: FakeHub) -> Iterator[FakeHub]:
    shared_hub.up()
    shared_hub.clear_requests()
    shared_hub.add_space(SPACE)
    yield shared_hub


def api(hub: FakeHub) -> HfApi:
    return HfApi(endpoint=hub.url, token=False)


# ---------------------------------------------------------------------- shapes


def test_runtime_answer_parses_as_huggingface_hub_space_runtime(hub: FakeHub) -> None:
    hub.add_space(SPACE, hardware="t4-medium", gc_timeout=3600, sdk="docker")
    response = httpx.get(f"{hub.url}/api/spaces/{SPACE}/runtime")
    assert response.status_code == 200
    data = response.json()
    assert set(data) == RUNTIME_KEYS  # no errorMessage unless one is set
    runtime = SpaceRuntime(data)
    assert runtime.stage == SpaceStage.RUNNING
    assert runtime.hardware == "t4-medium"
    assert runtime.requested_hardware == "t4-medium"
    assert runtime.sleep_time == 3600
    assert runtime.storage is None
    assert data["replicas"] == {"current": 1, "requested": 1}
    assert data["sdk"] == "docker"


def test_get_space_runtime_live_against_the_fake(hub: FakeHub) -> None:
    hub.add_space(
        SPACE,
        stage="RUNTIME_ERROR",
        hardware=None,
        requested_hardware="a10g-small",
        error_message="CUDA out of memory",
        gc_timeout=None,
    )
    runtime = api(hub).get_space_runtime(SPACE)
    assert runtime.stage == SpaceStage.RUNTIME_ERROR
    assert runtime.hardware is None
    assert runtime.requested_hardware == "a10g-small"
    assert runtime.sleep_time is None
    assert runtime.raw["errorMessage"] == "CUDA out of memory"
    assert runtime.raw["replicas"]["current"] == 0
    assert runtime.raw == hub.runtime(SPACE)
    assert [(r.method, r.path) for r in hub.requests] == [("GET", f"/api/spaces/{SPACE}/runtime")]


def test_space_info_live_reports_id_host_subdomain_and_runtime(hub: FakeHub) -> None:
    hub.add_space("Acme/Base_LLM.v2", stage="SLEEPING")
    info = api(hub).space_info("Acme/Base_LLM.v2")
    assert info.id == "Acme/Base_LLM.v2"
    assert info.author == "Acme"
    assert info.private is False
    assert info.sdk == "gradio"
    assert info.subdomain == "acme-base-llm-v2"
    assert info.host == "https://acme-base-llm-v2.hf.space"
    # "SLEEPING" is not a member of huggingface_hub's SpaceStage: stages are open strings
    assert info.runtime is not None and info.runtime.stage == "SLEEPING"
    assert info.created_at is not None and info.sha is not None and len(info.sha) == 40


def test_host_can_point_at_a_local_space(hub: FakeHub) -> None:
    with LocalSpace(name="base") as space:
        hub.add_space(SPACE, host=space.url + "/")
        info = api(hub).space_info(SPACE)
        assert info.host == space.url
        assert httpx.post(f"{info.host}/api/generate", json={"inputs": "Hi"}).status_code == 200


def test_a_label_over_63_characters_needs_an_explicit_subdomain_or_host(hub: FakeHub) -> None:
    long_id = "acme/" + "x" * 60
    with pytest.raises(ValueError, match="over 63 characters"):
        hub.add_space(long_id)
    hub.add_space(long_id, subdomain="acme-xxxx-3f2a")
    info = api(hub).space_info(long_id)
    assert (info.subdomain, info.host) == ("acme-xxxx-3f2a", "https://acme-xxxx-3f2a.hf.space")
    hub.add_space(long_id, host="https://acme-x-1b2c.hf.space")
    assert api(hub).space_info(long_id).subdomain == "acme-x-1b2c"


def test_unknown_space_is_404_repository_not_found(hub: FakeHub) -> None:
    response = httpx.get(f"{hub.url}/api/spaces/acme/missing/runtime")
    assert response.status_code == 404
    assert response.json() == {"error": "Repository not found"}
    assert response.headers["x-error-code"] == "RepoNotFound"
    with pytest.raises(RepositoryNotFoundError):
        api(hub).space_info("acme/missing")


def test_other_paths_and_methods(hub: FakeHub) -> None:
    assert httpx.get(f"{hub.url}/api/models/acme/base-llm").status_code == 404
    response = httpx.post(f"{hub.url}/api/spaces/{SPACE}/runtime")
    assert response.status_code == 405
    assert response.json() == {"error": "Method Not Allowed"}


# ---------------------------------------------------------------------- stages over time


def test_script_moves_through_stages_counted_from_the_call(hub: FakeHub) -> None:
    hub.add_space(SPACE, stage="SLEEPING")
    before = time.monotonic()
    hub.script(SPACE, [(0.4, "APP_STARTING"), (0.8, "RUNNING")])
    after = time.monotonic()
    client = api(hub)
    # (earliest, latest) bounds of the hub's clock since script(), and the stage it reported
    seen: list[tuple[float, float, str]] = []
    while time.monotonic() - before < 1.2:
        sent = time.monotonic()
        stage = client.get_space_runtime(SPACE).stage
        seen.append((sent - after, time.monotonic() - before, stage))
        time.sleep(0.05)
    stages = [stage for _, _, stage in seen]
    assert stages[0] == "SLEEPING" and stages[-1] == "RUNNING"
    # each stage appears once, in order, and only within its time
    assert list(dict.fromkeys(stages)) == ["SLEEPING", "APP_STARTING", "RUNNING"]
    assert all(earliest < 0.4 for earliest, _, stage in seen if stage == "SLEEPING")
    assert all(latest >= 0.4 for _, latest, stage in seen if stage == "APP_STARTING")
    assert all(earliest < 0.8 for earliest, _, stage in seen if stage == "APP_STARTING")
    assert all(latest >= 0.8 for _, latest, stage in seen if stage == "RUNNING")


def test_script_can_end_in_an_error_with_a_message(hub: FakeHub) -> None:
    hub.script(SPACE, [(0.0, "RUNNING_BUILDING"), (0.5, "BUILD_ERROR", "pip failed")])
    first = api(hub).get_space_runtime(SPACE)
    assert first.stage == "RUNNING_BUILDING" and "errorMessage" not in first.raw
    time.sleep(0.55)
    later = api(hub).get_space_runtime(SPACE)
    assert later.stage == SpaceStage.BUILD_ERROR
    assert later.raw["errorMessage"] == "pip failed"
    assert hub.stage(SPACE) == "BUILD_ERROR"


def test_set_stage_ends_a_script(hub: FakeHub) -> None:
    hub.script(SPACE, [(0.1, "RUNNING")])
    hub.set_stage(SPACE, "PAUSED")
    time.sleep(0.15)
    assert api(hub).get_space_runtime(SPACE).stage == SpaceStage.PAUSED
    hub.set_stage(SPACE, "RUNTIME_ERROR", error_message="exit code 1")
    assert hub.runtime(SPACE)["errorMessage"] == "exit code 1"


def test_stage_is_an_open_string(hub: FakeHub) -> None:
    hub.set_stage(SPACE, "SOMETHING_NEW")
    assert api(hub).get_space_runtime(SPACE).stage == "SOMETHING_NEW"


# ---------------------------------------------------------------------- rate limits


def test_rate_limit_answers_429_with_headers_huggingface_hub_parses(hub: FakeHub) -> None:
    hub.rate_limit(times=2, reset=42)
    for _ in range(2):
        response = httpx.get(f"{hub.url}/api/spaces/{SPACE}/runtime")
        assert response.status_code == 429
        assert response.headers["ratelimit"] == '"api";r=0;t=42'
        assert response.headers["ratelimit-policy"] == '"fixed window";"api";q=500;w=300'
        assert "42 seconds" in response.json()["error"]
        info = parse_ratelimit_headers(response.headers)
        assert info is not None
        assert (info.resource_type, info.remaining, info.reset_in_seconds) == ("api", 0, 42)
        assert (info.limit, info.window_seconds) == (500, 300)
    assert httpx.get(f"{hub.url}/api/spaces/{SPACE}/runtime").status_code == 200


def test_rate_limited_hub_error_through_huggingface_hub(hub: FakeHub) -> None:
    hub.rate_limit(reset=7)
    with pytest.raises(HfHubHTTPError) as caught:
        api(hub).get_space_runtime(SPACE)
    assert caught.value.response.status_code == 429
    assert "Retry after 7 seconds" in str(caught.value)


def test_every_answer_counts_against_the_window_quota() -> None:
    with FakeHub(quota=3, window=60) as hub:
        hub.add_space(SPACE)
        answers = [httpx.get(f"{hub.url}/api/spaces/{SPACE}") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    remaining = [parse_ratelimit_headers(r.headers) for r in answers]
    assert [info.remaining for info in remaining if info is not None] == [2, 1, 0, 0]
    # an ordinary answer carries the headers too, with remaining > 0: not a limit
    assert all(0 < info.reset_in_seconds <= 60 for info in remaining if info is not None)


# ---------------------------------------------------------------------- private Spaces


def test_private_space_needs_its_token(hub: FakeHub) -> None:
    hub.add_space(SPACE, private=True, token="hf_owner")
    url = f"{hub.url}/api/spaces/{SPACE}/runtime"

    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "Invalid username or password."}
    with pytest.raises(RepositoryNotFoundError):
        api(hub).get_space_runtime(SPACE)

    wrong = httpx.get(url, headers={"Authorization": "Bearer hf_wrong"})
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "Invalid credentials in Authorization header"}
    with pytest.raises(HfHubHTTPError) as caught:
        HfApi(endpoint=hub.url).get_space_runtime(SPACE, token="hf_wrong")
    assert not isinstance(caught.value, RepositoryNotFoundError)

    runtime = HfApi(endpoint=hub.url).get_space_runtime(SPACE, token="hf_owner")
    assert runtime.stage == SpaceStage.RUNNING
    info = HfApi(endpoint=hub.url).space_info(SPACE, token="hf_owner")
    assert info.private is True


def test_a_known_token_without_access_gets_404(hub: FakeHub) -> None:
    hub.add_space(SPACE, private=True, token="hf_owner")
    hub.add_space("other/space", private=True, token="hf_other")
    response = httpx.get(
        f"{hub.url}/api/spaces/{SPACE}", headers={"Authorization": "Bearer hf_other"}
    )
    assert response.status_code == 404
    assert response.json() == {"error": "Repository not found"}


def test_recorded_requests_never_hold_the_token(hub: FakeHub) -> None:
    hub.add_space(SPACE, private=True, token="hf_secret_value")
    HfApi(endpoint=hub.url).get_space_runtime(SPACE, token="hf_secret_value")
    httpx.get(f"{hub.url}/api/spaces/{SPACE}/runtime")
    with_token, without = hub.requests
    assert isinstance(with_token, HubRequest)
    assert with_token.status == 200 and without.status == 401
    assert with_token.authenticated and with_token.sent_token("hf_secret_value")
    assert not with_token.sent_token("hf_other")
    assert not without.authenticated and not without.sent_token("hf_secret_value")
    assert "authorization" not in with_token.headers
    assert "hf_secret_value" not in repr(with_token)
    assert "hf_secret_value" not in str(with_token.headers)


# ---------------------------------------------------------------------- down, up, stop


def test_down_closes_connections_until_up(hub: FakeHub) -> None:
    url = f"{hub.url}/api/spaces/{SPACE}/runtime"
    hub.down()
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    hub.down(status=503)
    response = httpx.get(url)
    assert response.status_code == 503 and "error" in response.json()
    hub.up()
    assert httpx.get(url).status_code == 200
    assert [r.status for r in hub.requests] == [None, 503, 200]


def test_stopped_hub_refuses_and_starts_again_on_the_same_port() -> None:
    hub = FakeHub()
    with pytest.raises(RuntimeError, match="no port yet"):
        _ = hub.url
    with hub:
        hub.add_space(SPACE)
        url = hub.url
    assert not hub.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/spaces/{SPACE}")
    with hub:
        assert hub.url == url
        assert httpx.get(f"{url}/api/spaces/{SPACE}").status_code == 200


def test_async_context_manager_and_async_client() -> None:
    async def main() -> int:
        async with FakeHub() as hub:
            hub.add_space(SPACE)
            async with httpx.AsyncClient() as client:
                response = await client.get(f"{hub.url}/api/spaces/{SPACE}/runtime")
            return response.status_code

    assert asyncio.run(main()) == 200


# ---------------------------------------------------------------------- arguments


def test_arguments_are_checked(hub: FakeHub) -> None:
    with pytest.raises(ValueError, match="namespace/name"):
        hub.add_space("base-llm")
    with pytest.raises(ValueError, match="needs a token"):
        hub.add_space(SPACE, private=True)
    with pytest.raises(ValueError, match="stage"):
        hub.add_space(SPACE, stage="")
    with pytest.raises(ValueError, match="time order"):
        hub.script(SPACE, [(1.0, "APP_STARTING"), (0.5, "RUNNING")])
    with pytest.raises(KeyError, match="acme/nope"):
        hub.set_stage("acme/nope", "RUNNING")
    with pytest.raises(ValueError, match="times"):
        hub.rate_limit(times=0)
    with pytest.raises(ValueError, match="status"):
        hub.down(status=200)
    with pytest.raises(ValueError, match="quota"):
        FakeHub(quota=0)
