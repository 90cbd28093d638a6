"""What several commands share: where the settings are, and the generation options.

The generation options of ``generate`` and ``batch`` are built from the one definition of the
parameters, :data:`~langchain_hf_spaces._params.GENERATION_PARAMETERS` with the types and
descriptions of :class:`~langchain_hf_spaces._params.GenerationParameters`; their bounds are
checked by the same model (the client's check), before anything is sent.
"""

from __future__ import annotations

import argparse
import json
import os
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._inputs import validate_parameters
from langchain_hf_spaces._params import GENERATION_PARAMETERS, GenerationParameters
from langchain_hf_spaces.cli._console import UsageError
from langchain_hf_spaces.client import SpaceClient
from langchain_hf_spaces.config import SpacesSettings

__all__ = [
    "add_generation_options",
    "check_parameters",
    "config_path",
    "generation_parameters",
    "load_settings",
    "parse_context",
]

_METAVARS = {"temperature": "T", "top_p": "P", "top_k": "K", "repetition_penalty": "R"}
"""How ``--help`` names an option's value, where the type's default (N, X) says too little."""


def config_path(args: argparse.Namespace) -> Path:
    """The settings file: ``--config``, else ``$HF_SPACES_CONFIG``, else ``./hf-spaces.toml``."""
    if args.config:
        return Path(args.config)
    env = os.environ.get("HF_SPACES_CONFIG")
    if env:
        return Path(env)
    return Path.cwd() / C.CONFIG_FILE_NAME


def load_settings(args: argparse.Namespace, profile: str | None = None) -> SpacesSettings:
    """The settings, from ``--config`` (or where :meth:`SpacesSettings.load` looks), the
    profile (``profile``, else ``--profile``, else ``$HF_SPACES_PROFILE``) and the env."""
    chosen = profile if profile is not None else getattr(args, "profile", None)
    return SpacesSettings.load(args.config or None, profile=chosen)


def _field_type(name: str) -> tuple[Any, str | None]:
    """A generation parameter's value type (``int``, ``float``, ``bool``) and description."""
    info = GenerationParameters.model_fields[name]
    annotation: Any = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):  # X | None
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    description = info.description
    if get_origin(annotation) is Annotated:
        annotation, *extras = get_args(annotation)
        for extra in extras:
            if isinstance(extra, FieldInfo) and extra.description:
                description = extra.description
    return annotation, description


def add_generation_options(p: argparse.ArgumentParser) -> None:
    """``--tier``, ``--context``, one option per generation parameter, and ``--stop``."""
    p.add_argument("--tier", help="the tier to use (default: the default tier)")
    p.add_argument(
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="context data (repeatable); a VALUE that parses as JSON is taken as JSON",
    )
    for name in GENERATION_PARAMETERS:
        kind, description = _field_type(name)
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            p.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, help=description)
        elif kind in (int, float):
            metavar = _METAVARS.get(name, "N" if kind is int else "X")
            p.add_argument(flag, dest=name, type=kind, metavar=metavar, help=description)
        else:  # pragma: no cover - a new parameter type needs a parser here
            raise TypeError(f"no command-line option for parameter {name} of type {kind!r}")
    p.add_argument("--stop", action="append", metavar="TEXT", help="stop sequence (repeatable)")


def generation_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The generation parameters given on the command line (``stop`` included)."""
    params = {name: getattr(args, name) for name in GENERATION_PARAMETERS}
    params["stop"] = args.stop
    return {k: v for k, v in params.items() if v is not None}


def check_parameters(space: SpaceClient, params: Mapping[str, Any]) -> None:
    """Raise the client's own :class:`SpaceInputError` for a value out of bounds, up front."""
    validate_parameters(params, tier=space.tier, url=space.config.url)


def parse_context(items: Sequence[str] | None) -> dict[str, Any] | None:
    """``--context KEY=VALUE`` options as a dict; a VALUE that parses as JSON is taken as JSON."""
    if not items:
        return None
    context: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"--context {item!r} is not KEY=VALUE.",
                hint='e.g. --context industry=healthcare --context tags=\'["a", "b"]\'',
            )
        if key in context:
            raise UsageError(f"--context key {key!r} is given twice.")
        try:
            context[key] = json.loads(value)
        except ValueError:
            context[key] = value
    return context
