"""The common base of the LangChain models: fields, Space resolution and shared plumbing.

:class:`~langchain_hf_spaces.HuggingFaceSpaceLLM` and
:class:`~langchain_hf_spaces.ChatHuggingFaceSpace` derive from :class:`_SpaceModelBase` (next to
their LangChain base class). The runnables of :mod:`langchain_hf_spaces.runnables` depend on this
base only: each model implements the two hooks they use (:meth:`_SpaceModelBase._structured_prompt`
and :meth:`_SpaceModelBase._variations_request`), so no LangChain module imports another in a loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import LangSmithParams
from langchain_core.runnables.config import var_child_runnable_config
from langchain_core.utils import secret_from_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)
from typing_extensions import Self

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._inputs import render_prompt
from langchain_hf_spaces._keys import PROMPT_KEYS
from langchain_hf_spaces._params import (
    GENERATION_PARAMETERS,
    DoSample,
    MaxNewTokens,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopP,
)
from langchain_hf_spaces.client import SpaceAnswer, SpaceClient
from langchain_hf_spaces.config import SpaceConfig, SpacesSettings
from langchain_hf_spaces.errors import HFSpacesError, SpaceInputError, SpacesDisabledError

__all__ = ["LS_PROVIDER", "VariationsRequest", "aclose_stream", "answer_info"]

LS_PROVIDER = "huggingface_spaces"
"""The provider name in tracing parameters and chat metadata."""


@dataclass(frozen=True, slots=True)
class VariationsRequest:
    """What :class:`~langchain_hf_spaces.SpaceVariationsRunnable` sends for one input."""

    client: SpaceClient
    prompt: str
    params: dict[str, Any]
    cut_markers: tuple[str, ...]
    """Markers each answer is cut at (stop sequences, a chat template's end of turn)."""


def answer_info(answer: SpaceAnswer, *, cut: bool = False) -> dict[str, Any]:
    """``generation_info`` / ``response_metadata`` of an answer: :attr:`SpaceAnswer.metadata`,
    with ``finish_reason="stop"`` when a stop sequence cut the text on our side."""
    info = answer.metadata
    if cut:
        info["finish_reason"] = "stop"
    return info


async def aclose_stream(stream: AsyncIterator[Any]) -> None:
    """Close an async stream of the client early (frees its connection)."""
    if isinstance(stream, AsyncGenerator):
        await stream.aclose()


class _SpaceModelBase(BaseModel):
    """Fields and plumbing shared by the LLM and the chat model (no LangChain base class here)."""

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Serialisation writes the environment variable's name, never the token."""
        return {"hf_token": "HF_TOKEN"}

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=()
    )

    tier: str | None = None
    """Tier to use; default: the settings' ``default_tier`` (``base``)."""
    space_url: str | None = None
    """Space URL, when not taken from settings (``https://huggingface.co/spaces/u/n`` works)."""
    endpoint: str | None = None
    """Generate path, default ``/api/generate``."""
    protocol: str | None = None
    """Wire protocol: ``generate``, ``tgi``, ``gradio``, ``openai`` or ``auto``."""
    revision: str | None = None
    """Model revision, reported in metadata and traces."""
    hf_token: SecretStr | None = Field(
        alias="api_key", default_factory=secret_from_env("HF_TOKEN", default=None)
    )
    """Hugging Face token. Env: ``HF_TOKEN``. A token set on the tier in settings wins over
    ``HF_TOKEN`` read from the environment; a token passed here explicitly wins over both."""
    settings: SpacesSettings | None = Field(default=None, exclude=True)
    """Settings to take the tier from; default ``SpacesSettings.load()``."""
    space: SpaceConfig | None = Field(default=None, exclude=True)
    """A ready :class:`SpaceConfig` (instead of ``space_url`` or ``settings``)."""
    client: SpaceClient | None = Field(default=None, exclude=True)
    """A ready :class:`SpaceClient` (shares its connection pool)."""

    # Generation parameters: the bounds are those of `_params` (one definition each).
    max_new_tokens: MaxNewTokens | None = Field(default=None, alias="max_tokens")
    temperature: Temperature | None = None
    top_p: TopP | None = None
    top_k: TopK | None = None
    repetition_penalty: RepetitionPenalty | None = None
    seed: Seed | None = None
    do_sample: DoSample | None = None
    stop: Stop | None = Field(default=None, alias="stop_sequences")
    """Stop sequences; applied to the answer even when the Space ignores them."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further parameters sent to the Space as they are."""
    timeout: float | None = Field(default=None, gt=0)
    """Read timeout in seconds (overrides the Space's ``read_timeout``)."""
    max_retries: int | None = Field(default=None, ge=0, le=20)
    """Retries on connect errors, 429 and 5xx (overrides the Space's ``max_retries``)."""
    streaming: bool = False
    """Stream under the hood of ``invoke`` (tokens reach ``on_llm_new_token`` callbacks)."""

    _client: SpaceClient | None = PrivateAttr(default=None)
    _disabled_tier: str | None = PrivateAttr(default=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except ValidationError as exc:
            # Our own errors (unknown tier, bad URL) surface as themselves, not wrapped.
            for err in exc.errors():
                cause = (err.get("ctx") or {}).get("error")
                if isinstance(cause, HFSpacesError):
                    raise cause from None
            raise

    @model_validator(mode="after")
    def _resolve_space(self) -> Self:
        client = self.client
        tier = self.tier
        cfg: SpaceConfig
        if client is not None:
            cfg, tier = client.config, client.tier
        elif self.space is not None:
            cfg = self.space
        elif self.space_url is not None:
            data: dict[str, Any] = {"url": self.space_url, "revision": self.revision}
            if self.endpoint is not None:
                data["endpoint"] = self.endpoint
            if self.protocol is not None:
                data["protocol"] = self.protocol
            cfg = SpaceConfig(**data)
        else:
            settings = self.settings if self.settings is not None else SpacesSettings.load()
            if not settings.enabled:
                # Raised at call time, so `.with_fallbacks([...])` can take over.
                self._disabled_tier = tier or settings.default_tier
                self.tier = self._disabled_tier
                return self
            tier = tier or settings.default_tier
            cfg = settings.space(tier)
        tier = tier or C.DEFAULT_TIER
        overrides: dict[str, Any] = {}
        explicit = self.model_fields_set
        if client is None and self.space_url is None:
            for name in ("endpoint", "protocol", "revision"):
                if name in explicit and getattr(self, name) is not None:
                    overrides[name] = getattr(self, name)
        if self.timeout is not None:
            overrides["read_timeout"] = self.timeout
        if self.max_retries is not None:
            overrides["max_retries"] = self.max_retries
        # Only a token given here is the Space's own; HF_TOKEN read from the environment is
        # ambient, and the Space's config finds it itself (sending it to Hugging Face hosts only).
        if self.hf_token is not None and "hf_token" in explicit:
            overrides["token"] = self.hf_token
        if overrides:
            cfg = cfg.updated(**overrides)
            client = (
                client.with_config(cfg, tier=tier)
                if client is not None
                else SpaceClient(cfg, tier=tier)
            )
        elif client is None:
            client = SpaceClient(cfg, tier=tier)
        self._client = client
        # Public fields describe the Space in use (identifying params, traces, serialisation).
        self.tier = tier
        self.space_url = cfg.url
        self.endpoint = cfg.endpoint
        self.protocol = cfg.protocol
        self.revision = cfg.revision
        return self

    # ------------------------------------------------------------------ shared helpers
    def _space(self) -> SpaceClient:
        client = self._client
        if client is None:
            raise SpacesDisabledError(
                "Hugging Face Spaces are disabled (enabled = false).", tier=self._disabled_tier
            )
        return client

    def close(self) -> None:
        """Close the connections this model's client opened (a shared client's too)."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Async :meth:`close`; safe after the event loop that used the model has ended."""
        if self._client is not None:
            await self._client.aclose()

    def _generation_params(self) -> dict[str, Any]:
        params = {name: getattr(self, name) for name in GENERATION_PARAMETERS}
        params = {k: v for k, v in params.items() if v is not None}
        if self.model_kwargs:
            params.update(self.model_kwargs)
        return params

    def _call_params(self, stop: list[str] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        params = self._generation_params()
        # An end user's X-IP-Token (ZeroGPU quotas): per call as a kwarg, or per request in
        # config={"configurable": {"x_ip_token": ...}}.
        outer = var_child_runnable_config.get()  # set by a chain; no copy on the hot path
        forwarded = (outer or {}).get("configurable", {}).get("x_ip_token")
        if forwarded is not None and "x_ip_token" not in kwargs:
            params["x_ip_token"] = forwarded
        if kwargs:
            if "max_tokens" in kwargs:
                kwargs = dict(kwargs)
                params["max_new_tokens"] = kwargs.pop("max_tokens")
            params.update(kwargs)
        stops = stop if stop is not None else self.stop
        if stops:
            params["stop"] = list(stops)
        else:
            params.pop("stop", None)
        return params

    def _space_params(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "space_url": self.space_url,
            "endpoint": self.endpoint,
            "revision": self.revision,
            "protocol": self.protocol,
        }

    def _split_context(self, value: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any] | None]:
        """``{"prompt" | "input" | "question" | "messages": ..., "context": {...}}`` -> parts."""
        keys = [k for k in PROMPT_KEYS if k in value]
        unknown = sorted(set(value) - {*PROMPT_KEYS, "context"})
        if len(keys) != 1 or unknown:
            raise SpaceInputError(
                "an input dict needs exactly one of "
                f"{', '.join(PROMPT_KEYS)} and optionally 'context'; got keys {sorted(value)}.",
                tier=self.tier,
                url=self.space_url,
            )
        return value[keys[0]], value.get("context")

    def _render_context(self, text: str, context: Mapping[str, Any] | None) -> str:
        return render_prompt(text, context, tier=self.tier, url=self.space_url)

    def _ls_model_name(self, kwargs: Mapping[str, Any]) -> str:
        model = kwargs.get("model")
        if isinstance(model, str) and model:
            return model
        return self.revision or self.space_url or (self.tier or C.DEFAULT_TIER)

    def _ls_params(
        self, model_type: Literal["llm", "chat"], stop: list[str] | None, kwargs: Mapping[str, Any]
    ) -> LangSmithParams:
        """Tracing parameters (LangSmith), shared by the LLM and the chat model."""
        params = LangSmithParams(
            ls_provider=LS_PROVIDER,
            ls_model_name=self._ls_model_name(kwargs),
            ls_model_type=model_type,
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_new_tokens", kwargs.get("max_tokens", self.max_new_tokens))
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        stops = stop if stop is not None else self.stop
        if stops:
            params["ls_stop"] = list(stops)
        return params

    # ------------------------------------------------------------------ for runnables.py
    def _structured_prompt(self, value: Any) -> tuple[str, Callable[[str], Any]]:
        """The instruction text structured output works on (schema instructions are appended
        to it), and how to turn a (re-)asked text into this model's input."""
        raise NotImplementedError

    def _variations_request(self, value: Any, parameters: Mapping[str, Any]) -> VariationsRequest:
        """The prompt, parameters and cut markers of ``n`` variations of ``value``."""
        raise NotImplementedError
