"""The exception tree of langchain-hf-spaces.

Every error a user can meet derives from :class:`HFSpacesError`; each names the tier and the
Space URL it concerns, says what to do next (``hint``) and never contains a token::

    HFSpacesError
    ├── SpaceConfigError          bad settings (also a ValueError)
    │   └── SpaceInputError       bad prompt / parameters / context, caught before sending
    ├── SpacesDisabledError       the on/off switch is off
    ├── SpaceAuthError            401 / 403
    ├── SpaceNotFoundError        404: wrong URL or endpoint
    ├── SpaceRateLimitError       429 after retries (``retry_after`` in seconds when known)
    │   └── SpaceQuotaError       a ZeroGPU Space: the caller's GPU quota is spent
    ├── SpaceUnavailableError     asleep past ``wake_timeout``, 5xx after retries
    │   ├── SpaceConnectionError  could not connect, or the connection broke
    │   ├── SpacePausedError      the Hub says the Space is paused: it will not wake by itself
    │   └── SpaceRuntimeError     the Hub says the Space failed (runtime/build/config error)
    ├── SpaceTimeoutError         connect or read timeout
    ├── SpaceResponseError        the answer is not what the protocol promises (shows an excerpt)
    └── StructuredOutputError     no valid structured answer after the re-asks (every attempt kept)

Low-level ``httpx`` errors are translated in exactly one place (``_transport.failed``), and
answers into errors in one place (``_policy.exchange``); a protocol's complaint becomes one of
these in ``_flow.SpaceCore.error``. :data:`AVAILABILITY_ERRORS` are the failures that mean "this
Space cannot answer now": fallbacks act on those only.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AVAILABILITY_ERRORS",
    "HFSpacesError",
    "SpaceAuthError",
    "SpaceConfigError",
    "SpaceConnectionError",
    "SpaceInputError",
    "SpaceNotFoundError",
    "SpacePausedError",
    "SpaceQuotaError",
    "SpaceRateLimitError",
    "SpaceResponseError",
    "SpaceRuntimeError",
    "SpaceTimeoutError",
    "SpaceUnavailableError",
    "SpacesDisabledError",
    "StructuredOutputError",
]


class HFSpacesError(Exception):
    """Root of every error raised by this package.

    Attributes:
        message: what went wrong.
        tier: the tier concerned, when known.
        url: the Space URL concerned, when known (never carries credentials).
        hint: what to do about it.
        status_code: the HTTP status, for errors that come from an answer.
    """

    default_hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        tier: str | None = None,
        url: str | None = None,
        hint: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.message = message
        self.tier = tier
        self.url = url
        self.hint = hint if hint is not None else self.default_hint
        self.status_code = status_code
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.tier is not None:
            where.append(f"tier {self.tier!r}")
        if self.url is not None:
            where.append(f"Space {self.url}")
        text = f"[{', '.join(where)}] {self.message}" if where else self.message
        if self.hint:
            text += f" Hint: {self.hint}"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (type(self), self.message, self.tier, self.url, self.hint, self.status_code),
            {k: v for k, v in self.__dict__.items() if k not in _BASE_FIELDS},
        )

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        if state:
            self.__dict__.update(state)


_BASE_FIELDS = {"message", "tier", "url", "hint", "status_code"}


def _rebuild(
    cls: type[HFSpacesError],
    message: str,
    tier: str | None,
    url: str | None,
    hint: str | None,
    status_code: int | None,
) -> HFSpacesError:
    err = cls.__new__(cls)
    HFSpacesError.__init__(err, message, tier=tier, url=url, hint=hint, status_code=status_code)
    return err


class SpaceConfigError(HFSpacesError, ValueError):
    """Settings are invalid: names the field and the bad value (never a token)."""

    default_hint = "Fix the setting in code, in HF_SPACES_* variables or in hf-spaces.toml."


class SpaceInputError(SpaceConfigError):
    """A prompt, parameter or context was rejected before anything was sent."""

    default_hint = ""


class SpacesDisabledError(HFSpacesError):
    """Hugging Face Spaces are switched off (``enabled = false``)."""

    default_hint = (
        "Set HF_SPACES_ENABLED=true, or enabled = true in hf-spaces.toml, or "
        "SpacesSettings(enabled=True); LangChain users can add .with_fallbacks([...])."
    )


class SpaceAuthError(HFSpacesError):
    """The Space refused the credentials (401) or the token lacks access (403)."""

    default_hint = (
        "Check the Space's token (api_key=... on the LangChain and LlamaIndex models, token=... "
        "on the tier, HF_SPACES_<TIER>_TOKEN, HF_TOKEN or `hf auth login`): it must be a valid "
        "Hugging Face token with at least read access to this Space."
    )


class SpaceNotFoundError(HFSpacesError):
    """404: the Space or its endpoint does not exist."""

    default_hint = (
        "Check the Space URL and the endpoint path (default /api/generate); a private Space "
        "also answers 404 to requests without a token."
    )


class SpaceRateLimitError(HFSpacesError):
    """429 after the retries were used up."""

    default_hint = "Slow down, raise max_retries, or upgrade the Space's hardware."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class SpaceQuotaError(SpaceRateLimitError):
    """A ZeroGPU Space refused the call: the caller's GPU quota is spent.

    ``retry_after`` is the wait the Space named (seconds), ``seconds_left`` and
    ``seconds_requested`` the quota it reported. Not retried automatically.
    """

    default_hint = (
        "ZeroGPU quotas are per caller: send a Hugging Face token (log in with `hf auth login`, "
        "or set the tier's token) for a larger quota, wait until it refills, or, when you call "
        "on behalf of your own users, forward each user's X-IP-Token (x_ip_token=...)."
    )

    def __init__(
        self,
        message: str,
        *,
        seconds_left: float | None = None,
        seconds_requested: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.seconds_left = seconds_left
        self.seconds_requested = seconds_requested
        super().__init__(message, **kwargs)


class SpaceUnavailableError(HFSpacesError):
    """The Space is asleep, building, paused or failing (5xx) after waiting and retrying."""

    default_hint = (
        "Open the Space page to wake or restart it, check its logs, or raise wake_timeout; "
        "free Spaces pause after inactivity."
    )


class SpaceConnectionError(SpaceUnavailableError):
    """No connection could be made, or it broke before the answer was complete."""

    default_hint = "Check the URL, your network, and that the Space is running."


class SpacePausedError(SpaceUnavailableError):
    """The Hub reports the Space PAUSED: it will not wake up on its own."""

    default_hint = "Restart it from the Space's settings page on huggingface.co."

    def __init__(self, message: str, *, stage: str = "PAUSED", **kwargs: Any) -> None:
        self.stage = stage
        super().__init__(message, **kwargs)


class SpaceRuntimeError(SpaceUnavailableError):
    """The Hub reports the Space failed (``RUNTIME_ERROR``, ``BUILD_ERROR`` ...): it will not
    answer until its owner fixes it. ``stage`` and the Hub's ``error_message`` are kept."""

    default_hint = "Open the Space's logs on huggingface.co; fix the app and restart it."

    def __init__(
        self, message: str, *, stage: str, error_message: str | None = None, **kwargs: Any
    ) -> None:
        self.stage = stage
        self.error_message = error_message
        super().__init__(message, **kwargs)


