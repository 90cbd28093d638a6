"""The generation parameters and their bounds, defined once.

The client validates with :class:`GenerationParameters`; the LangChain and LlamaIndex classes
declare their fields with the annotated types below (so a bound changes in one place), and the
CLI builds its options from :data:`GENERATION_PARAMETERS`. No I/O, no framework imports.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "GENERATION_PARAMETERS",
    "SAMPLING_PARAMETERS",
    "DoSample",
    "GenerationParameters",
    "MaxNewTokens",
    "RepetitionPenalty",
    "Seed",
    "Stop",
    "Temperature",
    "TopK",
    "TopP",
]

MaxNewTokens = Annotated[
    int, Field(ge=1, strict=True, description="Maximum number of tokens to generate.")
]
Temperature = Annotated[
    float,
    Field(
        ge=0,
        strict=True,
        allow_inf_nan=False,
        description="Sampling temperature (0: greedy; None: the Space's default).",
    ),
]
TopP = Annotated[
    float,
    Field(gt=0, le=1, strict=True, allow_inf_nan=False, description="Nucleus sampling mass."),
]
TopK = Annotated[int, Field(ge=1, strict=True, description="Top-k sampling.")]
RepetitionPenalty = Annotated[
    float,
    Field(gt=0, strict=True, allow_inf_nan=False, description="Penalty for repeated tokens."),
]
Seed = Annotated[
    int, Field(ge=0, strict=True, description="Random seed, for reproducible answers.")
]
DoSample = Annotated[bool, Field(strict=True, description="Sample instead of greedy decoding.")]
Stop = Annotated[
    list[str],
    Field(description="Sequences that end generation; applied to the answer on our side too."),
]


class GenerationParameters(BaseModel):
    """What a call may ask of the Space, with the bounds every entry point shares.

    Names it does not know pass through to the Space (``extra="allow"``) when their values are
    JSON; the client checks that.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    max_new_tokens: MaxNewTokens | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    top_k: TopK | None = None
    repetition_penalty: RepetitionPenalty | None = None
    seed: Seed | None = None
    do_sample: DoSample | None = None
    return_full_text: Annotated[bool, Field(strict=True)] | None = None
    details: Annotated[bool, Field(strict=True)] | None = None


GENERATION_PARAMETERS: tuple[str, ...] = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "seed",
    "do_sample",
)
"""The parameters the framework classes expose as fields (``stop`` is handled on its own)."""

SAMPLING_PARAMETERS: tuple[str, ...] = ("seed", "do_sample")
"""Hints a variation adds, sent only where the protocol accepts them."""


def allowed(name: str) -> str:
    """What a known parameter accepts, in words (for error messages)."""
    return _ALLOWED.get(name, "JSON data")


_ALLOWED: dict[str, str] = {
    "max_new_tokens": "an integer >= 1",
    "temperature": "a number >= 0",
    "top_p": "a number in (0, 1]",
    "top_k": "an integer >= 1",
    "repetition_penalty": "a number > 0",
    "seed": "an integer >= 0",
    "do_sample": "true or false",
    "return_full_text": "true or false",
    "details": "true or false",
}


def check_known(parameters: dict[str, Any]) -> tuple[str, Any] | None:
    """The first known parameter whose value is out of bounds, or ``None`` if all are fine."""
    fields = GenerationParameters.model_fields
    known = {k: v for k, v in parameters.items() if k in fields}
    if not known:
        return None
    try:
        GenerationParameters.model_validate(known)
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        if callable(errors):
            for err in errors():
                loc = err.get("loc") or ()
                if loc and isinstance(loc[0], str) and loc[0] in known:
                    return loc[0], known[loc[0]]
        name = next(iter(known))
        return name, known[name]
    return None
