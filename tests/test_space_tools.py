"""Gradio Spaces as tools, live against a real Gradio 6 app on loopback (the dev extra's).

The app (``tests/support/gradio_tools_app.py``) has a text tool with a Number default, a tool
with a Dropdown and a Radio, one returning a PNG, one raising ``gr.Error``, one with a hidden
``gr.State`` input, a private endpoint and an unnamed one. LangChain's ``SpaceTool`` and the
LlamaIndex factory are checked on names, schemas, enums, defaults, sync and async calls, file
outputs and errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_hf_spaces import (
    SpaceClient,
    SpaceConfig,
    SpaceInputError,
    SpaceResponseError,
    SpaceTool,
)
from langchain_hf_spaces.tools import SpaceToolError, SpaceToolResult
from tests.support.gradio_tools_app import FAIL_MESSAGE

FAST: dict[str, Any] = {"retry_initial_delay": 0.01, "max_retries": 0}
PUBLIC = ["/reverse", "/translate", "/swatch", "/fail", "/count", "/auth"]


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    from tests.support.gradio_tools_app import running_tools_app

    with running_tools_app() as url:
        yield url


def call(tool: SpaceTool, args: dict[str, Any], call_id: str = "call_1") -> ToolMessage:
    message = tool.invoke({"type": "tool_call", "id": call_id, "name": tool.name, "args": args})
    assert isinstance(message, ToolMessage)
    return message


# ------------------------------------------------------------------ descriptions
def test_a_text_tool_is_described_from_the_app(app_url: str) -> None:
    tool = SpaceTool.from_space(app_url, api_name="/reverse", **FAST)
    assert (tool.name, tool.api_name, tool.space_url) == ("reverse", "/reverse", app_url)
    # the function's docstring (gradio's /info) opens the description
    assert tool.description.startswith("Reverse a text, and repeat it.")
    assert tool.args_schema == {
        "type": "object",
        "title": "reverse",
        "description": tool.description,
        "properties": {"text": {"type": "string"}, "times": {"type": "integer", "default": 1}},
        "required": ["text"],
    }
    assert tool.response_format == "content_and_artifact"


def test_dropdowns_and_radios_are_enums(app_url: str) -> None:
    tool = SpaceTool.from_space(app_url, api_name="translate", **FAST)
    spec = convert_to_openai_tool(tool)["function"]
    assert spec["name"] == "translate"
    assert spec["description"].startswith("Translate a text into another language.")
    props = spec["parameters"]["properties"]
    assert props["language"] == {
        "enum": ["French", "German", "Italian"],
        "type": "string",
        "default": "French",
    }
    assert props["register"] == {"enum": ["formal", "casual"], "type": "string"}
    # a Radio without a value is required; a Dropdown with one is not
    assert spec["parameters"]["required"] == ["text", "register"]


def test_slider_bounds_and_hidden_state(app_url: str) -> None:
    tools = {t.api_name: t for t in SpaceTool.list(app_url, **FAST)}
    swatch = tools["/swatch"].args_schema
    assert isinstance(swatch, dict)
    size = swatch["properties"]["size"]
    assert (size["minimum"], size["maximum"], size["default"]) == (1, 64, 8)
    assert swatch["required"] == []
    count = tools["/count"].args_schema
    assert isinstance(count, dict) and list(count["properties"]) == ["text"]  # no gr.State


def test_list_skips_private_and_unnamed_endpoints(app_url: str) -> None:
    tools = SpaceTool.list(app_url, **FAST)
    assert [t.api_name for t in tools] == PUBLIC
    assert len({t.name for t in tools}) == len(tools)
    # one client, one read of the API description, for all of them
    assert len({id(t._endpoints) for t in tools}) == 1


async def test_async_constructors(app_url: str) -> None:
    tool = await SpaceTool.afrom_space(app_url, api_name="/reverse", **FAST)
    assert tool.name == "reverse"
    assert [t.api_name for t in await SpaceTool.alist(app_url, **FAST)] == PUBLIC


# ------------------------------------------------------------------------ calls
def test_text_tool_sync_with_and_without_the_default(app_url: str) -> None:
    tool = SpaceTool.from_space(app_url, api_name="/reverse", **FAST)
    assert tool.invoke({"text": "abc"}) == "cba"
    assert tool.invoke({"text": "abc", "times": 3}) == "cbacbacba"
    message = call(tool, {"text": "hello", "times": 2})
    assert message.content == "olleholleh" and message.status == "success"
    assert isinstance(message.artifact, SpaceToolResult)
    assert message.artifact.data == ("olleholleh",) and message.artifact.files == ()


async def test_choices_tool_async(app_url: str) -> None:
    tool = SpaceTool.from_space(app_url, api_name="/translate", **FAST)
    assert await tool.ainvoke({"text": "hi", "register": "casual"}) == "[French, casual] hi"
    args = {"text": "hi", "language": "German", "register": "formal"}
    message = await tool.ainvoke({"type": "tool_call", "id": "c", "name": tool.name, "args": args})
    assert message.content == "[German, formal] hi"


def test_hidden_state_is_sent_as_none_and_the_app_default_applies(app_url: str) -> None:
    tool = SpaceTool.from_space(app_url, api_name="/count", **FAST)
    assert tool.invoke({"text": "seen"}) == "seen (7)"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_image_output_comes_back_as_a_url_with_its_mime_type(
    app_url: str, mode: str
) -> None:
    tool = SpaceTool.from_space(app_url, api_name="/swatch", **FAST)
    payload = {"type": "tool_call", "id": "img", "name": "swatch", "args": {"colour": "blue"}}
    message = call(tool, payload["args"]) if mode == "sync" else await tool.ainvoke(payload)
    result = message.artifact
    assert isinstance(result, SpaceToolResult)
    (image,) = result.files
    assert image.mime_type == "image/png" and image.component == "image"
    assert image.url is not None and image.url.startswith(f"{app_url}/gradio_api/file=")
    assert image.path is not None and image.url.endswith(image.path.rsplit("/", 1)[-1])
    assert message.content == f"image/png: {image.url}"  # what the model reads
    png = httpx.get(image.url).content
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from io import BytesIO

    from PIL import Image

    picture = Image.open(BytesIO(png))
    assert picture.size == (8, 8) and picture.getpixel((0, 0))[:3] == (0, 0, 255)


def test_name_and_description_can_be_replaced(app_url: str) -> None:
    tool = SpaceTool.from_space(
        app_url, api_name="/reverse", name="mirror", description="Mirrors text.", **FAST
    )
    assert (tool.name, tool.description, tool.api_name) == ("mirror", "Mirrors text.", "/reverse")
    assert convert_to_openai_tool(tool)["function"]["name"] == "mirror"
    assert call(tool, {"text": "ab"}).content == "ba"


def test_a_space_client_or_config_can_be_given(app_url: str) -> None:
    client = SpaceClient(SpaceConfig(url=app_url, protocol="gradio", **FAST), tier="tools")
    assert SpaceTool.from_space(client, api_name="/reverse").invoke({"text": "ab"}) == "ba"
    config = SpaceConfig(url=app_url, **FAST)
    assert SpaceTool.from_space(config, api_name="/reverse").invoke({"text": "xy"}) == "yx"


# ----------------------------------------------------------------------- errors
def test_a_gr_error_is_a_typed_error_with_its_message(app_url: str) -> None:
    tool = SpaceTool.from_space(app_url, api_name="/fail", **FAST)
    with pytest.raises(SpaceResponseError, match=f"raised an error: {FAIL_MESSAGE}") as info:
        tool.invoke({"text": "x"})
    assert info.value.url == app_url and info.value.tier == "tool"


async def test_with_handle_tool_error_the_model_gets_the_message(app_url: str) -> None:
    tool = SpaceTool.from_space(app_url, api_name="/fail", handle_tool_error=True, **FAST)
    message = call(tool, {"text": "x"})
    assert message.status == "error" and FAIL_MESSAGE in str(message.content)
    amessage = await tool.ainvoke({"type": "tool_call", "id": "a", "name": "fail", "args": {}})
    assert amessage.status == "error" and "missing required argument(s) 'text'" in str(
        amessage.content
    )
    # without a handler, the exception is a ToolException carrying the typed error
    bare = SpaceTool.from_space(app_url, api_name="/fail", handle_tool_error=False, **FAST)
    with pytest.raises(SpaceResponseError):
        bare.invoke({"text": "x"})
    assert issubclass(SpaceToolError, Exception)


def test_an_unknown_api_name_lists_the_known_ones(app_url: str) -> None:
    with pytest.raises(SpaceInputError, match="no public API named '/translat'") as info:
        SpaceTool.from_space(app_url, api_name="translat", **FAST)
    assert "Did you mean '/translate'?" in info.value.message
    assert ", ".join(PUBLIC) in info.value.message
    with pytest.raises(SpaceInputError, match="no public API named '/secret'"):
        SpaceTool.from_space(app_url, api_name="/secret", **FAST)


def test_arguments_the_app_does_not_take_are_refused_before_sending(app_url: str) -> None:
    tool = SpaceTool.from_space(app_url, api_name="/translate", **FAST)
    with pytest.raises(SpaceInputError) as info:
        tool.invoke({"text": 3, "langage": "French", "register": "rude"})
    message = info.value.message
    assert "unknown argument 'langage' (did you mean 'language'?)" in message
    assert "text=3 must be a string" in message
    assert 'register="rude" must be one of "formal", "casual"' in message
    swatch = SpaceTool.from_space(app_url, api_name="/swatch", **FAST)
    with pytest.raises(SpaceInputError, match="size=100 must be at most 64"):
        swatch.invoke({"size": 100})


def test_a_tool_error_carries_the_typed_error(app_url: str) -> None:
    tool = SpaceTool.from_space(app_url, api_name="/fail", handle_tool_error=True, **FAST)
    with pytest.raises(SpaceToolError) as info:
        tool._run(text="x")
    assert isinstance(info.value.error, SpaceResponseError)
    assert info.value.__cause__ is info.value.error


# -------------------------------------------------------------------- LlamaIndex
def test_llama_index_tools_from_the_same_description(app_url: str) -> None:
    from llama_index_hf_spaces.tools import space_tool, space_tools

    tool = space_tool(app_url, api_name="/translate", **FAST)
    meta = tool.metadata
    assert meta.name == "translate"
    assert meta.description.startswith("Translate a text into another language.")
    params = meta.get_parameters_dict()
    assert params["required"] == ["text", "register"]
    assert params["properties"]["language"]["enum"] == ["French", "German", "Italian"]
    assert params["properties"]["language"]["default"] == "French"
    assert params["properties"]["register"]["enum"] == ["formal", "casual"]
    output = tool.call(text="hi", register="formal")
    assert output.content == "[French, formal] hi" and not output.is_error
    assert [t.metadata.name for t in space_tools(app_url, **FAST)] == [n.strip("/") for n in PUBLIC]


async def test_llama_index_async_and_file_outputs(app_url: str) -> None:
    from llama_index_hf_spaces.tools import space_tool

    tool = space_tool(app_url, api_name="/swatch", name="paint", description="A swatch.")
    assert (tool.metadata.name, tool.metadata.description) == ("paint", "A swatch.")
    output = await tool.acall(colour="green", size=2)
    result = output.raw_output
    assert isinstance(result, SpaceToolResult)
    (image,) = result.files
    assert image.mime_type == "image/png" and output.content == f"image/png: {image.url}"
    with pytest.raises(SpaceInputError, match='colour="pink" must be one of'):
        await tool.acall(colour="pink")


def test_the_token_is_sent_as_the_client_sends_it_and_never_shown(app_url: str) -> None:
    token = "hf_TOOLSsecretABCDEFGHIJKLMNOPQR"
    tool = SpaceTool.from_space(app_url, api_name="/auth", token=token, **FAST)
    # both headers gradio_client sends, as for every Gradio call of the package
    assert tool.invoke({"text": "x"}) == "authorization,x-hf-authorization"
    anonymous = SpaceTool.from_space(app_url, api_name="/auth", **FAST)
    assert anonymous.invoke({"text": "x"}) == "(the Space returned no output)"  # no token
    failing = SpaceTool.from_space(app_url, api_name="/fail", token=token, **FAST)
    with pytest.raises(SpaceResponseError) as info:
        failing.invoke({"text": "x"})
    shown = [repr(tool), str(tool.args_schema), tool.description, str(info.value)]
    assert not any(token in text for text in shown)
