"""Reading and writing the settings file (``hf-spaces.toml``).

TOML is written by ``tomli-w`` (the standard library only reads TOML), with our header comment
put before it; a file holding tokens is created with mode 0600 before any byte is written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from langchain_hf_spaces._loading import stores_tokens
from langchain_hf_spaces.cli._console import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["dumps_toml", "has_tokens", "loads_toml", "read_raw", "write_settings"]


def dumps_toml(data: Mapping[str, Any], *, header: str = "") -> str:
    """Write a settings dict (as :meth:`SpacesSettings.to_toml_dict` returns) as TOML text.

    ``header`` becomes ``#`` comment lines at the top. Scalars and lists become
    ``key = value``; nested dicts become ``[tables]``; ``None`` is left out.
    ``tomllib.loads(dumps_toml(d)) == d`` for such dicts.
    """
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    body = tomli_w.dumps(_without_none(data))
    if comment and body.startswith("["):
        comment += "\n"  # a blank line between the header and a first [table]
    return comment + body


def _without_none(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _without_none(value) if isinstance(value, Mapping) else value
        for key, value in data.items()
        if value is not None
    }


def loads_toml(text: str) -> dict[str, Any]:
    """Parse TOML text (``tomllib``, or ``tomli`` on Python 3.10)."""
    data: dict[str, Any] = tomllib.loads(text)
    return data


def refuse_symlink(path: Path) -> None:
    """A settings file (or its backup) is never written through a symlink planted there."""
    if path.is_symlink():
        raise UsageError(
            f"{path} is a symbolic link; refusing to write settings through it.",
            hint="Remove the link, or point --config at a regular file.",
        )


def write_settings(path: Path, text: str, *, secret: bool) -> None:
    """Write atomically; a file holding tokens gets mode 0600 before any byte is written.

    The temporary file is created exclusively under a random name (``mkstemp``: ``O_EXCL``,
    mode 0600), so a link planted beside the file cannot redirect the tokens, and a
    destination that is itself a symlink is refused."""
    refuse_symlink(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, 0o600 if secret else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.replace(tmp, path)


def has_tokens(data: Mapping[str, Any]) -> bool:
    """Whether a settings dict stores a token for any tier (a profile's tiers included)."""
    return stores_tokens(data)


def read_raw(path: Path) -> dict[str, Any]:
    """The settings file as a dict, unvalidated; a usage error if it is not TOML."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        return data
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"{path} exists but is not valid TOML: {exc}.",
            hint="Fix it by hand, or replace it with `hf-spaces init --force`.",
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}.") from None
