"""LangChain inspects ``_generate``'s signature on every call; ours carry it precomputed
(``_lc_base._presign``). It must be the method's real signature, for subclasses too."""

from __future__ import annotations

import inspect
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.outputs import Generation, LLMResult

from langchain_hf_spaces import ChatHuggingFaceSpace, HuggingFaceSpaceLLM, SpaceConfig


def _from_code(func: Any) -> inspect.Signature:
    """The signature ``inspect`` derives when none is precomputed."""
    kept = func.__dict__.pop("__signature__")
    try:
        return inspect.signature(func)
    finally:
        func.__signature__ = kept


def test_our_methods_carry_their_own_signature() -> None:
    for cls in (HuggingFaceSpaceLLM, ChatHuggingFaceSpace):
        for name in ("_generate", "_agenerate"):
            func = cls.__dict__[name]
            assert "__signature__" in func.__dict__, (cls.__name__, name)
            assert func.__signature__ == _from_code(func)
            assert "run_manager" in func.__signature__.parameters


class _Old(HuggingFaceSpaceLLM):
    """A user's subclass whose ``_generate`` takes no ``run_manager`` (the old signature)."""

    def _generate(self, prompts: list[str], stop: list[str] | None = None) -> LLMResult:  # type: ignore[override]
        return LLMResult(generations=[[Generation(text=f"old:{p}")] for p in prompts])


class _New(HuggingFaceSpaceLLM):
    seen: list[Any] = []

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        self.seen.append(run_manager)
        return LLMResult(generations=[[Generation(text=f"new:{p}")] for p in prompts])


def test_a_subclass_is_called_as_its_own_signature_says() -> None:
    assert "run_manager" not in _Old.__dict__["_generate"].__signature__.parameters
    old = _Old(space=SpaceConfig(url="http://127.0.0.1:9"))
    assert old.invoke("hi") == "old:hi"  # no run_manager passed: it would raise TypeError
    new = _New(space=SpaceConfig(url="http://127.0.0.1:9"))
    assert new.invoke("hi") == "new:hi"
    assert isinstance(new.seen[-1], CallbackManagerForLLMRun)
