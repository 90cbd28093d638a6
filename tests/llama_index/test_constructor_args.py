"""Unknown constructor arguments (#15.5): a misspelt field is an error naming the closest
field; other extra arguments go to ``additional_kwargs`` (sent to the Space as generation
parameters, like ``OpenAILike.additional_kwargs``) with a warning; ``model=`` names the model
sent to an openai Space."""

from __future__ import annotations

import warnings

import pytest

from langchain_hf_spaces import SpaceClient, SpaceConfig, SpaceConfigError
from langchain_hf_spaces.testing import LocalSpace, scripted_responder
from llama_index_hf_spaces import HuggingFaceSpaceLLM

URL = "https://acme-base-llm.hf.space"


@pytest.mark.parametrize(
    ("wrong", "right"),
    [
        ("modle", "model"),
        ("temprature", "temperature"),
        ("max_new_token", "max_new_tokens"),
        ("chat_templat", "chat_template"),
        ("contex_window", "context_window"),
    ],
)
def test_a_misspelt_field_is_an_error_naming_the_closest(wrong: str, right: str) -> None:
    with pytest.raises(SpaceConfigError, match=f"{wrong!r}; did you mean {right!r}") as info:
        HuggingFaceSpaceLLM(space=SpaceConfig(url=URL), **{wrong: 1})
    assert info.value.url == URL and "additional_kwargs" in str(info.value)


def test_extra_arguments_go_to_the_space_with_a_warning() -> None:
    with LocalSpace(responder=scripted_responder(["ok"])) as space:
        with pytest.warns(UserWarning, match=r"'eos_token', 'typical_p' are not fields"):
            llm = HuggingFaceSpaceLLM(
                space=SpaceConfig(url=space.url), eos_token="</s>", typical_p=0.5
            )
        assert llm.additional_kwargs == {"eos_token": "</s>", "typical_p": 0.5}
        llm.complete("Hi", typical_p=0.7)  # a call's own value wins
        assert space.requests[-1].json["parameters"] == {"eos_token": "</s>", "typical_p": 0.7}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said explicitly: no warning
        HuggingFaceSpaceLLM(space=SpaceConfig(url=URL), additional_kwargs={"typical_p": 0.5})
        assert HuggingFaceSpaceLLM(space=SpaceConfig(url=URL), max_tokens=9).max_new_tokens == 9


def test_model_sets_the_model_sent_to_an_openai_space() -> None:
    with LocalSpace(responder=scripted_responder(["hello"])) as space:
        cfg = SpaceConfig(url=space.url, protocol="openai")
        llm = HuggingFaceSpaceLLM(space=cfg, model="my-org/my-model")
        assert llm.space is not None and llm.space.model == "my-org/my-model"
        llm.complete("Hi")
        (call,) = [r for r in space.requests if r.path == "/v1/chat/completions"]
        assert call.json["model"] == "my-org/my-model"
    client = SpaceClient(SpaceConfig(url=URL, protocol="openai", model="a"))
    with pytest.raises(SpaceConfigError, match="client's SpaceConfig"):
        HuggingFaceSpaceLLM(client=client, model="b")
