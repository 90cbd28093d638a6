"""Property tests for every parser: arbitrary input yields a result or a typed error, never
another exception. ``make fuzz`` runs them with 2,000+ examples each (profile ``fuzz``);
``make test`` runs fewer.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_hf_spaces import SchemaError, SpaceConfig, SpaceConfigError, normalize_space_url
from langchain_hf_spaces._policy import is_waking, parse_retry_after
from langchain_hf_spaces._stream import StreamCut
from langchain_hf_spaces._structured import StructuredParseError, parse_structured
from langchain_hf_spaces.protocols import (
    PROTOCOLS,
    Continue,
    Generation,
    ProtocolError,
    RequestSpec,
    SSEDecoder,
    SSEEvent,
)
from langchain_hf_spaces.schema import schema_to_model

CONFIG = SpaceConfig(url="https://acme-fuzz.hf.space", model="m")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Bodies: arbitrary bytes, arbitrary JSON, and JSON shaped almost like each protocol's answers.
near_answers = st.one_of(
    st.fixed_dictionaries({"generated_text": json_values}, optional={"details": json_values}),
    st.lists(st.fixed_dictionaries({"generated_text": json_values}), max_size=2),
    st.fixed_dictionaries(
        {"choices": st.lists(st.fixed_dictionaries({"message": json_values}), max_size=2)},
        optional={"usage": json_values},
    ),
    st.fixed_dictionaries({"event_id": json_values}),
    st.fixed_dictionaries({"dependencies": json_values, "components": json_values}),
    st.fixed_dictionaries({"data": json_values}, optional={"is_generating": st.booleans()}),
    st.fixed_dictionaries(
        {
            "msg": st.sampled_from(
                ["estimation", "process_generating", "process_completed", "close_stream"]
            ),
            "output": json_values,
        },
        optional={"success": st.booleans(), "rank": json_values, "queue_size": json_values},
    ),
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    near_answers.map(lambda v: json.dumps(v).encode()),
)


def _protocol(name: str) -> Any:
    proto = PROTOCOLS[name](CONFIG)
    if name == "gradio":
        proto.setup(GRADIO_CONFIG)
    return proto


GRADIO_CONFIG = json.dumps(
    {
        "version": "5.50.0",
        "protocol": "sse_v3",
        "api_prefix": "/gradio_api",
        "components": [
            {"id": 1, "type": "textbox", "props": {"label": "prompt"}},
            {"id": 2, "type": "chatbot", "props": {"type": "messages"}},
            {"id": 3, "type": "textbox", "props": {"label": "output"}},
        ],
        "dependencies": [
            {"id": 0, "api_name": "predict", "show_api": True, "inputs": [1, 2], "outputs": [3, 2]}
        ],
    }
).encode()


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@given(body=bodies)
def test_answer_bodies(name: str, body: bytes) -> None:
    proto = _protocol(name)
    try:
        out = proto.parse_response(body, prompt="the prompt")
    except ProtocolError as exc:
        assert exc.message
        return
    assert isinstance(out, (Generation, RequestSpec, Continue))
    if isinstance(out, Generation):
        assert isinstance(out.text, str)


@pytest.mark.parametrize("name", ["tgi", "openai"])
@given(body=bodies)
def test_chat_and_setup_bodies(name: str, body: bytes) -> None:
    proto = _protocol(name)
    try:
        if name == "openai":
            out = proto.parse_chat_response(body)
            assert isinstance(out.text, str)
        proto.setup(body)
    except ProtocolError:
        pass


@given(body=bodies)
def test_gradio_config(body: bytes) -> None:
    proto = PROTOCOLS["gradio"](CONFIG)
    try:
        proto.setup(body)
    except ProtocolError:
        return
    try:
        spec = proto.build_request("hello", {}, stream=False)
    except ProtocolError:
        return
    data = spec.json["data"]
    assert "hello" in data or {"text": "hello", "files": []} in data


sse_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.tuples(
            st.sampled_from(["", "event: generating\n", "event: complete\n", "event: error\n"]),
            st.one_of(json_values.map(json.dumps), st.text(max_size=30)),
        ),
        max_size=6,
    ).map(lambda evs: "".join(f"{e}data: {d}\n\n" for e, d in evs).encode()),
)


@given(data=sse_bytes, cuts=st.lists(st.integers(0, 300), max_size=5))
def test_sse_decoding_is_split_invariant(data: bytes, cuts: list[int]) -> None:
    whole = SSEDecoder()
    expected = whole.feed(data) + whole.flush()
    pieces, start = [], 0
    for cut in sorted(set(cuts)):
        pieces.append(data[start:cut])
        start = max(start, cut)
    pieces.append(data[start:])
    split = SSEDecoder()
    got: list[SSEEvent] = []
    for piece in pieces:
        got += split.feed(piece)
    got += split.flush()
    assert got == expected


@pytest.mark.parametrize("name", ["tgi", "openai", "gradio"])
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["message", "generating", "complete", "error", "heartbeat"]),
            st.one_of(
                near_answers.map(json.dumps), json_values.map(json.dumps), st.text(max_size=40)
            ),
        ),
        max_size=6,
    )
)
def test_stream_events(name: str, events: list[tuple[str, str]]) -> None:
    parser = _protocol(name).stream_parser(prompt="p")
    try:
        for event, data in events:
            assert isinstance(parser.feed(SSEEvent(event, data)), str)
        assert isinstance(parser.result(), Generation)
    except ProtocolError:
        pass


@given(
    url=st.one_of(
        st.text(max_size=60),
        st.from_regex(r"https?://[a-zA-Z0-9_.\-:@\[\]/?#%]{0,40}", fullmatch=True),
    )
)
def test_url_normalisation(url: str) -> None:
    try:
        out = normalize_space_url(url)
    except SpaceConfigError:
        return
    assert out.startswith(("http://", "https://")) and not out.endswith("/")
    assert normalize_space_url(out) == out  # idempotent


schema_like = st.recursive(
    st.text(max_size=12) | st.integers() | st.none(),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(schema=schema_like)
def test_schema_language(schema: Any) -> None:
    try:
        model = schema_to_model(schema)
    except SchemaError:
        return
    shown = model.model_json_schema()
    ref = shown.get("$ref")
    if "type" not in shown and isinstance(ref, str):  # a $ref to the object's definition
        shown = (shown.get("$defs") or shown.get("definitions") or {})[ref.rsplit("/", 1)[-1]]
    kind = shown.get("type")
    assert kind == "object" or "object" in kind or "properties" in shown


@given(text=st.one_of(st.text(), json_values.map(json.dumps)))
def test_structured_extraction(text: str) -> None:
    model = schema_to_model({"title": "string", "tags": "string[]?"})
    try:
        out = parse_structured(text, model)
    except StructuredParseError as exc:
        assert exc.raw == text
        return
    assert isinstance(out.title, str)  # type: ignore[attr-defined]


@given(value=st.one_of(st.none(), st.text(max_size=40)))
def test_retry_after(value: str | None) -> None:
    out = parse_retry_after(value)
    assert out is None or out >= 0


@given(
    status=st.integers(100, 599),
    body=bodies,
    ctype=st.sampled_from(["", "text/html", "application/json"]),
)
def test_waking_detection(status: int, body: bytes, ctype: str) -> None:
    waking, estimate = is_waking(status, {"content-type": ctype}, body)
    assert isinstance(waking, bool)
    assert estimate is None or estimate >= 0


# ------------------------------------------------- the stream reader at adversarial sizes (#14)
# `make fuzz` (HYPOTHESIS_PROFILE=fuzz) makes the runs 32 times longer.
SCALE = 32 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 1
_pieces = st.sampled_from(
    [b"\n", b"\r", b"\r\n", b": ping\n", b"data: x\n", b"data:y\r\n", b"event: e\r", b"id: 7\n"]
)
adversarial_sse = st.lists(
    st.one_of(
        st.tuples(_pieces, st.integers(1, 2000 * SCALE)).map(lambda p: p[0] * p[1]),
        st.integers(0, 3000 * SCALE).map(lambda n: b"data: " + b"z" * n + b"\n"),
        st.binary(max_size=40),
    ),
    max_size=6,
).map(b"".join)


def _oracle(data: bytes) -> list[SSEEvent]:
    """The WHATWG rules written the plain way, on the whole stream at once."""
    lines = re.split(rb"\r\n|\r|\n", data)
    events, name, chunks, last_id = [], "", [], None
    for raw in [*lines, b""]:
        line = raw.decode("utf-8", "replace")
        if not line:
            if chunks or name:
                events.append(SSEEvent(name or "message", "\n".join(chunks), last_id))
            name, chunks = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            chunks.append(value)
        elif field == "event":
            name = value
        elif field == "id" and "\0" not in value:
            last_id = value
    return events


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    marks = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *marks], [*marks, len(data)], strict=True)]


@given(data=adversarial_sse, cuts=st.lists(st.integers(0, 1 << 30), max_size=40))
def test_sse_decoding_at_adversarial_sizes_matches_the_plain_rules(
    data: bytes, cuts: list[int]
) -> None:
    decoder = SSEDecoder()
    got = [e for piece in _split(data, cuts) for e in decoder.feed(piece)] + decoder.flush()
    assert got == _oracle(data)


@given(
    tokens=st.lists(st.text(max_size=8), min_size=1, max_size=8),
    noise=st.lists(
        st.tuples(
            _pieces.filter(lambda p: p.strip(b"\r\n") in (b"", b": ping")),
            st.integers(1, 500 * SCALE),
        ),
        max_size=8,
    ),
    cuts=st.lists(st.integers(0, 1 << 30), max_size=30),
)
def test_the_stream_reader_gives_the_same_deltas_however_the_bytes_are_cut(
    tokens: list[str], noise: list[tuple[bytes, int]], cuts: list[int]
) -> None:
    from langchain_hf_spaces._stream import StreamReader

    events = [
        b"data: " + json.dumps({"token": {"text": t, "special": False}}).encode() + b"\n\n"
        for t in tokens
    ]
    final = {"token": {"text": "", "special": True}, "generated_text": "".join(tokens)}
    events.append(b"data: " + json.dumps(final).encode() + b"\n\n")
    for i, (blank, n) in enumerate(noise):  # blank lines and heartbeats between the events
        events.insert(i % len(events), blank * n)
    data = b"".join(events)
    reader = StreamReader(PROTOCOLS["tgi"](CONFIG).stream_parser(prompt=""), max_bytes=1 << 30)
    deltas = [d for piece in _split(data, cuts) for d in reader.feed(piece)]
    deltas += [] if reader.done else reader.end()
    assert "".join(deltas) == "".join(tokens) and reader.result().text == "".join(tokens)


@given(
    sizes=st.lists(st.integers(0, 3000 * SCALE), min_size=1, max_size=5),
    kind=st.sampled_from([b"data: ", b": ", b"event: ", b""]),
    cuts=st.lists(st.integers(0, 1 << 30), max_size=20),
    limit=st.integers(16, 4000),
)
def test_huge_lines_stay_bounded_and_give_a_typed_error(
    sizes: list[int], kind: bytes, cuts: list[int], limit: int
) -> None:
    from langchain_hf_spaces._stream import StreamReader
    from langchain_hf_spaces.protocols._sse import SSEError

    data = b"".join(kind + b"q" * n + b"\n" for n in sizes) + b"\n"
    total = sum(n + 1 for n in sizes) if kind == b"data: " else 0  # one event's data
    decoder = SSEDecoder(max_event_bytes=limit)
    try:
        for piece in _split(data, cuts):
            for event in decoder.feed(piece):
                assert len(event.data) <= limit
            assert decoder._pending_len <= limit  # a partial line never grows past the cap
        decoder.flush()
    except SSEError as exc:
        assert "longer than" in str(exc)
        assert max(sizes) + len(kind) > limit or total > limit  # only past a cap
    else:
        assert max(sizes) + len(kind) <= limit and total <= limit
    # The reader turns it into the protocol's typed error (SpaceResponseError for users).
    reader = StreamReader(PROTOCOLS["tgi"](CONFIG).stream_parser(prompt=""), max_bytes=1 << 30)
    reader._decoder = SSEDecoder(max_event_bytes=limit)
    try:
        for piece in _split(data, cuts):
            reader.feed(piece)
        reader.end()
    except (ProtocolError, StreamCut):
        pass
