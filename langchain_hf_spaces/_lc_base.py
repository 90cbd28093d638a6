"""The common base of the LangChain models: fields, Space resolution and shared plumbing.

:class:`~langchain_hf_spaces.HuggingFaceSpaceLLM` and
:class:`~langchain_hf_spaces.ChatHuggingFaceSpace` derive from :class:`_SpaceModelBase` (next to
their LangChain base class). The runnables of :mod:`langchain_hf_spaces.runnables` depend on this
base only: each model implements the two hooks they use (:meth:`_SpaceModelBase._structured_prompt`
and :meth:`_SpaceModelBase._variations_request`), so no LangChain module imports another in a loop.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
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

from langchain_hf_spaces import _ab
from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._inputs import render_prompt
from langchain_hf_spaces._keys import PROMPT_KEYS
from langchain_hf_spaces._loading import ARGUMENT_CUTOFF, closest
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
from langchain_hf_spaces._transport import HTTPPool
from langchain_hf_spaces.client import SpaceAnswer, SpaceClient, SpacesClient
from langchain_hf_spaces.config import SpaceConfig, SpacesSettings
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceConfigError,
    SpaceInputError,
    SpacesDisabledError,
)

__all__ = ["LS_PROVIDER", "VariationsRequest", "aclose_stream", "answer_info"]

logger = logging.getLogger("langchain_hf_spaces")

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


_SPACE_FIELDS = ("tier", "space_url", "endpoint", "protocol", "revision", "hf_token")
"""Fields a model fills in from its Space when they are not given."""
_OTHER_KEY_FIELDS = ("model", "settings", "space", "client", "spaces", "timeout", "max_retries")
_KEY_FIELDS = (*_SPACE_FIELDS, *_OTHER_KEY_FIELDS)
"""Every field the Space a model calls depends on."""
_MAX_CLIENTS = 32
"""Clients a model and its copies keep (one per tier, URL, token, timeout... in use)."""


_COUNT_SOURCES = {
    "space": "the Space's own tokenizer (/tokenize)",
    "transformers": "transformers' GPT-2 tokenizer (not the Space's model's)",
    "estimate": "an estimate of 4 characters a token (install transformers, or use a TGI "
    "Space, to count exactly)",
}


def estimate_tokens(text: str) -> int:
    """About 4 characters a token (English text, common tokenizers); words count at least 1."""
    if not text:
        return 0
    return max(len(text.split()), math.ceil(len(text) / 4))


def _ident(value: Any) -> Any:
    """A hashable stand-in: objects by identity, values as they are."""
    if isinstance(value, (SpacesSettings, SpaceConfig, SpaceClient, SpacesClient)):
        return ("id", id(value))
    return value


def _make(
    cfg: SpaceConfig,
    tier: str,
    client: SpaceClient | None,
    changed: bool,
    profile: str | None = None,
    variant: str | None = None,
) -> Any:
    """The client for ``cfg``: ``client`` itself, a client on its pool, or a new one (the
    pool is passed in by :class:`_Shared`), labelled with the settings' ``profile``."""
    if client is not None:
        return client.with_config(cfg, tier=tier) if changed else client
    return lambda pool: SpaceClient(cfg, tier=tier, profile=profile, variant=variant, _pool=pool)


AB_KEY = "ab_key"
"""The call keyword and ``configurable`` key naming the user or session of an A/B split."""


