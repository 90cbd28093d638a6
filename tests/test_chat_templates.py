"""#15.7: Jinja2 chat templates in transformers' environment; bos/eos; end-of-turn markers."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from langchain_hf_spaces._chat_templates import (
    ChatTemplateError,
    chat_template,
    template_end_markers,
)
from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.testing import LocalSpace, scripted_responder

TEMPLATES: dict[str, str] = json.loads(
    (Path(__file__).parent / "data" / "chat_templates.json").read_text(encoding="utf-8")
)["templates"]
USER = [{"role": "user", "content": "Hi"}]
CHAT = [*USER, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}]

# (template, bos, eos, expected end-of-turn markers, text the rendered prompt ends with)
CASES = {
    "llama3.1": ("<|begin_of_text|>", "<|eot_id|>", ("<|eot_id|>",), "<|end_header_id|>\n\n"),
    "qwen2.5": ("", "<|im_end|>", ("<|im_end|>",), "<|im_start|>assistant\n"),
    "mistral-v0.3": ("<s>", "</s>", ("</s>",), "[INST] Bye[/INST]"),
    "gemma-2": ("<bos>", "<eos>", ("<end_of_turn>",), "<start_of_turn>model\n"),
    "zephyr": ("", "</s>", ("</s>",), "<|assistant|>\n"),
    "smollm2": ("", "<|im_end|>", ("<|im_end|>",), "<|im_start|>assistant\n"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_family_templates_render_with_bos_eos_and_markers(name: str) -> None:
    bos, eos, markers, tail = CASES[name]
    template = chat_template(TEMPLATES[name], bos_token=bos, eos_token=eos)
    prompt = template(CHAT)
    assert prompt.endswith(tail)
    assert prompt.startswith(bos)
    for marker in markers:
        assert marker in template.end_of_turn
    assert "Hello!" in prompt and "Bye" in prompt


def test_llama_template_uses_strftime_now_and_loop_controls() -> None:
    prompt = chat_template(TEMPLATES["llama3.1"], bos_token="<|begin_of_text|>")(USER)
    assert f"Today Date: {datetime.now().strftime('%d %b %Y')}" in prompt
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>system")


def test_tojson_is_transformers_tojson() -> None:
    t = chat_template("{{ messages[0] | tojson }}|{{ {'b': 1, 'a': '<é>'} | tojson(indent=2) }}")
    out = t([{"role": "user", "content": "<b>&"}])
    assert out.startswith('{"role": "user", "content": "<b>&"}|')  # no HTML escaping
    assert out.endswith('{\n  "b": 1,\n  "a": "<é>"\n}')  # key order kept, non-ASCII kept


@pytest.mark.parametrize(
    ("name", "messages", "problem"),
    [
        ("gemma-2", [{"role": "system", "content": "S"}, *USER], "System role not supported"),
        ("mistral-v0.3", [*USER, *USER], "roles must alternate"),
    ],
)
def test_raise_exception_is_a_typed_error_with_a_hint(
    name: str, messages: list[dict[str, str]], problem: str
) -> None:
    with pytest.raises(ChatTemplateError, match=problem) as info:
        chat_template(TEMPLATES[name])(messages)
    assert "chat_template" in str(info.value.hint)


def test_markers_named_by_templates() -> None:
    assert template_end_markers("{{ '<|im_end|>' }}") == ("<|im_end|>",)
    assert template_end_markers("{{ eos_token }}", eos_token="</s>") == ("</s>",)
    assert template_end_markers("{{ x }}") == ()


def test_reply_is_cut_at_the_templates_end_of_turn() -> None:
    leaked = "Sure thing.<end_of_turn>\n<start_of_turn>user\nmore"
    with LocalSpace(responder=scripted_responder([leaked])) as space:
        chat = ChatHuggingFaceSpace(
            space_url=space.url, chat_template=TEMPLATES["gemma-2"], bos_token="<bos>"
        )
        assert chat.invoke("Hi").content == "Sure thing."
        sent: Any = space.last_request.json
        assert sent["inputs"].startswith("<bos><start_of_turn>user\nHi<end_of_turn>")
        assert "<end_of_turn>" in sent["parameters"]["stop"]


def test_eos_token_setting_reaches_the_template() -> None:
    with LocalSpace(responder=scripted_responder(["Ok</s>leak"])) as space:
        chat = ChatHuggingFaceSpace(
            space_url=space.url, chat_template=TEMPLATES["zephyr"], eos_token="</s>"
        )
        assert chat.invoke("Hi").content == "Ok"
        assert space.last_request.json["inputs"].startswith("<|user|>\nHi</s>")
