"""The call flow and the exchange, stepped by hand: no socket, no sleeping.

``_policy.exchange`` and ``_flow.call_flow`` are generators of actions; these tests play the
driver's part with ``next()``/``send()`` and scripted answers (as httpx's ``tests/test_auth.py``
steps an auth flow), so retries, waking, redirects, size caps and cut streams are checked
exactly, down to each request sent and each wait asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    SpaceAuthError,
    SpaceConfig,
    SpaceConnectionError,
    SpaceInputError,
    SpaceNotFoundError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpaceTimeoutError,
    SpaceUnavailableError,
    WaitEvent,
)
from langchain_hf_spaces._answers import SpaceAnswer
from langchain_hf_spaces._flow import (
    CallFlow,
    Close,
    Emit,
    Read,
    SpaceCore,
    TextCall,
    call_flow,
    info_flow,
    protocol_flow,
)
from langchain_hf_spaces._policy import Failed, Received, Send, Sleep, exchange
from langchain_hf_spaces._stream import StreamCut, StreamReader
from langchain_hf_spaces.protocols import TGIProtocol

URL = "https://acme-base.hf.space"
TOKEN = "hf_FLOWtokenABCDEFGHIJKLMNOPQRSTU"
HTML_SLEEPING = b"<!DOCTYPE html><html><body>This Space is sleeping</body></html>"


class FakeClock:
    """Time that moves only when the flow sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ok(data: Any, status: int = 200, **headers: str) -> Received:
    return Received(
        status, {"content-type": "application/json", **headers}, json.dumps(data).encode()
    )


def raw(status: int, body: bytes = b"", **headers: str) -> Received:
    return Received(status, headers, body)


class Script:
    """Plays the driver: answers each Send from a list, reads streams from byte lists."""

    def __init__(self, answers: list[Any], clock: FakeClock | None = None) -> None:
        self.answers = list(answers)
        self.clock = clock
        self.sent: list[Send] = []
        self.sleeps: list[Sleep] = []
        self.emitted: list[str] = []
        self.closed: list[Any] = []

    def run(self, flow: CallFlow[Any]) -> Any:
        outcome: Any = None
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                return stop.value
            outcome = None
            if isinstance(action, Send):
                self.sent.append(action)
                answer = self.answers.pop(0)
                if isinstance(answer, list):  # an open stream: its chunks
                    answer = Received(200, {}, b"", response=iter(answer))
                outcome = answer
            elif isinstance(action, Sleep):
                self.sleeps.append(action)
                if self.clock is not None:
                    self.clock.now += action.seconds
            elif isinstance(action, Read):
                outcome = next(action.stream, None)
            elif isinstance(action, Emit):
                self.emitted.append(action.text)
            elif isinstance(action, Close):
                self.closed.append(action.stream)

    @property
    def events(self) -> list[WaitEvent]:
        return [s.event for s in self.sleeps if s.event is not None]


def cfg(**kw: Any) -> SpaceConfig:
    base: dict[str, Any] = {"url": URL, "token": TOKEN, "max_retries": 2}
    return SpaceConfig(**{**base, **kw})


def one_exchange(config: SpaceConfig, clock: Callable[[], float] | None = None) -> Any:
    kw: dict[str, Any] = {} if clock is None else {"clock": clock}
    return exchange(
        config,
        tier="base",
        method="POST",
        url=config.url + "/api/generate",
        body={"inputs": "hi"},
        headers={"authorization": f"Bearer {TOKEN}"},
        **kw,
    )


# ------------------------------------------------------------------------ exchange
def test_a_2xx_answer_ends_the_exchange_on_the_first_send() -> None:
    flow = one_exchange(cfg())
    send = next(flow)
    assert isinstance(send, Send) and send.method == "POST" and send.json == {"inputs": "hi"}
    with pytest.raises(StopIteration) as stop:
        flow.send(ok({"generated_text": "hello"}))
    outcome = stop.value.value
    assert outcome.attempts == 1 and outcome.received.status == 200


