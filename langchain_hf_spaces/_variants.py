"""A tier's A/B variants: the :class:`SpaceVariant` model and how a variant's settings are made.

A variant inherits every setting of its tier and overrides some (:func:`resolve`); the choice
between variants at call time is :mod:`langchain_hf_spaces._ab`. :class:`SpaceConfig` (in
:mod:`langchain_hf_spaces.config`) holds the variants and checks them with these helpers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from langchain_hf_spaces import _ab, _loading
from langchain_hf_spaces.errors import SpaceConfigError

if TYPE_CHECKING:
    from langchain_hf_spaces.config import SpaceConfig

__all__ = ["SpaceVariant", "named", "resolve", "toml_entry", "url_from_variants"]

_VARIANT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
_VARIANT_OWN = frozenset({"name", "weight"})
"""The fields of a variant that are not settings of its Space."""


class SpaceVariant(BaseModel):
    """One arm of a tier's A/B split (:attr:`SpaceConfig.variants`).

    A variant is a Space (or a model on one) that answers a share of the tier's calls. It
    inherits every setting of its tier (endpoint, token, token_env, revision, protocol,
    timeouts...) and may override any of them; a field left ``None`` is inherited. A variant
    with its own ``token`` or ``token_env`` does not inherit the tier's token.

    .. code-block:: python

        SpaceConfig(
            url="acme/llm-a",
            protocol="tgi",
            variants=[
                SpaceVariant(weight=90),                             # "a": the tier's url
                SpaceVariant(url="acme/llm-b", revision="v2", weight=10),  # "b"
            ],
        )

    Args:
        name: reported in answers (``answer.variant``), stats and Test Connection; default
            the variant's position: ``a``, ``b``, ``c``... Letters, digits, ``.``, ``_``, ``-``.
        weight: the variant's share of the calls, relative to the others (``90`` and ``10``
            are 90% and 10%); ``>= 0``, and not all 0. A variant of weight 0 gets no calls
            (not even as a fallback) but is still tested by Test Connection.
        url: the variant's Space, normalised like :attr:`SpaceConfig.url`; default the tier's.
        The other fields: as in :class:`SpaceConfig`.

    A plain string stands for ``SpaceVariant(url=...)`` (so
    ``HF_SPACES_BASE_VARIANTS=acme/llm-a,acme/llm-b`` is a 50/50 split).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str | None = None
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    url: str | None = None
    space_id: str | None = None
    endpoint: str | None = None
    token: SecretStr | None = Field(default=None, repr=False)
    token_env: str | None = None
    revision: str | None = None
    protocol: str | None = None
    api_name: str | None = None
    model: str | None = None
    allow_insecure_http: bool | None = None
    connect_timeout: float | None = None
    read_timeout: float | None = None
    total_timeout: float | None = None
    pool_timeout: float | None = None
    max_retries: int | None = None
    retry_initial_delay: float | None = None
    retry_max_delay: float | None = None
    max_retry_after: float | None = None
    wake_timeout: float | None = None
    wake_poll_interval: float | None = None
    max_response_bytes: int | None = None
    max_prompt_chars: int | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            from langchain_hf_spaces.config import _config_error

            raise _config_error(exc, "SpaceVariant", type(self).model_fields) from None

    @model_validator(mode="before")
    @classmethod
    def _from_url(cls, data: Any) -> Any:
        return {"url": data} if isinstance(data, str) else data

    @field_validator("name", mode="before")
    @classmethod
    def _check_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and not (isinstance(value, str) and _VARIANT_NAME_RE.fullmatch(value)):
            raise ValueError(
                "must be a short name of letters, digits, '.', '_' or '-' (e.g. a, b, llama-3.1)"
            )
        return value

    @field_validator("token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: Any) -> Any:
        return _loading.token_field(value, "a variant's token")

    @field_validator("token_env", mode="before")
    @classmethod
    def _check_token_env(cls, value: Any) -> Any:
        return _loading.check_env_name(value)

    def __repr_args__(self) -> Any:
        return [(k, v) for k, v in super().__repr_args__() if v is not None]

    def overrides(self) -> dict[str, Any]:
        """The settings this variant sets for its Space (the fields it does not inherit)."""
        return {k: v for k, v in self if k not in _VARIANT_OWN and v is not None}


def url_from_variants(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A tier with variants and no url: the first variant's url, when every variant has one."""
    variants = data["variants"]
    if isinstance(variants, (str, bytes)) or not isinstance(variants, (list, tuple)):
        return data  # the field's own validation names the bad value
    urls = [raw_url(v) for v in variants]
    missing = [i for i, url in enumerate(urls) if url is None]
    if missing:
        names = _ab.default_names(len(variants))
        which = ", ".join(repr(raw_name(variants[i]) or names[i]) for i in missing)
        raise SpaceConfigError(
            f"variant {which} has no url, and the tier has none to inherit.",
            hint="Give every variant a url, or give the tier a url for the variants without one.",
        )
    return {**data, "url": urls[0]}


def raw_name(item: Any) -> str | None:
    if isinstance(item, SpaceVariant):
        return item.name
    if isinstance(item, Mapping) and isinstance(item.get("name"), str):
        return str(item["name"])
    return None


def raw_url(item: Any) -> str | None:
    """The url a variant was given, before validation (``None`` when it has none)."""
    if isinstance(item, str):
        return item
    if isinstance(item, SpaceVariant):
        return item.url
    if isinstance(item, Mapping):
        url = item.get("url")
        return url if isinstance(url, str) and url.strip() else None
    return None


def resolve(base: Mapping[str, Any], variant: SpaceVariant) -> SpaceConfig:
    """The :class:`SpaceConfig` of ``variant``: its tier's settings (``base``, without
    ``variants``) with the variant's own on top, validated like any Space's."""
    changes = variant.overrides()
    data = {**base, **changes}
    if "url" in changes and "space_id" not in changes:
        data["space_id"] = None  # the variant's url names its own Space (or none)
    if "token_env" in changes and "token" not in changes:
        data["token"] = None  # the variant's own token, not the tier's
    from langchain_hf_spaces.config import SpaceConfig

    try:
        return SpaceConfig(**data)
    except SpaceConfigError as exc:
        raise SpaceConfigError(
            f"variant {variant.name!r}: {exc.message}", url=exc.url, hint=exc.hint or None
        ) from None


def named(value: tuple[SpaceVariant, ...]) -> tuple[SpaceVariant, ...]:
    """The variants with their default names (``a``, ``b``... by position), checked: unique
    names, and some weight above 0."""
    if not value:
        return value
    letters = _ab.default_names(len(value))
    named = tuple(
        v if v.name is not None else v.model_copy(update={"name": letter})
        for v, letter in zip(value, letters, strict=True)
    )
    seen: set[str] = set()
    for v in named:
        assert v.name is not None
        if v.name in seen:
            raise SpaceConfigError(
                f"two variants are named {v.name!r}.",
                hint="Give each variant its own name (unnamed ones are a, b, c... by position).",
            )
        seen.add(v.name)
    if not any(v.weight > 0 for v in named):
        raise SpaceConfigError(
            "every variant has weight 0, so no variant could answer.",
            hint="Give at least one variant a positive weight (e.g. weight = 1).",
        )
    return named


def toml_entry(variant: SpaceVariant, include_tokens: bool) -> dict[str, Any]:
    """A variant as a TOML inline table (its token only when asked for)."""
    entry: dict[str, Any] = {"name": variant.name, "weight": variant.weight}
    for field, value in variant.overrides().items():
        if field == "token":
            if include_tokens:
                entry[field] = value.get_secret_value()
            continue
        entry[field] = value
    return entry