def with_ab_key(config: Mapping[str, Any] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the ``ab_key`` of ``config["configurable"]`` when the call gave none
    (LangChain hands a model's ``_generate`` the call's kwargs, not its config)."""
    if AB_KEY in kwargs or not config:
        return kwargs
    key = (config.get("configurable") or {}).get(AB_KEY)
    return kwargs if key is None else {**kwargs, AB_KEY: key}


def has_ab_keys(configs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any of a batch's configs names an ``ab_key`` (then each input is run with its
    own config, so each gets its own variant)."""
    return any((c.get("configurable") or {}).get(AB_KEY) is not None for c in configs)


def ab_key(kwargs: Mapping[str, Any]) -> Any:
    """The call's A/B key: ``ab_key=`` given to the call, else
    ``config={"configurable": {"ab_key": ...}}`` of the run (``None`` when neither)."""
    if kwargs.get(AB_KEY) is not None:
        return kwargs[AB_KEY]
    outer = var_child_runnable_config.get()
    return (outer or {}).get("configurable", {}).get(AB_KEY)


class _Shared:
    """What a model and its copies (``configurable_fields``, ``model_copy``, ...) share: one
    connection pool and the clients derived so far. Copies made by pickling start afresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: HTTPPool | None = None
        self._settings: SpacesSettings | None = None
        self._clients: OrderedDict[tuple[Any, ...], tuple[SpaceClient, tuple[Any, ...]]] = (
            OrderedDict()
        )

    def loaded_settings(self) -> SpacesSettings:
        """``SpacesSettings.load()``, read once for a model and its copies."""
        if self._settings is None:
            self._settings = SpacesSettings.load()
        return self._settings

    def client(self, key: tuple[Any, ...], keep: tuple[Any, ...], make: Any) -> SpaceClient:
        with self._lock:
            hit = self._clients.get(key)
            if hit is not None:
                self._clients.move_to_end(key)
                return hit[0]
            if self._pool is None:
                self._pool = HTTPPool()
            pool = self._pool
        made = make()
        client: SpaceClient = made if isinstance(made, SpaceClient) else made(pool)
        with self._lock:
            hit = self._clients.setdefault(key, (client, keep))
            while len(self._clients) > _MAX_CLIENTS:
                self._clients.popitem(last=False)
        return hit[0]

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def __deepcopy__(self, memo: dict[int, Any]) -> _Shared:
        return _Shared()


@dataclass(frozen=True)
class _Binding:
    """The values a model derived (not given), and what it shares with its copies."""

    derived: Mapping[str, Any]
    shared: _Shared = dataclass_field(compare=False)


@dataclass(frozen=True)
class _Derived:
    client: SpaceClient | None
    disabled_tier: str | None
    public: dict[str, Any]
    derived: dict[str, Any]
    shared: _Shared
    split: _ab.Split[SpaceClient] | None = None
    """The tier's A/B variants (``client`` is the first), when it has some."""


def move_extra(cls: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """LangChain's ``build_extra``: keyword arguments that are not fields go to
    ``model_kwargs`` (sent to the Space) with a warning; a near miss of a field is an error."""
    names: set[str] = set()
    for name, info in cls.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
    unknown = [k for k in values if k not in names]
    if not unknown:
        return values
    values = dict(values)
    extra = dict(values.get("model_kwargs") or {})
    for name in unknown:
        close = closest(name, names, cutoff=ARGUMENT_CUTOFF)
        if close:
            raise SpaceConfigError(
                f"{cls.__name__} got an unknown argument {name!r}; did you mean {close!r}?",
                hint=f"Spell it {close!r}, or pass model_kwargs={{{name!r}: ...}} to send "
                "it to the Space as it is.",
            )
        if name in extra:
            raise SpaceConfigError(f"{cls.__name__} got {name!r} twice (also in model_kwargs).")
        warnings.warn(
            f"{cls.__name__}: {name!r} is not one of its fields; it was moved to model_kwargs "
            "and is sent to the Space as a generation parameter. Make sure this is what you "
            "intended.",
            UserWarning,
            stacklevel=4,
        )
        extra[name] = values.pop(name)
    values["model_kwargs"] = extra
    return values


_PRESIGNED = ("_generate", "_agenerate")
"""Methods whose signature LangChain inspects on every call (does it take ``run_manager``?)."""


def _presign(cls: type) -> None:
    """Give ``cls``'s own :data:`_PRESIGNED` methods a precomputed ``__signature__``:
    ``inspect.signature`` then skips re-deriving it from the code object (~30 us a call, the
    largest single item of ``invoke`` in LangChain's layer). Subclasses get theirs too."""
    for name in _PRESIGNED:
        func = cls.__dict__.get(name)
        if inspect.isfunction(func) and "__signature__" not in func.__dict__:
            func.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]


class _SpaceModelBase(BaseModel):
    """Fields and plumbing shared by the LLM and the chat model (no LangChain base class here)."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _presign(cls)

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

    model: str | None = None
    """Model name sent to an ``openai``-protocol Space (default: the Space config's ``model``,
    else the first model its ``/v1/models`` lists); other protocols do not send one."""
    spaces: SpacesClient | None = Field(default=None, exclude=True)
    """A :class:`SpacesClient`: the tier's Space is taken from it (sharing its pool)."""
    space_binding: _Binding | None = Field(default=None, exclude=True, repr=False)
    """Internal: what the Space fields were derived from, shared by the model's copies."""

    _client: SpaceClient | None = PrivateAttr(default=None)
    _split: _ab.Split[SpaceClient] | None = PrivateAttr(default=None)
    _key: tuple[Any, ...] | None = PrivateAttr(default=None)
    _disabled_tier: str | None = PrivateAttr(default=None)
    _token_count_source: str | None = PrivateAttr(default=None)

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

    @model_validator(mode="before")
    @classmethod
    def _build_extra(cls, values: Any) -> Any:
        """Unknown keyword arguments go to ``model_kwargs`` with a warning (LangChain's
        ``build_extra``); a near miss of one of our own fields is an error naming it."""
        if not isinstance(values, dict):
            return values
        return move_extra(cls, values)

    @model_validator(mode="after")
    def _resolve_space(self) -> Self:
        self._bind(self._derive())
        return self

    # ``config={"configurable": {"ab_key": ...}}`` reaches the call as the ``ab_key`` kwarg.
    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        return super().invoke(input, config, **with_ab_key(config, kwargs))  # type: ignore[misc]

    async def ainvoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        return await super().ainvoke(  # type: ignore[misc]
            input, config, **with_ab_key(config, kwargs)
        )

    def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
        return super().stream(input, config, **with_ab_key(config, kwargs))  # type: ignore[misc,no-any-return]

    def astream(self, input: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
        return super().astream(input, config, **with_ab_key(config, kwargs))  # type: ignore[misc,no-any-return]

    # ------------------------------------------------------------------ the Space in use
    def _space_key(self) -> tuple[Any, ...]:
        """What the Space depends on: a model whose fields changed (``model_copy``, attribute
        assignment) derives its client again; equal keys share one client."""
        return tuple(_ident(getattr(self, name)) for name in _KEY_FIELDS)

    def _given(self, name: str) -> Any:
        """The value of ``name`` if the user gave it (not one this model derived)."""
        value = getattr(self, name)
        if value is None or name not in self.model_fields_set:
            return None
        binding = self.space_binding
        if binding is not None and name in binding.derived and binding.derived[name] == value:
            return None
        return value

    def _derive(self) -> _Derived:
        """The client the fields name now (no I/O). Clients are cached by :meth:`_space_key`
        on the binding that this model's copies share, with one connection pool."""
        binding = self.space_binding
        shared = binding.shared if binding is not None else _Shared()
        given = {name: self._given(name) for name in _SPACE_FIELDS}
        client = self.client
        tier: str | None = given["tier"]
        cfg: SpaceConfig
        profile: str | None = None  # the settings profile the answers are labelled with
        derived: dict[str, Any] = {}
        if client is not None:
            if tier is not None and tier != client.tier:
                raise SpaceConfigError(
                    f"tier {tier!r} does not match the client's tier {client.tier!r}.",
                    tier=tier,
                    url=client.config.url,
                    hint="Build the model from settings (or HuggingFaceSpaces) to switch tiers.",
                )
            cfg, tier = client.config, client.tier
        elif self.spaces is not None or (given["space_url"] is None and self.space is None):
            settings = self.spaces.settings if self.spaces is not None else self.settings
            if settings is None:
                settings = shared.loaded_settings()
            if not settings.enabled:
                # Raised at call time, so `.with_fallbacks([...])` can take over.
                name = tier or settings.default_tier
                return _Derived(None, name, {"tier": name}, {}, shared)
            tier = tier or settings.default_tier
            if self.spaces is not None:
                client = self.spaces.space(tier)
                cfg = client.config
            else:
                cfg = settings.space(tier)
                profile = settings.profile
        elif self.space is not None:
            cfg = self.space
        else:
            data: dict[str, Any] = {"url": given["space_url"], "revision": given["revision"]}
            for name in ("endpoint", "protocol"):
                if given[name] is not None:
                    data[name] = given[name]
            cfg = SpaceConfig(**data)
        tier = tier or C.DEFAULT_TIER
        overrides: dict[str, Any] = {}
        if self.client is None and given["space_url"] is None:
            for name in ("endpoint", "protocol", "revision"):
                if given[name] is not None:
                    overrides[name] = given[name]
        if self.timeout is not None:
            overrides["read_timeout"] = self.timeout
        if self.max_retries is not None:
            overrides["max_retries"] = self.max_retries
        if self.model is not None:
            overrides["model"] = self.model
        # Only a token given here is the Space's own; HF_TOKEN read from the environment is
        # ambient, and the Space's config finds it itself (sending it to Hugging Face hosts only).
        if given["hf_token"] is not None:
            overrides["token"] = given["hf_token"]
        elif self.hf_token is not None:
            derived["hf_token"] = self.hf_token
        if overrides:
            cfg = cfg.updated(**overrides)
        cache_key = (
            *(_ident(given[name]) for name in _SPACE_FIELDS),
            *(_ident(getattr(self, name)) for name in _OTHER_KEY_FIELDS),
        )
        keep = tuple(getattr(self, n) for n in _OTHER_KEY_FIELDS)  # alive while cached by id
        split = self._variant_split(cfg, tier, overrides, shared, cache_key, keep, profile)
        if split is not None:
            made = split.arms[0].item
        else:
            made = shared.client(
                cache_key, keep, lambda: _make(cfg, tier, client, bool(overrides), profile)
            )
        public = {
            "tier": tier,
            "space_url": cfg.url,
            "endpoint": cfg.endpoint,
            "protocol": cfg.protocol,
            "revision": cfg.revision,
        }
        derived.update({n: v for n, v in public.items() if given[n] is None})
        return _Derived(made, None, public, derived, shared, split)

    def _variant_split(
        self,
        cfg: SpaceConfig,
        tier: str,
        overrides: Mapping[str, Any],
        shared: _Shared,
        cache_key: tuple[Any, ...],
        keep: tuple[Any, ...],
        profile: str | None = None,
    ) -> _ab.Split[SpaceClient] | None:
        """The clients of the tier's A/B variants (``None`` without variants). This model's
        own settings (timeout, max_retries, model, token...) apply to every variant."""
        if self.client is not None:
            return None
        if self.spaces is not None:  # cfg is then its first variant's: take the tier's own
            cfg = self.spaces.settings.tiers.get(tier, cfg)
        spaces = self.spaces

        def arm(vcfg: SpaceConfig, name: str) -> SpaceClient:
            if overrides:
                vcfg = vcfg.updated(**overrides)
            theirs = spaces.space(tier, variant=name) if spaces is not None else None
            return shared.client(
                (*cache_key, "variant", name),
                keep,
                lambda: _make(vcfg, tier, theirs, bool(overrides), profile, name),
            )

        return _ab.Split.made(tier, cfg.variant_configs(), arm)

    def _bind(self, d: _Derived) -> None:
        self._client, self._disabled_tier, self._split = d.client, d.disabled_tier, d.split
        # Public fields describe the Space in use (identifying params, traces, serialisation);
        # the binding remembers which of them were derived, so a copy made from these fields
        # (configurable_fields, model_copy) derives them again for its own tier.
        for name, value in d.public.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "space_binding", _Binding(d.derived, d.shared))
        self._key = self._space_key()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update`` naming another tier (or URL, token, timeout...) the copy
        derives its Space again, so it calls the Space its fields now name."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            copy.__pydantic_fields_set__.update(update)
        if update and copy._space_key() != copy._key:
            copy._bind(copy._derive())
        return copy

    # ------------------------------------------------------------------ shared helpers
    def _space(self) -> SpaceClient:
        if self._key != self._space_key():  # a field changed since the client was derived
            self._bind(self._derive())
        client = self._client
        if client is None:
            raise SpacesDisabledError(
                "Hugging Face Spaces are disabled (enabled = false).", tier=self._disabled_tier
            )
        return client

    def _pick(self, kwargs: Mapping[str, Any]) -> SpaceClient:
        """The client that answers this call: for a tier with A/B variants, the variant the
        call's ``ab_key`` (kwarg, else ``configurable``) lands on, or one at random by weight."""
        client = self._space()
        split = self._split
        if split is None:
            return client
        return split.pick(_ab.check_key(ab_key(kwargs), tier=self.tier)).item

    @property
    def space_client(self) -> SpaceClient:
        """The :class:`SpaceClient` this model calls now (derived from its fields)."""
        return self._space()

    def close(self) -> None:
        """Close the connections this model's client opened (a shared client's too)."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Async :meth:`close`; safe after the event loop that used the model has ended."""
        if self._client is not None:
            await self._client.aclose()

    # ------------------------------------------------------------------ copies
    def __getstate__(self) -> dict[Any, Any]:
        """Pickling keeps the fields; the client (connections, locks) is derived again, lazily,
        in the copy."""
        state = super().__getstate__()
        private = dict(state.get("__pydantic_private__") or {})
        private.update(_client=None, _split=None, _key=None)
        state["__pydantic_private__"] = private
        return state

    # ------------------------------------------------------------------ token counts
    @property
    def token_count_source(self) -> str | None:
        """How :meth:`get_num_tokens` counted last: ``"space"`` (the Space's own tokenizer,
        TGI ``/tokenize``), ``"transformers"`` (LangChain's GPT-2 tokenizer) or
        ``"estimate"`` (about 4 characters a token); ``None`` before the first count."""
        return self._token_count_source

    def get_num_tokens(self, text: str) -> int:
        """Tokens of ``text``: by the Space's tokenizer when it offers one (TGI
        ``POST /tokenize``), else by ``transformers`` when installed (LangChain's default),
        else an estimate. :attr:`token_count_source` says which."""
        try:
            count = self._space().count_tokens(text)
        except HFSpacesError as exc:  # asleep, down, disabled: count here instead
            logger.debug("tier %s: no token count from the Space: %s", self.tier, exc)
            count = None
        if count is not None:
            return self._counted("space", count)
        if self.custom_get_token_ids is None and importlib.util.find_spec("transformers") is None:  # type: ignore[attr-defined]
            return self._counted("estimate", estimate_tokens(text))
        return self._counted("transformers", super().get_num_tokens(text))  # type: ignore[misc]

    def _counted(self, source: str, count: int) -> int:
        if source != self._token_count_source:
            log = logger.info if source == "estimate" else logger.debug
            log(
                "tier %s: counting tokens by %s",
                self.tier,
                _COUNT_SOURCES[source],
            )
        self._token_count_source = source
        return count

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
        if AB_KEY in kwargs:  # chooses the A/B variant (see _pick); not sent to the Space
            kwargs = {k: v for k, v in kwargs.items() if k != AB_KEY}
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
        if self._key != self._space_key():
            self._bind(self._derive())
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
        model = kwargs.get("model") or self.model
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