def test_5xx_is_retried_with_backoff_events_then_succeeds() -> None:
    script = Script([raw(503, b"{}"), raw(500, b"{}"), ok({"generated_text": "x"})])
    outcome = script.run(one_exchange(cfg(retry_initial_delay=0.5, retry_max_delay=8)))
    assert outcome.attempts == 3
    events = script.events
    assert [e.reason for e in events] == ["retrying", "retrying"]
    assert [e.attempt for e in events] == [1, 2] and {e.max_attempts for e in events} == {2}
    assert [e.status_code for e in events] == [503, 500]
    # Exponential backoff with jitter in [0.5, 1): 0.5*2**0 and 0.5*2**1.
    assert 0.25 <= events[0].delay < 0.5 and 0.5 <= events[1].delay < 1.0
    assert all(e.tier == "base" and e.url == URL for e in events)


def test_5xx_after_the_last_retry_is_a_typed_error() -> None:
    script = Script([raw(502, b'{"error": "boom"}')] * 3)
    with pytest.raises(SpaceUnavailableError, match=r"HTTP 502 after 3 attempt\(s\): boom") as e:
        script.run(one_exchange(cfg()))
    assert e.value.tier == "base" and e.value.url == URL
    assert len(script.sent) == 3


def test_429_honours_retry_after_and_says_rate_limited() -> None:
    script = Script([raw(429, b"{}", **{"retry-after": "3"}), ok({"generated_text": "x"})])
    script.run(one_exchange(cfg()))
    [event] = script.events
    assert (event.reason, event.delay, event.status_code) == ("rate_limited", 3.0, 429)


def test_429_with_a_retry_after_past_the_cap_is_raised_at_once() -> None:
    script = Script([raw(429, b"{}", **{"retry-after": "600"})])
    with pytest.raises(SpaceRateLimitError) as e:
        script.run(one_exchange(cfg(max_retry_after=60)))
    assert e.value.retry_after == 600.0 and script.sleeps == []


def test_gradio_queue_full_is_a_rate_limit() -> None:
    body = b'{"error": "Queue is full! Please try again."}'
    script = Script([raw(503, body)] * 3)
    with pytest.raises(SpaceRateLimitError, match="queue is full"):
        script.run(one_exchange(cfg()))
    assert [e.reason for e in script.events] == ["rate_limited", "rate_limited"]


def test_connect_errors_are_retried_then_raised() -> None:
    script = Script([Failed("connect", "ConnectError")] * 3)
    with pytest.raises(SpaceConnectionError, match=r"Could not connect .* after 3 attempt"):
        script.run(one_exchange(cfg()))
    assert [e.detail for e in script.events] == ["connect: ConnectError"] * 2


def test_a_read_timeout_is_not_retried() -> None:
    script = Script([Failed("read_timeout", "ReadTimeout")])
    with pytest.raises(SpaceTimeoutError, match="read_timeout"):
        script.run(one_exchange(cfg()))
    assert script.sleeps == []


def test_a_sleeping_space_is_polled_until_it_wakes() -> None:
    clock = FakeClock()
    answers = [raw(503, HTML_SLEEPING, **{"content-type": "text/html"})] * 3
    script = Script([*answers, ok({"generated_text": "awake"})], clock)
    outcome = script.run(one_exchange(cfg(wake_poll_interval=2.0, wake_timeout=60), clock))
    assert outcome.attempts == 1  # waiting for a wake-up is not an attempt
    events = script.events
    assert [e.reason for e in events] == ["waking"] * 3
    assert [e.elapsed for e in events] == [0.0, 2.0, 4.0]
    assert {e.budget for e in events} == {60.0} and [e.attempt for e in events] == [1, 2, 3]


def test_an_estimated_time_shortens_the_poll() -> None:
    clock = FakeClock()
    body = json.dumps({"error": "Model is loading", "estimated_time": 0.3}).encode()
    script = Script([raw(503, body), ok({"generated_text": "x"})], clock)
    script.run(one_exchange(cfg(wake_poll_interval=5.0), clock))
    assert script.sleeps[0].seconds == pytest.approx(0.3)


