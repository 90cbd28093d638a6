"""Spaces as tools without a server: the API description of Gradio 3.x/4.x/5.x/6.x apps (their
recorded ``/config``), arguments into input lists, outputs of every shape into results, the
runtime pydantic model, and the tool-call flow stepped by hand over recorded answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from langchain_hf_spaces import SpaceConfig, SpaceInputError, SpaceResponseError
from langchain_hf_spaces._flow import SpaceCore, _typed
from langchain_hf_spaces._space_tools import (
    SpaceAPI,
    SpaceEndpoints,
    _call,
    describe_flow,
    space_client,
    spec_model,
)
from langchain_hf_spaces.protocols import ProtocolError
from langchain_hf_spaces.protocols._gradio_api import (
    call_data,
    describe_app,
    find_tool,
    tool_name,
    tool_result,
)
from langchain_hf_spaces.protocols._gradio_app import GradioApp, parse_config
from tests.test_flow import Script, ok, raw

RECORDED = Path(__file__).parent.parent / "cassettes" / "test_gradio_versions"
MAJORS = ["3", "4", "5", "6"]
URL = "https://acme-tools.hf.space"
PREDICT = {"3": "/predict", "4": "/predict", "5": "/predict", "6": "/answer"}
"""An Interface's API: 6.x names it after the function (``answer``)."""


def recorded(major: str, shape: str) -> list[dict[str, Any]]:
    name = f"test_every_call_kind_gives_what_gradio_client_gives[v{major}-{shape}].yaml"
    return list(yaml.safe_load((RECORDED / name).read_text())["interactions"])


def body(interaction: dict[str, Any]) -> bytes:
    return str(interaction["response"]["body"]["string"]).encode()


def recorded_app(major: str, shape: str) -> tuple[GradioApp, bytes]:
    config = next(i for i in recorded(major, shape) if i["request"]["uri"].endswith("/config"))
    return parse_config(body(config)), body(config)


# ------------------------------------------------------------------- every version
@pytest.mark.parametrize("major", MAJORS)
def test_an_interface_of_every_version_is_described_from_its_config(major: str) -> None:
    app, _ = recorded_app(major, "interface")
    (spec,) = describe_app(app, None, space=URL)  # no /info: the config alone
    assert (spec.api_name, spec.name) == (PREDICT[major], PREDICT[major][1:])
    assert spec.json_schema()["properties"] == {
        "prompt": {"type": "string"},
        "max_new_tokens": {"type": "number", "minimum": 1, "maximum": 256, "default": 16},
    }
    assert spec.json_schema()["required"] == ["prompt"]
    assert spec.description == (
        f"The {PREDICT[major]} API of the Gradio app at {URL}. Takes prompt, max_new_tokens; "
        "returns output."
    )


@pytest.mark.parametrize("major", MAJORS)
def test_blocks_with_two_apis_give_two_tools(major: str) -> None:
    app, _ = recorded_app(major, "blocks_two")
    tools = describe_app(app, None)
    assert [t.name for t in tools] == ["summarize", "shout"]
    assert all(list(t.json_schema()["properties"]) == ["text"] for t in tools)


@pytest.mark.parametrize("major", MAJORS)
def test_hidden_state_is_none_in_the_data_as_the_recording_sent(major: str) -> None:
    interactions = recorded(major, "blocks_chat")
    app = parse_config(body(interactions[0]))
    (spec,) = describe_app(app, None)
    assert list(spec.json_schema()["properties"]) == ["message", "chatbot"]
    sent = next(i for i in interactions if i["request"]["method"] == "POST")
    recorded_data = json.loads(sent["request"]["body"])["data"]
    assert call_data(spec, {"message": "hello world", "chatbot": []}, app) == recorded_data


@pytest.mark.parametrize("major", MAJORS)
def test_unnamed_and_hidden_endpoints_are_not_tools(major: str) -> None:
    app, config = recorded_app(major, "interface")
    assert len(json.loads(config)["dependencies"]) > 1  # the Clear / Flag buttons' events
    assert [t.api_name for t in describe_app(app, None)] == [PREDICT[major]]
    with pytest.raises(ProtocolError, match=r"no public API named '/\w+x'\. Did you mean"):
        find_tool(describe_app(app, None), PREDICT[major] + "x")


