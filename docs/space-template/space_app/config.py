"""Settings of the Space, read once from environment variables (Space variables and secrets).

Every setting has a default that runs as-is; a malformed value stops the Space at start-up with
a message naming the variable, rather than being ignored.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DEFAULT_MODEL_ID", "Settings", "SettingsError"]

DEFAULT_MODEL_ID = "HuggingFaceTB/SmolLM2-360M-Instruct"
BACKENDS = ("auto", "demo", "transformers")


class SettingsError(ValueError):
    """An environment variable has a value the Space cannot use."""


@dataclass(frozen=True)
class Settings:
    """What the Space does, from the environment (see :meth:`from_env` for each variable)."""

    backend: str = "demo"
    model_id: str = DEFAULT_MODEL_ID
    model_revision: str | None = None
    device: str | None = None
    torch_dtype: str = "auto"
    api_token: str | None = field(default=None, repr=False)
    max_prompt_chars: int = 8000
    max_new_tokens_cap: int = 512
    default_max_new_tokens: int = 128
    cors_origins: tuple[str, ...] = ()
    log_prompts: bool = False
    log_level: str = "INFO"
    enable_ui: bool = True
    demo_token_delay: float = 0.02
    space_name: str = "space-template"
    generation_timeout: float = 300.0
    host: str = "0.0.0.0"  # noqa: S104 - a Space must listen on every interface
    port: int = 7860

    def __post_init__(self) -> None:
        if self.backend not in ("demo", "transformers"):
            raise SettingsError(f"BACKEND={self.backend!r}: use demo or transformers.")
        if self.default_max_new_tokens > self.max_new_tokens_cap:
            raise SettingsError(
                f"DEFAULT_MAX_NEW_TOKENS={self.default_max_new_tokens} is above "
                f"MAX_NEW_TOKENS_CAP={self.max_new_tokens_cap}."
            )

    @property
    def max_body_bytes(self) -> int:
        """Largest request body accepted: the prompt limit in UTF-8 plus room for JSON."""
        return self.max_prompt_chars * 4 + 64 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings.

        ``BACKEND`` (``auto``: transformers when installed, else demo), ``MODEL_ID``,
        ``MODEL_REVISION``, ``DEVICE`` (``cpu``, ``cuda``, ``cuda:1``; default: a GPU when there
        is one), ``TORCH_DTYPE`` (``auto``, ``float16``, ``bfloat16``, ``float32``),
        ``API_TOKEN`` (secret: when set, every route but ``/health`` needs
        ``Authorization: Bearer <API_TOKEN>``), ``MAX_PROMPT_CHARS``, ``MAX_NEW_TOKENS_CAP``,
        ``DEFAULT_MAX_NEW_TOKENS``, ``CORS_ORIGINS`` (comma-separated origins, or ``*``),
        ``LOG_PROMPTS`` (``1`` logs prompts and answers), ``LOG_LEVEL``, ``ENABLE_UI``,
        ``DEMO_TOKEN_DELAY`` (seconds between demo tokens), ``SPACE_NAME`` (default: the
        Space's name, from ``SPACE_REPO_NAME`` or ``SPACE_ID``, which Hugging Face sets),
        ``GENERATION_TIMEOUT``, ``HOST``, ``PORT``.
        """
        env = os.environ if env is None else env
        backend = _choice(env, "BACKEND", "auto", BACKENDS)
        if backend == "auto":
            backend = "transformers" if _has_transformers() else "demo"
        elif backend == "transformers" and not _has_transformers():
            raise SettingsError(
                "BACKEND=transformers but transformers/torch are not installed: "
                "pip install transformers torch, or set BACKEND=demo."
            )
        return cls(
            backend=backend,
            model_id=_text(env, "MODEL_ID") or DEFAULT_MODEL_ID,
            model_revision=_text(env, "MODEL_REVISION"),
            device=_text(env, "DEVICE"),
            torch_dtype=_choice(
                env, "TORCH_DTYPE", "auto", ("auto", "float16", "bfloat16", "float32")
            ),
            api_token=_text(env, "API_TOKEN"),
            max_prompt_chars=_int(env, "MAX_PROMPT_CHARS", 8000),
            max_new_tokens_cap=_int(env, "MAX_NEW_TOKENS_CAP", 512),
            default_max_new_tokens=_int(env, "DEFAULT_MAX_NEW_TOKENS", 128),
            cors_origins=tuple(
                o.strip().rstrip("/") for o in env.get("CORS_ORIGINS", "").split(",") if o.strip()
            ),
            log_prompts=_bool(env, "LOG_PROMPTS", False),
            log_level=_choice(
                env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True
            ),
            enable_ui=_bool(env, "ENABLE_UI", True),
            demo_token_delay=_float(env, "DEMO_TOKEN_DELAY", 0.02, minimum=0.0),
            space_name=_text(env, "SPACE_NAME")
            or _text(env, "SPACE_REPO_NAME")
            or (_text(env, "SPACE_ID") or "").rpartition("/")[2]
            or "space-template",
            generation_timeout=_float(env, "GENERATION_TIMEOUT", 300.0, minimum=1.0),
            host=_text(env, "HOST") or "0.0.0.0",  # noqa: S104
            port=_int(env, "PORT", 7860),
        )


def _has_transformers() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("transformers", "torch"))


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _choice(
    env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...], upper: bool = False
) -> str:
    raw = env.get(name, "").strip()
    value = (raw.upper() if upper else raw.lower()) or default
    if value not in allowed:
        raise SettingsError(f"{name}={raw!r}: use one of {', '.join(allowed)}.")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer.") from None
    if value < 1:
        raise SettingsError(f"{name}={raw!r} must be at least 1.")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number.") from None
    if not value >= minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}.")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use 1 or 0).")
