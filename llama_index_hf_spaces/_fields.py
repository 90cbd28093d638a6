"""Constructor and metadata helpers of :class:`HuggingFaceSpaceLLM` (no I/O)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, cast

from langchain_hf_spaces._loading import ARGUMENT_CUTOFF, closest
from langchain_hf_spaces.errors import SpaceConfigError

__all__ = ["extra_arguments", "limits_from_info"]

# The constructor's own arguments besides the fields (for "did you mean" on a misspelling).
_INIT_ARGS = frozenset(
    {"settings", "client", "http_client", "async_http_client", "model", "max_tokens"}
)


def extra_arguments(
    kwargs: dict[str, Any], fields: set[str], *, tier: str, url: str | None
) -> None:
    """Misspelt fields are errors naming the closest one; other unknown arguments move to
    ``kwargs["additional_kwargs"]`` (sent to the Space as generation parameters, as
    ``OpenAILike.additional_kwargs`` are), with a warning."""
    unknown = [key for key in kwargs if key not in fields]
    if not unknown:
        return
    names = fields | _INIT_ARGS
    extra: dict[str, Any] = {}
    for key in unknown:
        close = closest(key, names, cutoff=ARGUMENT_CUTOFF)
        if close:
            raise SpaceConfigError(
                f"HuggingFaceSpaceLLM got an unknown argument {key!r}; did you mean {close!r}?",
                tier=tier,
                url=url,
                hint="To send a generation parameter the Space takes as it is, put it in "
                "additional_kwargs={...}.",
            )
        extra[key] = kwargs.pop(key)
    warnings.warn(
        f"HuggingFaceSpaceLLM: {', '.join(map(repr, extra))} "
        f"{'is not a field' if len(extra) == 1 else 'are not fields'}; sent to the Space as "
        "generation parameters (additional_kwargs). Pass additional_kwargs={...} to say so.",
        UserWarning,
        stacklevel=3,
    )
    kwargs["additional_kwargs"] = {**extra, **kwargs.get("additional_kwargs", {})}


def limits_from_info(info: Mapping[str, Any] | None) -> tuple[int | None, int | None]:
    """``(context_window, num_output)`` from a TGI-style ``/info`` body (None when absent)."""
    if not info:
        return None, None

    def positive(name: str) -> int | None:
        value = info.get(name)
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return cast(int, value) if ok else None

    total = positive("max_total_tokens")
    max_input = positive("max_input_tokens") or positive("max_input_length")
    output = total - max_input if total and max_input and total > max_input else None
    return total, output
