"""Constructor arguments that are not fields (#15, item 5).

As LangChain's ``HuggingFaceEndpoint.build_extra``: an unknown argument goes to
``model_kwargs`` (sent to the Space) with a warning; a near miss of one of our fields is an
error naming it; ``model=`` on an ``openai`` Space is the model name sent. Before, all three
were dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.runnables import ConfigurableField

from langchain_hf_spaces import ChatHuggingFaceSpace, HuggingFaceSpaceLLM, SpaceConfigError
from langchain_hf_spaces.testing import LocalSpace

MODELS = [HuggingFaceSpaceLLM, ChatHuggingFaceSpace]


def reply(prompt: str, parameters: dict[str, Any]) -> str:
    return "ok"


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base", responder=reply) as s:
        yield s


@pytest.mark.parametrize("cls", MODELS)
def test_unknown_arguments_go_to_model_kwargs_with_a_warning(
    space: LocalSpace, cls: type[Any]
) -> None:
    space.clear_requests()
    with pytest.warns(UserWarning, match="'typical_p' is not one of its fields.*model_kwargs"):
        model = cls(space_url=space.url, typical_p=0.9, model_kwargs={"watermark": True})
    assert model.model_kwargs == {"watermark": True, "typical_p": 0.9}
    model.invoke("hi")
    sent = space.last_request
    assert sent is not None and sent.json is not None
    assert sent.json["parameters"]["typical_p"] == 0.9
    assert sent.json["parameters"]["watermark"] is True


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize(
    ("given", "closest"),
    [("temprature", "temperature"), ("max_token", "max_tokens"), ("modle", "model")],
)
def test_a_misspelt_field_is_an_error_naming_the_closest(
    space: LocalSpace, cls: type[Any], given: str, closest: str
) -> None:
    with pytest.raises(SpaceConfigError, match=f"{given!r}; did you mean {closest!r}"):
        cls(space_url=space.url, **{given: 1})


@pytest.mark.parametrize("cls", MODELS)
def test_an_argument_given_twice_is_an_error(space: LocalSpace, cls: type[Any]) -> None:
    with pytest.raises(SpaceConfigError, match="'typical_p' twice"):
        cls(space_url=space.url, typical_p=0.9, model_kwargs={"typical_p": 0.5})


def test_eos_token_is_sent_to_the_space_with_a_warning(space: LocalSpace) -> None:
    with pytest.warns(UserWarning, match="'eos_token'"):
        llm = HuggingFaceSpaceLLM(space_url=space.url, eos_token="</s>")
    assert llm.model_kwargs == {"eos_token": "</s>"}


def test_model_names_the_model_sent_to_an_openai_space(space: LocalSpace) -> None:
    space.clear_requests()
    chat = ChatHuggingFaceSpace(space_url=space.url, protocol="openai", model="acme/my-model")
    assert chat.invoke("hi").content == "ok"
    sent = [r for r in space.requests if r.path == "/v1/chat/completions"]
    assert sent and sent[-1].json is not None and sent[-1].json["model"] == "acme/my-model"
    assert chat._get_ls_params()["ls_model_name"] == "acme/my-model"
    # no model request was needed to find the name
    assert not [r for r in space.requests if r.path == "/v1/models"]


def test_configurable_copies_warn_no_more(space: LocalSpace, recwarn: Any) -> None:
    with pytest.warns(UserWarning):
        llm = HuggingFaceSpaceLLM(space_url=space.url, typical_p=0.9)
    recwarn.clear()
    conf = llm.configurable_fields(temperature=ConfigurableField(id="temperature"))
    assert conf.invoke("hi", config={"configurable": {"temperature": 0.2}}) == "ok"
    assert not [w for w in recwarn.list if issubclass(w.category, UserWarning)]