def test_wake_timeout_ends_the_wait_with_a_typed_error() -> None:
    clock = FakeClock()
    script = Script([raw(503, HTML_SLEEPING)] * 10, clock)
    with pytest.raises(SpaceUnavailableError, match=r"still asleep .*wake_timeout=3\.0s"):
        script.run(one_exchange(cfg(wake_poll_interval=1.0, wake_timeout=3.0), clock))
    assert sum(s.seconds for s in script.sleeps) == pytest.approx(3.0)


def test_a_paused_space_fails_fast() -> None:
    body = b"<html>This Space has been paused by its owner.</html>"
    with pytest.raises(SpaceUnavailableError, match="paused"):
        Script([raw(503, body)]).run(one_exchange(cfg()))


def test_a_redirect_to_another_host_drops_the_token() -> None:
    script = Script(
        [
            raw(307, location=f"{URL}/v2/generate"),
            raw(302, location="https://elsewhere.example/x"),
            ok({"generated_text": "x"}),
        ]
    )
    outcome = script.run(one_exchange(cfg()))
    _, same_host, other_host = script.sent
    assert same_host.url == f"{URL}/v2/generate" and "authorization" in same_host.headers
    assert other_host.url == "https://elsewhere.example/x"
    assert "authorization" not in other_host.headers
    assert outcome.attempts == 1 and outcome.notes


def test_an_oversize_answer_is_a_response_error() -> None:
    big = Received(200, {}, b"", oversize=True)
    with pytest.raises(SpaceResponseError, match="max_response_bytes"):
        Script([big]).run(one_exchange(cfg()))


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, SpaceAuthError, "rejected the token"),
        (403, SpaceAuthError, "denied access"),
        (404, SpaceNotFoundError, "Nothing at"),
        (422, SpaceResponseError, "HTTP 422"),
    ],
)
def test_4xx_is_not_retried(status: int, error: type[Exception], words: str) -> None:
    script = Script([raw(status, b'{"error": "no"}')])
    with pytest.raises(error, match=words):
        script.run(one_exchange(cfg()))
    assert script.sleeps == []


# ------------------------------------------------------------------------ call flow
def core(**kw: Any) -> SpaceCore:
    return SpaceCore(cfg(**kw), "base", clock=FakeClock())


def text_call(
    c: SpaceCore, prompt: str = "Greet me", *, stream: bool = False, **params: Any
) -> CallFlow[Any]:
    full, params = c.validate(prompt, None, params)
    return call_flow(c, TextCall(full, params), stream=stream)


def test_a_generate_call_is_one_exchange() -> None:
    script = Script([ok([{"generated_text": "Hi there"}])])
    answer = script.run(text_call(core(), max_new_tokens=5))
    assert isinstance(answer, SpaceAnswer)
    assert (answer.text, answer.protocol, answer.attempts) == ("Hi there", "generate", 1)
    [send] = script.sent
    assert send.url == f"{URL}/api/generate"
    assert send.json == {"inputs": "Greet me", "parameters": {"max_new_tokens": 5}}
    assert send.headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-hf-authorization" not in send.headers  # only Gradio reads that one


def tgi_events(*tokens: str, final: bool = True) -> list[bytes]:
    chunks = [
        b"data: " + json.dumps({"token": {"text": t, "special": False}}).encode() + b"\n\n"
        for t in tokens
    ]
    if final:
        last = {
            "token": {"text": "", "special": True},
            "generated_text": "".join(tokens),
            "details": {"finish_reason": "eos_token", "generated_tokens": len(tokens)},
        }
        chunks.append(b"data: " + json.dumps(last).encode() + b"\n\n")
    return chunks


def test_a_tgi_stream_emits_each_token_and_closes_the_stream() -> None:
    c = core(protocol="tgi")
    stream = tgi_events("Hel", "lo", " you")
    script = Script([stream])
    answer = script.run(text_call(c, stream=True))
    assert script.emitted == ["Hel", "lo", " you"]
    assert answer.text == "Hello you" and answer.finish_reason == "eos_token"
    assert answer.completion_tokens == 3
    assert script.sent[0].url == f"{URL}/generate_stream" and script.sent[0].stream
    assert script.sent[0].headers["accept"] == "text/event-stream"
    assert len(script.closed) == 1