class SpaceTimeoutError(HFSpacesError):
    """Connecting or reading took longer than the configured timeout."""

    default_hint = (
        "Raise connect_timeout/read_timeout, lower max_new_tokens, or check the Space's load."
    )


class SpaceResponseError(HFSpacesError):
    """The Space answered, but not in the format its protocol promises."""

    default_hint = (
        "Check that the Space implements the expected API format and that `protocol` is right."
    )

    def __init__(self, message: str, *, excerpt: str | None = None, **kwargs: Any) -> None:
        self.excerpt = excerpt
        if excerpt is not None:
            message = f"{message} Answer began: {excerpt!r}"
        super().__init__(message, **kwargs)


class StructuredOutputError(HFSpacesError):
    """The Space did not produce a valid structured answer, even after re-asking.

    ``attempts`` holds every attempt as ``(raw_text, errors)``.
    """

    default_hint = (
        "Use a model that follows instructions better, simplify the schema, lower the "
        "temperature, or raise max_retries."
    )

    def __init__(
        self, message: str, *, attempts: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        self.attempts = list(attempts or [])
        super().__init__(message, **kwargs)


AVAILABILITY_ERRORS: tuple[type[HFSpacesError], ...] = (
    SpaceUnavailableError,  # includes SpaceConnectionError
    SpaceTimeoutError,
    SpaceRateLimitError,
)
"""The failures that mean "this Space cannot answer now" (not "this request is wrong").

Falling back to the base tier (``fallback_to_base``, ``SpaceTierRouter``) happens on these only.
"""