# ------------------------------------------------------------------------ the flow
def _endpoints() -> SpaceEndpoints:
    """The endpoints of a Space at ``URL``; the flows are stepped by hand, not by its client."""
    return SpaceEndpoints(space_client(URL, max_retries=0))


def _core() -> SpaceCore:
    return _endpoints().client._core


def test_a_3x_call_stepped_over_its_recording() -> None:
    interactions = recorded("3", "interface")
    run = next(i for i in interactions if i["request"]["uri"].endswith("/run/predict"))
    script = Script([raw(200, body(interactions[0])), raw(404, b"Not Found"), raw(200, body(run))])
    holder = _endpoints()
    core = holder.client._core
    result = script.run(_typed(core, _call(core, holder, "predict", {"prompt": "hello world"})))
    assert result.text == "Gradio answer to: hello world" and result.files == ()
    config, info, call = script.sent
    assert (config.method, config.url) == ("GET", f"{URL}/config")
    assert (info.method, info.url) == ("GET", f"{URL}/info")  # 3.x has none: the config serves
    assert (call.method, call.url) == ("POST", f"{URL}/run/predict")
    assert call.json["data"] == ["hello world", 16] and call.json["fn_index"] == 0


def test_a_6x_call_stepped_over_its_recording() -> None:
    interactions = recorded("6", "interface")
    join, events = interactions[1], interactions[2]
    info = {
        "/answer": {
            "parameters": [
                {"parameter_name": "prompt", "parameter_has_default": False},
                {
                    "parameter_name": "max_tokens",
                    "parameter_has_default": True,
                    "parameter_default": 16,
                },
            ],
            "description": "Answers a prompt.",
        }
    }
    script = Script(
        [
            raw(200, body(interactions[0])),
            ok({"named_endpoints": info}),
            raw(200, body(join)),
            [body(events)],
        ]
    )
    holder = _endpoints()
    core = holder.client._core
    flow = _call(core, holder, "/answer", {"prompt": "hello world", "max_tokens": 16})
    result = script.run(_typed(core, flow))
    assert result.text == "Gradio answer to: hello world"
    assert holder.api is not None
    (spec,) = holder.api.tools
    # /info's names are the function's argument names, and its description leads
    assert [p.name for p in spec.arguments] == ["prompt", "max_tokens"]
    assert spec.description.startswith("Answers a prompt.")
    assert script.sent[1].url == f"{URL}/gradio_api/info"
    assert script.sent[2].json["data"] == ["hello world", 16]


def test_a_config_that_is_not_a_gradio_app_is_a_typed_error() -> None:
    script = Script([ok({"generated_text": "hi"}), raw(404)])
    with pytest.raises(SpaceResponseError, match='no "dependencies"'):
        script.run(describe_flow(_core()))


# ----------------------------------------------------------------------- arguments
def _app(*inputs: dict[str, Any], outputs: tuple[dict[str, Any], ...] = ()) -> GradioApp:
    components = [{"id": i, **c} for i, c in enumerate([*inputs, *outputs])]
    n = len(inputs)
    config = {
        "version": "5.9.0",
        "api_prefix": "/gradio_api",
        "protocol": "sse_v3",
        "components": components,
        "dependencies": [
            {
                "id": 0,
                "api_name": "run",
                "show_api": True,
                "inputs": list(range(n)),
                "outputs": list(range(n, len(components))),
            }
        ],
    }
    return parse_config(json.dumps(config).encode())