def test_a_stream_cut_before_its_final_event_raises_after_the_text() -> None:
    script = Script([tgi_events("a", "b", final=False)])
    with pytest.raises(SpaceConnectionError, match=r"cut after 2 chunk\(s\)") as e:
        script.run(text_call(core(protocol="tgi"), stream=True))
    assert script.emitted == ["a", "b"] and e.value.url == URL


def test_a_broken_stream_raises_a_connection_error() -> None:
    chunks: list[Any] = [*tgi_events("a", final=False), Failed("broken", "RemoteProtocolError")]
    script = Script([chunks])
    with pytest.raises(SpaceConnectionError, match="RemoteProtocolError"):
        script.run(text_call(core(protocol="tgi"), stream=True))
    assert script.emitted == ["a"]


def test_a_stream_past_the_size_cap_is_cut() -> None:
    script = Script([tgi_events("x" * 400, "y" * 400)])
    with pytest.raises(SpaceConnectionError, match="max_response_bytes=500"):
        script.run(text_call(core(protocol="tgi", max_response_bytes=500), stream=True))


def test_an_app_error_inside_a_stream_is_typed() -> None:
    # TGI's error_type "generation" is a server failure, not a problem with the request.
    err = b'data: {"error": "CUDA out of memory", "error_type": "generation"}\n\n'
    with pytest.raises(SpaceUnavailableError, match="CUDA out of memory"):
        Script([[err]]).run(text_call(core(protocol="tgi"), stream=True))


def gradio_config(**extra: Any) -> dict[str, Any]:
    return {
        "version": "5.50.0",
        "protocol": "sse_v3",
        "api_prefix": "/gradio_api",
        "mode": "chat_interface",
        "components": [
            {"id": 1, "type": "textbox", "props": {"label": "Message"}},
            {"id": 2, "type": "state", "props": {}},
            {"id": 3, "type": "textbox", "props": {"label": "Response"}},
        ],
        "dependencies": [
            {"id": 0, "api_name": "_hidden", "show_api": False, "inputs": [1], "outputs": [3]},
            {"id": 4, "api_name": "chat", "show_api": True, "inputs": [1, 2], "outputs": [3, 2]},
        ],
        **extra,
    }


def queue_events(*messages: dict[str, Any]) -> list[bytes]:
    return [b"data: " + json.dumps(m).encode() + b"\n\n" for m in messages]


def test_a_gradio_call_reads_the_config_once_then_queues_and_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("langchain_hf_spaces.protocols.gradio.new_session", lambda: "s1")
    c = core(protocol="gradio")
    events = queue_events(
        {"msg": "estimation", "rank": 2, "queue_size": 3, "rank_eta": 4.0},
        {"msg": "process_starts"},
        {"msg": "process_generating", "output": {"data": ["Hel", None]}, "success": True},
        {"msg": "process_generating", "output": {"data": [[["append", [], "lo"]], None]}},
        {"msg": "process_completed", "output": {"data": ["Hello!", None]}, "success": True},
    )
    script = Script([ok(gradio_config()), ok({"event_id": "e1"}), events])
    answer = script.run(text_call(c, "Hi", stream=True))
    config, join, read = script.sent
    assert (config.method, config.url) == ("GET", f"{URL}/config")
    assert join.url == f"{URL}/gradio_api/queue/join"
    assert join.json == {
        "data": ["Hi", None],  # the hidden State input gets None
        "fn_index": 4,
        "session_hash": "s1",
        "event_data": None,
        "trigger_id": None,
    }
    assert (read.url, read.stream) == (f"{URL}/gradio_api/queue/data?session_hash=s1", True)
    assert join.headers["x-hf-authorization"] == f"Bearer {TOKEN}"
    assert script.emitted == ["Hel", "lo", "!"] and answer.text == "Hello!"
    # The queue position went to on_wait, as a wait of no length.
    [queued] = script.events
    assert (queued.reason, queued.delay) == ("queued", 0.0)
    assert queued.detail == "position 3 of 3 in the Space's queue, about 4s"
    # The config is remembered: the next call does not ask again.
    again = Script(
        [
            ok({"event_id": "e2"}),
            queue_events({"msg": "process_completed", "output": {"data": ["ok", None]}}),
        ]
    )
    assert again.run(text_call(c, "Hi")).text == "ok"
    assert [s.url.rsplit("/", 1)[-1] for s in again.sent] == ["join", "data?session_hash=s1"]


def test_a_gradio_app_that_changed_is_read_again_once() -> None:
    c = core(protocol="gradio")
    moved = gradio_config()
    moved["dependencies"][1]["id"] = 9  # redeployed: the chat function has a new index
    done = {"msg": "process_completed", "output": {"data": ["ok", None]}}
    script = Script([ok(gradio_config()), raw(404), ok(moved), ok({"event_id": "e"})])
    script.answers.append(queue_events(done))
    assert script.run(text_call(c)).text == "ok"
    paths = [s.url.removeprefix(URL) for s in script.sent]
    assert paths[:4] == ["/config", "/gradio_api/queue/join", "/config", "/gradio_api/queue/join"]
    assert script.sent[3].json["fn_index"] == 9
    # A second 404 in a row is the answer: no loop.
    again = Script([raw(404), ok(moved), raw(404)])
    with pytest.raises(SpaceNotFoundError):
        again.run(text_call(c))
    assert len(again.sent) == 3


def test_a_gradio_error_keeps_its_message() -> None:
    c = core(protocol="gradio")
    failed = {"msg": "process_completed", "output": {"error": "out of memory"}, "success": False}
    script = Script([ok(gradio_config()), ok({"event_id": "e1"}), queue_events(failed)])
    with pytest.raises(SpaceResponseError, match="The Gradio app raised an error: out of memory"):
        script.run(text_call(c))


def test_a_gradio_app_takes_no_stop_so_it_is_applied_here() -> None:
    c = core(protocol="gradio")
    done = {"msg": "process_completed", "output": {"data": ["one END two", None]}}
    script = Script([ok(gradio_config()), ok({"event_id": "e1"}), queue_events(done)])
    answer = script.run(text_call(c, stop=["END"]))
    assert answer.text == "one "
    assert "stop" not in json.dumps(script.sent[1].json)


def test_gradio_3_generators_are_polled_until_they_end() -> None:
    config = gradio_config(version="3.50.2", api_prefix=None, protocol=None)
    c = core(protocol="gradio")
    parts = [
        ok({"data": ["Gra", None], "is_generating": True}),
        ok({"data": ["Gradio", None], "is_generating": True}),
        ok({"data": [None, None], "is_generating": False}),
    ]
    script = Script([ok(config), *parts])
    answer = script.run(text_call(c, "Hi", stream=True))
    assert answer.text == "Gradio" and script.emitted == ["Gra", "dio"]
    runs = script.sent[1:]
    assert {s.url for s in runs} == {f"{URL}/run/chat"}
    assert len({json.dumps(s.json) for s in runs}) == 1  # the same body each time


def test_gradio_3_errors_come_as_a_500_with_the_message() -> None:
    config = gradio_config(version="3.50.2", api_prefix=None, protocol=None)
    script = Script([ok(config), raw(500, b'{"error": "\'the model failed\'"}')])
    with pytest.raises(SpaceResponseError, match="raised an error: the model failed"):
        script.run(text_call(core(protocol="gradio")))
    assert script.sleeps == []  # an app error is not retried