def test_file_inputs_take_urls_as_file_data() -> None:
    app = _app({"type": "image", "props": {"label": "Photo"}})
    (spec,) = describe_app(app, None)
    assert spec.json_schema()["properties"]["photo"]["format"] == "uri"
    url = "https://example.org/cat.png"
    assert call_data(spec, {"photo": url}, app) == [
        {"path": url, "url": url, "orig_name": "cat.png", "meta": {"_type": "gradio.FileData"}}
    ]
    for local in ("/home/me/cat.png", "data:image/png;base64,AAAA"):
        with pytest.raises(ProtocolError, match=r"must be the http\(s\) URL of the file"):
            call_data(spec, {"photo": local}, app)
    app3, _ = recorded_app("3", "interface")
    with pytest.raises(ProtocolError, match=r"file inputs of Gradio 3\.x apps are not supported"):
        call_data(spec, {"photo": url}, app3)


def test_checkbox_groups_multiselects_and_integers() -> None:
    app = _app(
        {"type": "checkboxgroup", "props": {"label": "Tags", "choices": [["A", "a"], ["B", "b"]]}},
        {"type": "checkbox", "props": {"label": "Loud", "value": False}},
        {"type": "number", "props": {"label": "N", "precision": 0, "value": 2}},
    )
    (spec,) = describe_app(app, None)
    props = spec.json_schema()["properties"]
    assert props["tags"] == {"type": "array", "items": {"enum": ["a", "b"], "type": "string"}}
    assert props["loud"] == {"type": "boolean", "default": False}
    assert props["n"] == {"type": "integer", "default": 2}
    assert call_data(spec, {"tags": ["b"], "n": 3.0}, app) == [["b"], False, 3]
    with pytest.raises(
        ProtocolError, match=r'tags=\["c"\] holds "c", which must be one of "a", "b"'
    ):
        call_data(spec, {"tags": ["c"]}, app)
    with pytest.raises(
        ProtocolError, match=r"loud=1 must be true or false; n=2\.5 must be an integer"
    ):
        call_data(spec, {"tags": [], "n": 2.5, "loud": 1}, app)
    with pytest.raises(ProtocolError, match="must be a dict"):
        call_data(spec, ["a"], app)


# ------------------------------------------------------------------------- outputs
def test_file_outputs_of_every_shape() -> None:
    app = _app(
        {"type": "textbox", "props": {"label": "q"}},
        outputs=(
            {"type": "image", "props": {}},
            {"type": "gallery", "props": {}},
            {"type": "label", "props": {}},
            {"type": "state", "props": {}},
            {"type": "file", "props": {}},
        ),
    )
    (spec,) = describe_app(app, None)
    meta = {"_type": "gradio.FileData"}
    data = [
        {"path": "/tmp/gradio/x/out.png", "url": None, "meta": meta},
        [{"image": {"path": "/tmp/a.jpg", "url": f"{URL}/gradio_api/file=/tmp/a.jpg"}}],
        {"label": "cat", "confidences": [{"label": "cat", "confidence": 0.9}]},
        {"secret": "state"},
        {"name": "/tmp/report.pdf", "is_file": True, "data": None},
    ]
    result = tool_result(spec, data, app, base=URL)
    png, jpg, pdf = result.files
    assert (png.url, png.mime_type) == (f"{URL}/gradio_api/file=/tmp/gradio/x/out.png", "image/png")
    assert (jpg.mime_type, jpg.component) == ("image/jpeg", "gallery")
    assert (pdf.url, pdf.mime_type) == (f"{URL}/file=/tmp/report.pdf", "application/pdf")  # 3.x
    lines = result.text.splitlines()
    assert lines[0] == f"image/png: {png.url}" and lines[1] == f"image/jpeg: {jpg.url}"
    assert json.loads(lines[2])["label"] == "cat"
    assert "secret" not in result.text  # state outputs are not shown
    assert result.data == tuple(data)


def test_a_data_url_image_is_kept_out_of_the_text() -> None:
    app = _app({"type": "textbox", "props": {}}, outputs=({"type": "image", "props": {}},))
    (spec,) = describe_app(app, None)
    inline = "data:image/png;base64," + "A" * 5000
    result = tool_result(spec, [inline], app, base=URL)
    assert result.files[0].url == inline and result.files[0].mime_type == "image/png"
    assert len(result.text) < 200 and "inline data URL" in result.text