def test_auto_probes_in_order_and_remembers_what_it_found() -> None:
    c = core(protocol="auto")
    tgi_info = {"model_id": "acme/m", "max_total_tokens": 4096}
    script = Script([raw(404), ok(tgi_info)])
    assert script.run(protocol_flow(c)) == "tgi"
    assert [s.url for s in script.sent] == [f"{URL}/config", f"{URL}/info"]
    # Until the protocol is known, the token goes in every header a protocol may read.
    assert script.sent[0].headers["x-hf-authorization"] == f"Bearer {TOKEN}"
    assert c.protocol_name == "tgi"
    assert Script([]).run(protocol_flow(c)) == "tgi"  # no probe the second time


def test_auto_finds_a_gradio_app_and_sets_it_up_from_the_probe() -> None:
    c = core(protocol="auto")
    script = Script([ok(gradio_config())])
    assert script.run(protocol_flow(c)) == "gradio"
    assert [s.url for s in script.sent] == [f"{URL}/config"]  # no second /config
    assert c.protocol is not None and c.protocol.takes_messages


def test_auto_falls_back_to_the_guide_format() -> None:
    c = core(protocol="auto")
    script = Script([raw(404), raw(404), raw(404), ok({"generated_text": "g"})])
    answer = script.run(text_call(c))
    assert answer.protocol == "generate" and script.sent[-1].url == f"{URL}/api/generate"


def test_info_comes_from_the_protocol() -> None:
    tgi = core(protocol="tgi")
    info = Script([ok({"model_id": "acme/m", "max_input_tokens": 10})]).run(info_flow(tgi))
    assert info == {"model_id": "acme/m", "max_input_tokens": 10}
    models = {"data": [{"id": "acme/chat"}, {"id": "other"}]}
    openai = core(protocol="openai", model="acme/chat")
    assert Script([ok(models)]).run(info_flow(openai)) == {"id": "acme/chat"}
    assert Script([]).run(info_flow(core())) is None  # the guide's format has no info


def test_a_protocol_input_complaint_is_a_typed_input_error() -> None:
    c = core(protocol="tgi")
    full, params = c.validate("x", None, {"stop": ["a", "b", "c", "d", "e"]})
    with pytest.raises(SpaceInputError, match="at most 4 stop sequences") as e:
        Script([]).run(call_flow(c, TextCall(full, params), stream=False))
    assert e.value.tier == "base" and e.value.url == URL


def test_the_token_is_in_no_action_but_the_auth_headers() -> None:
    script = Script([raw(500, b"{}"), raw(500, b"{}"), ok([{"generated_text": "x"}])])
    script.run(text_call(core()))
    for send in script.sent:
        rest = {k: v for k, v in send.headers.items() if k != "authorization"}
        assert TOKEN not in json.dumps([send.url, send.json, rest])
    assert all(TOKEN not in repr(e) for e in script.events)


# ------------------------------------------------------------------------ stream reader
def split_every(data: bytes, n: int) -> Iterator[bytes]:
    for i in range(0, len(data), n):
        yield data[i : i + n]


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_the_reader_gives_the_same_text_however_the_bytes_are_split(size: int) -> None:
    whole = b"".join(tgi_events("one ", "two ", "three"))
    reader = StreamReader(TGIProtocol(cfg()).stream_parser(prompt=""), max_bytes=10_000)
    deltas = [d for chunk in split_every(whole, size) for d in reader.feed(chunk)]
    assert "".join(deltas) == "one two three" and reader.done
    assert reader.result().text == "one two three" and reader.chunks == 3


def test_the_reader_flushes_a_last_event_without_its_blank_line() -> None:
    events = tgi_events("a", "b")
    reader = StreamReader(TGIProtocol(cfg()).stream_parser(prompt=""), max_bytes=10_000)
    deltas = reader.feed(b"".join(events).rstrip(b"\n"))
    assert not reader.done
    deltas += reader.end()
    assert "".join(deltas) == "ab" and reader.result().text == "ab"


def test_the_reader_refuses_an_unfinished_stream_at_its_end() -> None:
    reader = StreamReader(TGIProtocol(cfg()).stream_parser(prompt=""), max_bytes=10_000)
    reader.feed(b"".join(tgi_events("a", final=False)))
    with pytest.raises(StreamCut) as e:
        reader.end()
    assert e.value.chunks == 1