def test_tool_names_are_what_model_apis_accept() -> None:
    assert tool_name("/predict") == "predict"
    assert tool_name("/lambda 1/x!") == "lambda_1_x"
    assert tool_name("/") == "predict"
    assert len(tool_name("/" + "a" * 100)) == 64


# -------------------------------------------------------------------- pydantic model
def test_the_runtime_model_has_types_enums_defaults_and_aliases() -> None:
    app = _app(
        {"type": "textbox", "props": {"label": "schema"}},
        {"type": "dropdown", "props": {"label": "Mode", "choices": ["a", "b"], "value": "a"}},
        {"type": "slider", "props": {"label": "Size", "minimum": 1, "maximum": 4, "value": 2}},
    )
    (spec,) = describe_app(app, None)
    model = spec_model(spec)
    schema = model.model_json_schema()
    assert schema["required"] == ["schema"]
    assert schema["properties"]["mode"]["enum"] == ["a", "b"]
    assert schema["properties"]["mode"]["default"] == "a"
    assert (schema["properties"]["size"]["minimum"], schema["properties"]["size"]["maximum"]) == (
        1,
        4,
    )
    assert model.model_validate({"schema": "x"}).model_dump(by_alias=True) == {
        "schema": "x",
        "mode": "a",
        "size": 2,
    }
    with pytest.raises(ValidationError):
        model.model_validate({"schema": "x", "mode": "c"})


def test_an_unknown_api_name_through_the_endpoints_is_typed() -> None:
    app, _ = recorded_app("5", "blocks_two")
    holder = _endpoints()
    api = SpaceAPI(app, describe_app(app, None))
    with pytest.raises(SpaceInputError, match="Did you mean '/shout'") as info:
        holder.spec(api, "/shot")
    assert info.value.url == URL and "/summarize, /shout" in info.value.message


def test_a_sleeping_space_is_woken_before_its_api_is_read() -> None:
    """The same waking as every call: the description's first request waits for the Space."""
    from tests.test_flow import HTML_SLEEPING, FakeClock

    _, config = recorded_app("4", "interface")
    clock = FakeClock()
    asleep = [raw(503, HTML_SLEEPING, **{"content-type": "text/html"})] * 2
    script = Script([*asleep, raw(200, config), raw(404)], clock)
    settings = SpaceConfig(
        url=URL, protocol="gradio", max_retries=0, wake_poll_interval=2.0, wake_timeout=60
    )
    api = script.run(describe_flow(SpaceCore(settings, "tool", clock=clock)))
    assert [t.api_name for t in api.tools] == ["/predict"]
    assert [e.reason for e in script.events] == ["waking", "waking"]
    assert [s.url for s in script.sent] == [f"{URL}/config"] * 3 + [f"{URL}/info"]


def test_a_redeployed_app_is_described_again_once() -> None:
    """A 404 on a known API (a new deploy renamed it): the description is read again."""
    _, old = recorded_app("3", "blocks_two")
    _, new = recorded_app("3", "interface")
    run = next(i for i in recorded("3", "interface") if i["request"]["uri"].endswith("/predict"))
    holder = _endpoints()
    core = holder.client._core
    first = Script([raw(200, old), raw(404)])
    holder.api = first.run(describe_flow(core))
    # the old app had /shout; the new one has it no more: the flow re-reads and names it
    script = Script([raw(404), raw(200, new), raw(404)])
    with pytest.raises(SpaceInputError, match="no public API named '/shout'"):
        script.run(_typed(core, _call(core, holder, "/shout", {"text": "hi"})))
    assert [s.url for s in script.sent] == [f"{URL}/run/shout", f"{URL}/config", f"{URL}/info"]
    assert holder.api is not None and [t.api_name for t in holder.api.tools] == ["/predict"]
    again = Script([raw(200, body(run))])
    result = again.run(_typed(core, _call(core, holder, "/predict", {"prompt": "hello world"})))
    assert result.text == "Gradio answer to: hello world"
