"""The ``hf-spaces`` command: ``init``, ``doctor``, ``generate`` and ``batch``.

.. code-block:: console

    $ hf-spaces init                       # asks for each tier; writes hf-spaces.toml
    $ hf-spaces init --non-interactive --url https://acme-base-llm.hf.space
    $ hf-spaces doctor                     # checks settings, environment and every tier
    $ hf-spaces generate "Write a haiku about tea" --tier company --context audience=kids
    $ hf-spaces batch prompts.txt          # one prompt per line -> prompts.results.jsonl

Exit codes: 0 success; 1 a Space failed (or ``doctor`` found a failure); 2 a usage or
configuration error. Errors are one line plus a hint; ``--debug`` adds the traceback and the
package's debug log. Tokens are never printed.

Only the standard library is used here (argparse; the progress bar is drawn by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import math
import os
import re
import shutil
import socket
import ssl
import stat
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces.client import ConnectionReport, SpaceAnswer, SpaceClient, SpacesClient
from langchain_hf_spaces.config import (
    KNOWN_PROTOCOLS,
    SpaceConfig,
    SpacesSettings,
    is_loopback_url,
    migrate_settings_dict,
    normalize_space_url,
)
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceAuthError,
    SpaceConfigError,
    SpaceNotFoundError,
    SpaceResponseError,
    SpacesDisabledError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "dumps_toml", "main"]

EXIT_OK = 0
"""Everything worked."""
EXIT_FAILED = 1
"""A Space failed, or ``doctor`` found a failure."""
EXIT_USAGE = 2
"""Bad arguments or bad settings."""
EXIT_INTERRUPTED = 130

PROG = "hf-spaces"
_LOGGER = "langchain_hf_spaces"
_WAKE_MESSAGE = "Space %s (tier %s) is waking up"
_TIER_RE = re.compile(C.TIER_NAME_PATTERN)
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOKENS_PAGE = "https://huggingface.co/settings/tokens"


class UsageError(Exception):
    """A usage or settings problem found by the command itself (exit code 2)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# ---------------------------------------------------------------------------- output


class _Console:
    """stdout for results, stderr for everything a human reads along the way."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    @property
    def live(self) -> bool:
        """True when stderr is a terminal (progress lines are redrawn in place)."""
        isatty = getattr(self.err, "isatty", None)
        return bool(isatty and isatty())

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def note(self, text: str = "") -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def error(self, message: str, hint: str | None) -> None:
        self.err.write(f"error: {message}\n")
        if hint:
            self.err.write(f"hint: {hint}\n")
        self.err.flush()


def _error_line(exc: HFSpacesError) -> str:
    where = []
    if exc.tier is not None:
        where.append(f"tier {exc.tier!r}")
    if exc.url is not None:
        where.append(f"Space {exc.url}")
    return f"[{', '.join(where)}] {exc.message}" if where else exc.message


class _WakeProgress(logging.Handler):
    """Turns the core's "is waking up" warnings into a progress line on stderr.

    On a terminal the line is redrawn in place every half second (elapsed time ticking);
    otherwise one line is written per poll.
    """

    def __init__(self, console: _Console) -> None:
        super().__init__(level=logging.WARNING)
        self.console = console
        self._lock = threading.Lock()
        self._state: tuple[str, float, float] | None = None  # tier, started, wake_timeout
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if not isinstance(record.msg, str) or not record.msg.startswith(_WAKE_MESSAGE):
            return
        args = record.args
        if not isinstance(args, tuple) or len(args) != 4:
            return
        _url, tier, elapsed, timeout = args
        if not isinstance(elapsed, (int, float)) or not isinstance(timeout, (int, float)):
            return
        started = time.monotonic() - float(elapsed)
        with self._lock:
            self._state = (str(tier), started, float(timeout))
        if self.console.live:
            self._draw()
            if self._ticker is None:
                self._stop.clear()
                self._ticker = threading.Thread(target=self._tick, daemon=True)
                self._ticker.start()
        else:
            self.console.note(self._line())

    def _line(self) -> str:
        with self._lock:
            if self._state is None:
                return ""
            tier, started, timeout = self._state
        elapsed = time.monotonic() - started
        return (
            f"  {tier}: the Space is waking up: {elapsed:.0f}s elapsed "
            f"of wake_timeout={timeout:.0f}s"
        )

    def _draw(self) -> None:
        self.console.err.write("\r\x1b[2K" + self._line())
        self.console.err.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._draw()

    def finish(self) -> None:
        """End the progress line (call when the request that waited is over)."""
        ticker = self._ticker
        if ticker is not None:
            self._stop.set()
            ticker.join(1.0)
            self._ticker = None
        with self._lock:
            was_waking = self._state is not None
            self._state = None
        if was_waking and self.console.live:
            self.console.err.write("\r\x1b[2K")
            self.console.err.flush()


@contextlib.contextmanager
def _wake_progress(console: _Console) -> Iterator[_WakeProgress]:
    handler = _WakeProgress(console)
    logger = logging.getLogger(_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        handler.finish()
        logger.removeHandler(handler)


class _Quiet(logging.Handler):
    """Keeps the package's warnings off stderr (Python's last-resort handler) by default."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


def _setup_logging(debug: bool, console: _Console) -> list[tuple[logging.Logger, logging.Handler]]:
    logger = logging.getLogger(_LOGGER)
    added: list[tuple[logging.Logger, logging.Handler]] = []
    if debug:
        handler: logging.Handler = logging.StreamHandler(console.err)
        handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
        logger.setLevel(logging.DEBUG)
        httpx_logger = logging.getLogger("httpx")
        httpx_logger.setLevel(logging.INFO)
        httpx_logger.addHandler(handler)
        added.append((httpx_logger, handler))
    else:
        handler = _Quiet()
    logger.addHandler(handler)
    added.append((logger, handler))
    return added


# ---------------------------------------------------------------------------- TOML


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_string(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"cannot write a {type(value).__name__} to TOML")


def dumps_toml(data: Mapping[str, Any], *, header: str = "") -> str:
    """Write a settings dict (as :meth:`SpacesSettings.to_toml_dict` returns) as TOML text.

    Scalars and lists become ``key = value``; nested dicts become ``[tables]``; ``None`` is
    left out. ``tomllib.loads(dumps_toml(d)) == d`` for such dicts.
    """
    lines: list[str] = [f"# {line}".rstrip() for line in header.splitlines()]

    def emit(table: Mapping[str, Any], prefix: list[str]) -> None:
        scalars = [(k, v) for k, v in table.items() if v is not None and not isinstance(v, Mapping)]
        tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
        if prefix and (scalars or not tables):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_toml_key(p) for p in prefix) + "]")
        for key, value in scalars:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        for key, value in tables:
            emit(value, [*prefix, key])

    emit(data, [])
    return "\n".join(lines) + "\n"


def _write_settings(path: Path, text: str, *, secret: bool) -> None:
    """Write atomically; a file holding tokens gets mode 0600 before any byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    try:
        if secret:
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.replace(tmp, path)


def _has_tokens(data: Mapping[str, Any]) -> bool:
    tiers = data.get("tiers")
    if not isinstance(tiers, Mapping):
        return False
    return any(isinstance(t, Mapping) and t.get("token") for t in tiers.values())


# ---------------------------------------------------------------------------- settings


def _config_path(args: argparse.Namespace) -> Path:
    if args.config:
        return Path(args.config)
    env = os.environ.get("HF_SPACES_CONFIG")
    if env:
        return Path(env)
    return Path.cwd() / C.CONFIG_FILE_NAME


def _load_settings(args: argparse.Namespace) -> SpacesSettings:
    return SpacesSettings.load(args.config or None)


# ---------------------------------------------------------------------------- init

_HEADER = """Settings for langchain-hf-spaces, written by `hf-spaces init`.
Tokens are not stored here unless `--store-token` was given: each tier reads its token
from the environment variable named by token_env, else from HF_TOKEN.
Check these settings with `hf-spaces doctor`."""

_HEADER_PRIVATE = """Settings for langchain-hf-spaces, written by `hf-spaces init --store-token`.
This file holds tokens: keep its mode 0600 and never commit it.
Check these settings with `hf-spaces doctor`."""


def _pairs(values: Sequence[str] | None, option: str, default_tier: str) -> dict[str, str]:
    """``TIER=VALUE`` (or a bare ``VALUE`` for the default tier) per occurrence."""
    out: dict[str, str] = {}
    for raw in values or ():
        tier, sep, value = raw.partition("=")
        if not sep or not _TIER_RE.match(tier):
            tier, value = default_tier, raw
        if tier in out:
            raise UsageError(f"{option} is given twice for tier {tier!r}.")
        out[tier] = value.strip()
    return out


def _token_now(tier: str, token_env: str | None) -> tuple[str | None, str]:
    name = token_env or C.TOKEN_ENV_FALLBACK
    return os.environ.get(name) or None, name


def _settings_from_flags(args: argparse.Namespace) -> SpacesSettings:
    default_tier = args.default_tier or C.DEFAULT_TIER
    urls = _pairs(args.url, "--url", default_tier)
    if not urls:
        raise UsageError(
            "init --non-interactive needs at least one --url.",
            hint="e.g. hf-spaces init --non-interactive --url https://<user>-<space>.hf.space",
        )
    fields: dict[str, dict[str, str]] = {
        "endpoint": _pairs(args.endpoint, "--endpoint", default_tier),
        "protocol": _pairs(args.protocol, "--protocol", default_tier),
        "token_env": _pairs(args.token_env, "--token-env", default_tier),
        "revision": _pairs(args.revision, "--revision", default_tier),
    }
    for name, per_tier in fields.items():
        for tier in per_tier:
            if tier not in urls:
                option = "--" + name.replace("_", "-")
                raise UsageError(
                    f"{option} names tier {tier!r}, which has no --url.",
                    hint=f"Add --url {tier}=<Space URL>, or drop {option} {tier}=...",
                )
    tiers: dict[str, dict[str, Any]] = {}
    for tier, url in urls.items():
        entry: dict[str, Any] = {"url": url}
        for name, per_tier in fields.items():
            if per_tier.get(tier):
                entry[name] = per_tier[tier]
        if args.store_token:
            token, source = _token_now(tier, entry.get("token_env"))
            if token is None:
                raise UsageError(
                    f"--store-token: tier {tier!r} has no token to store: ${source} is not set.",
                    hint=f"Export the token as {source} first, or drop --store-token and keep "
                    "the token in the environment (recommended).",
                )
            entry["token"] = token
        tiers[tier] = entry
    if args.default_tier is None and default_tier not in tiers:
        default_tier = next(iter(tiers))
    return SpacesSettings(enabled=not args.disabled, default_tier=default_tier, tiers=tiers)


class _Asker:
    """Questions on stderr, answers from stdin (hidden on a terminal for tokens)."""

    def __init__(self, console: _Console, stdin: TextIO) -> None:
        self.console = console
        self.stdin = stdin

    def ask(self, question: str, default: str = "") -> str:
        shown = f" [{default}]" if default else ""
        self.console.err.write(f"{question}{shown}: ")
        self.console.err.flush()
        line = self.stdin.readline()
        if not line:
            self.console.err.write("\n")
            raise UsageError(
                "stdin ended before `hf-spaces init` had all its answers.",
                hint="Answer every question, or use `hf-spaces init --non-interactive --url ...`.",
            )
        return line.strip() or default

    def ask_valid(self, question: str, default: str, check: Any) -> str:
        for _ in range(3):
            answer = self.ask(question, default)
            try:
                return str(check(answer))
            except (SpaceConfigError, ValueError) as exc:
                message = exc.message if isinstance(exc, SpaceConfigError) else str(exc)
                self.console.note(f"  invalid: {message}")
        raise UsageError(f"no valid answer to {question!r} after 3 tries.")

    def secret(self, question: str) -> str:
        isatty = getattr(self.stdin, "isatty", None)
        if isatty is not None and isatty():
            return getpass.getpass(f"{question}: ", stream=self.console.err).strip()
        return self.ask(question)


def _check_url(value: str) -> str:
    if not value:
        raise ValueError("a Space URL is required")
    normalize_space_url(value)
    return value


def _check_protocol(value: str) -> str:
    value = value.strip().lower()
    if value not in KNOWN_PROTOCOLS:
        raise ValueError(f"must be one of {', '.join(KNOWN_PROTOCOLS)}")
    return value


def _check_env_name(value: str) -> str:
    if value and not _ENV_RE.match(value):
        raise ValueError("must be an environment variable name such as HF_TOKEN")
    return value


def _check_tiers(value: str) -> str:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise ValueError("name at least one tier")
    for name in names:
        if not _TIER_RE.match(name):
            raise ValueError(f"tier name {name!r} is invalid: use [a-z][a-z0-9_-]*")
    return ",".join(dict.fromkeys(names))


def _settings_interactive(args: argparse.Namespace, console: _Console) -> SpacesSettings:
    asker = _Asker(console, sys.stdin)
    console.note(f"Setting up {C.CONFIG_FILE_NAME} (press Enter to accept the [default]).")
    tier_list = asker.ask_valid(
        "Tiers to configure, comma-separated (base, company, abstraction, user or your own)",
        args.default_tier or C.DEFAULT_TIER,
        _check_tiers,
    ).split(",")
    tiers: dict[str, dict[str, Any]] = {}
    for tier in tier_list:
        console.note(f"-- tier {tier}")
        url = asker.ask_valid(
            f"[{tier}] Space URL (https://huggingface.co/spaces/<user>/<space> "
            "or https://<user>-<space>.hf.space)",
            "",
            _check_url,
        )

        def check_endpoint(value: str, url: str = url) -> str:
            return SpaceConfig(url=url, endpoint=value).endpoint

        endpoint = asker.ask_valid(f"[{tier}] Endpoint", C.DEFAULT_ENDPOINT, check_endpoint)
        protocol = asker.ask_valid(
            f"[{tier}] Protocol ({', '.join(KNOWN_PROTOCOLS)})", C.DEFAULT_PROTOCOL, _check_protocol
        )
        token_env = asker.ask_valid(
            f"[{tier}] Environment variable holding the token "
            f"(Enter: {C.TOKEN_ENV_FALLBACK}; public Spaces need none)",
            "",
            _check_env_name,
        )
        revision = asker.ask(f"[{tier}] Model revision, for your records (optional)")
        entry: dict[str, Any] = {"url": url, "endpoint": endpoint, "protocol": protocol}
        if token_env:
            entry["token_env"] = token_env
        if revision:
            entry["revision"] = revision
        if args.store_token:
            token, source = _token_now(tier, token_env or None)
            if token is None:
                token = asker.secret(f"[{tier}] Token to store in the file (${source} is not set)")
            if not token:
                raise UsageError(f"--store-token: no token given for tier {tier!r}.")
            entry["token"] = token
        tiers[tier] = entry

    def check_default(value: str) -> str:
        if value not in tiers:
            raise ValueError(f"must be one of {', '.join(tiers)}")
        return value

    default = asker.ask_valid("Default tier", tier_list[0], check_default)
    enabled = asker.ask_valid("Enable Hugging Face Spaces? (y/n)", "y", _check_yes_no)
    return SpacesSettings(enabled=enabled == "y", default_tier=default, tiers=tiers)


def _check_yes_no(value: str) -> str:
    v = value.strip().lower()
    if v in ("y", "yes", "true", "1"):
        return "y"
    if v in ("n", "no", "false", "0"):
        return "n"
    raise ValueError("answer y or n")


def _init_migrate(path: Path, raw: dict[str, Any], console: _Console) -> int:
    old_version = raw.get("version", 0)
    data, changes = migrate_settings_dict(raw)
    SpacesSettings(**data)  # a migrated file must load; raises SpaceConfigError otherwise
    backup = path.with_name(path.name + ".bak")
    shutil.copy2(path, backup)
    secret = _has_tokens(data)
    header = _HEADER_PRIVATE if secret else _HEADER
    _write_settings(path, dumps_toml(data, header=header), secret=secret)
    console.print(f"Migrated {path} from version {old_version} to {data['version']}:")
    for change in changes:
        console.print(f"  - {change}")
    console.print(f"The previous file was kept as {backup}.")
    return EXIT_OK


def _read_raw(path: Path) -> dict[str, Any]:
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


def cmd_init(args: argparse.Namespace, console: _Console) -> int:
    path = _config_path(args)
    interactive = not args.non_interactive and not args.url
    new: SpacesSettings | None = None
    if path.exists() and not args.force:
        raw = _read_raw(path)
        version = raw.get("version", 0)
        if isinstance(version, int) and version < C.CONFIG_FILE_VERSION and interactive:
            return _init_migrate(path, raw, console)
        if not interactive:
            new = _settings_from_flags(args)
            data = new.to_toml_dict(include_tokens=args.store_token)
            if tomllib.loads(dumps_toml(data)) == raw:
                console.print(f"{path} is already up to date; nothing to do.")
                return EXIT_OK
        raise UsageError(
            f"{path} already exists; not overwriting it.",
            hint="Use --force to replace it, or check it with `hf-spaces doctor`.",
        )
    if new is None:
        new = _settings_interactive(args, console) if interactive else _settings_from_flags(args)
    data = new.to_toml_dict(include_tokens=args.store_token)
    secret = args.store_token and _has_tokens(data)
    _write_settings(
        path, dumps_toml(data, header=_HEADER_PRIVATE if secret else _HEADER), secret=secret
    )
    console.print(
        f"Wrote {path}: tier(s) {', '.join(new.tiers)}; default tier {new.default_tier}"
        + ("" if new.enabled else "; disabled (enabled = false)")
        + "."
    )
    if secret:
        console.print("The file holds tokens: its mode is 0600 (yours only). Never commit it.")
    else:
        for tier, cfg in new.tiers.items():
            source = cfg.token_env or C.TOKEN_ENV_FALLBACK
            console.print(f"  {tier}: the token (if the Space is private) is read from ${source}.")
    console.print(f"Next: {PROG} doctor")
    return EXIT_OK


# ---------------------------------------------------------------------------- doctor


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    status: str  # "ok", "warn", "fail" or "skip"
    detail: str
    hint: str | None = None


@dataclass
class TierResult:
    tier: str
    url: str
    checks: list[Check] = field(default_factory=list)
    protocol: str | None = None
    latency: float | None = None
    error: str | None = None
    error_type: str | None = None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def summary(self) -> str:
        if self.ok:
            ms = f"{(self.latency or 0) * 1000:.0f} ms"
            return f"{self.tier:<12} OK    {self.url}  ({self.protocol}, {ms})"
        return f"{self.tier:<12} FAIL  {self.url}  {self.error_type}: {self.error}"


def _token_source(cfg: SpaceConfig) -> tuple[str, bool]:
    """How the tier's token is found (never the token) and whether one is available now."""
    if cfg.has_token_provider:
        return "a token provider", True
    if cfg.token is not None:
        return "the token stored in the settings", True
    name = cfg.token_env or C.TOKEN_ENV_FALLBACK
    present = bool(os.environ.get(name))
    return f"${name} ({'set' if present else 'not set'})", present


def _specific_hint(tier: str, cfg: SpaceConfig, report: ConnectionReport) -> str | None:
    """The troubleshooting advice for this failure, naming this tier's settings."""
    source, has_token = _token_source(cfg)
    env_name = cfg.token_env or C.TOKEN_ENV_FALLBACK
    kind = report.error_type
    if kind == SpaceAuthError.__name__:
        if not has_token:
            return (
                f"No token was sent: export {env_name}=<a read token from {_TOKENS_PAGE}> "
                f"(or set token_env in [tiers.{tier}])."
            )
        return (
            f"The token from {source.split(' ')[0]} was refused: create a token with read access "
            f"to this Space at {_TOKENS_PAGE} and export it as {env_name}."
        )
    if kind == SpaceNotFoundError.__name__:
        extra = "" if has_token else " A private Space also answers 404 when no token is sent."
        return (
            f"Nothing answers at {cfg.url}{cfg.endpoint}: check the Space URL and the endpoint "
            f"in [tiers.{tier}] (default {C.DEFAULT_ENDPOINT}).{extra}"
        )
    if kind == SpaceResponseError.__name__:
        return (
            f"The Space answered, but not in the {report.protocol!r} format: set protocol = "
            f'"auto" in [tiers.{tier}] to detect it, or check the Space\'s API. '
            f"({report.hint})"
        )
    if kind == SpaceUnavailableError.__name__ and report.error and "asleep" in report.error:
        return (
            f"Open {cfg.url} in a browser to wake the Space, or rerun with "
            f"`{PROG} doctor --wake-timeout 600`."
        )
    if kind == SpaceTimeoutError.__name__:
        return (
            f"{report.hint} Current timeouts: connect_timeout={cfg.connect_timeout}s, "
            f"read_timeout={cfg.read_timeout}s."
        )
    return report.hint


def _network_checks(cfg: SpaceConfig) -> tuple[list[Check], bool]:
    """URL form, DNS, connect and TLS; the bool says whether the Space is worth calling."""
    checks: list[Check] = []
    parts = urlsplit(cfg.url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    if cfg.sends_token_insecurely:
        checks.append(
            Check(
                "url",
                "fail",
                f"{cfg.endpoint_url}: plain http to a non-loopback host would expose the token",
                "Use the Space's https URL.",
            )
        )
    else:
        if host.endswith(".hf.space"):
            form = "a Hugging Face Space URL"
        elif is_loopback_url(cfg.url):
            form = "loopback, this machine"
        else:
            form = "a custom https URL" if https else "a plain http URL (allow_insecure_http)"
        checks.append(Check("url", "ok", f"{cfg.endpoint_url} ({form})"))
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        checks.append(
            Check(
                "dns",
                "fail",
                f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}",
                "Check the Space name in the URL (https://<user>-<space>.hf.space, lower case) "
                "and your network or proxy.",
            )
        )
        return checks, False
    address = str(infos[0][4][0]) if infos else host
    checks.append(Check("dns", "ok", f"{host} -> {address}"))
    started = time.perf_counter()
    try:
        sock = socket.create_connection((host, port), timeout=cfg.connect_timeout)
    except OSError as exc:
        checks.append(
            Check(
                "connect",
                "fail",
                f"cannot connect to {host}:{port}: {exc.strerror or exc}",
                "Check that the Space is running (open its page) and that outgoing "
                "connections to it are allowed (firewall, proxy).",
            )
        )
        return checks, False
    with sock:
        ms = (time.perf_counter() - started) * 1000
        checks.append(Check("connect", "ok", f"{host}:{port} in {ms:.0f} ms"))
        if not https:
            checks.append(Check("tls", "skip", "plain http (no TLS)"))
            return checks, True
        try:
            context = ssl.create_default_context()
            with context.wrap_socket(sock, server_hostname=host) as tls:
                checks.append(Check("tls", "ok", f"{tls.version()}, certificate valid for {host}"))
        except ssl.SSLCertVerificationError as exc:
            checks.append(
                Check(
                    "tls",
                    "fail",
                    f"the certificate of {host} is not trusted: {exc.verify_message}",
                    "Check the URL; behind a TLS-intercepting proxy point SSL_CERT_FILE at its "
                    "CA bundle; check the system clock.",
                )
            )
            return checks, False
        except (ssl.SSLError, OSError) as exc:
            checks.append(Check("tls", "fail", f"TLS handshake with {host} failed: {exc}", None))
            return checks, False
    return checks, True


def _doctor_tier(
    tier: str, cfg: SpaceConfig, wake_timeout: float | None, progress: _WakeProgress
) -> TierResult:
    result = TierResult(tier=tier, url=cfg.url)
    checks, reachable = _network_checks(cfg)
    result.checks.extend(checks)
    source, has_token = _token_source(cfg)
    if not reachable:
        for name in ("auth", "protocol", "generation"):
            result.checks.append(Check(name, "skip", "not tried: the Space is not reachable"))
        failed = next(c for c in checks if c.status == "fail")
        result.error_type = "SpaceConnectionError"
        result.error = failed.detail
        result.hint = failed.hint
        return result
    with SpaceClient(cfg, tier=tier) as client:
        try:
            report = client.test_connection(wake_timeout=wake_timeout)
        finally:
            progress.finish()
    result.protocol = report.protocol
    result.latency = report.latency
    auto = " (auto-detected)" if cfg.protocol == "auto" and report.protocol != "auto" else ""
    if report.ok:
        result.checks.append(
            Check("auth", "ok", f"token from {source}" if has_token else "public (no token sent)")
        )
        result.checks.append(Check("protocol", "ok", f"{report.protocol}{auto}"))
        ms = (report.latency or 0) * 1000
        result.checks.append(Check("generation", "ok", f"{ms:.0f} ms: {report.sample!r}"))
        return result
    hint = _specific_hint(tier, cfg, report)
    result.error, result.error_type, result.hint = report.error, report.error_type, hint
    if report.error_type == SpaceAuthError.__name__:
        result.checks.append(Check("auth", "fail", f"refused; token from {source}", hint))
    elif report.auth_ok:
        result.checks.append(Check("auth", "ok", f"token from {source}"))
    else:
        result.checks.append(Check("auth", "skip", f"unknown; token from {source}"))
    if report.error_type in (SpaceResponseError.__name__, SpaceNotFoundError.__name__):
        result.checks.append(
            Check("protocol", "fail", f"{report.protocol}{auto}: {report.error}", hint)
        )
    else:
        result.checks.append(Check("protocol", "skip", f"{report.protocol}{auto}"))
    shown = any(c.hint for c in result.checks)
    result.checks.append(
        Check("generation", "fail", f"{report.error_type}: {report.error}", None if shown else hint)
    )
    return result


def _settings_checks(args: argparse.Namespace) -> tuple[list[Check], SpacesSettings | None]:
    checks: list[Check] = []
    explicit = args.config or os.environ.get("HF_SPACES_CONFIG")
    path = _config_path(args)
    file_ok = True
    if not path.exists():
        if explicit:
            checks.append(
                Check(
                    "settings file",
                    "fail",
                    f"{path} does not exist",
                    "Check --config / HF_SPACES_CONFIG, or create it with `hf-spaces init`.",
                )
            )
            file_ok = False
        else:
            checks.append(
                Check(
                    "settings file",
                    "warn",
                    f"no {C.CONFIG_FILE_NAME} here; using HF_SPACES_* variables only",
                    f"Run `{PROG} init` to write one.",
                )
            )
    else:
        try:
            raw = _read_raw(path)
        except UsageError as exc:
            checks.append(Check("settings file", "fail", exc.message, exc.hint))
            raw = None
            file_ok = False
        if raw is not None:
            version = raw.get("version", 0)
            detail = f"{path} (version {version})"
            if isinstance(version, int) and version < C.CONFIG_FILE_VERSION:
                checks.append(
                    Check(
                        "settings file",
                        "warn",
                        f"{detail}: an older format, migrated when read",
                        f"Run `{PROG} init` to migrate the file itself.",
                    )
                )
            else:
                checks.append(Check("settings file", "ok", detail))
            if _has_tokens(raw):
                mode = stat.S_IMODE(path.stat().st_mode)
                if mode & 0o077:
                    checks.append(
                        Check(
                            "file mode",
                            "fail",
                            f"{path} holds tokens but has mode {mode:04o} (others can read it)",
                            f"chmod 600 {path}",
                        )
                    )
                else:
                    checks.append(Check("file mode", "ok", f"holds tokens; mode {mode:04o}"))
    names = sorted(k for k in os.environ if k.startswith(C.ENV_PREFIX))
    hf_token = "set" if os.environ.get(C.TOKEN_ENV_FALLBACK) else "not set"
    checks.append(
        Check(
            "environment",
            "ok",
            f"{C.TOKEN_ENV_FALLBACK} {hf_token}; "
            f"{C.ENV_PREFIX}* variables: {', '.join(names) if names else 'none'}",
        )
    )
    if not file_ok:
        checks.append(Check("settings", "skip", "not loaded: the settings file has a problem"))
        return checks, None
    try:
        settings = SpacesSettings.load(path if path.exists() else None)
    except SpaceConfigError as exc:
        checks.append(Check("settings", "fail", _error_line(exc), exc.hint or None))
        return checks, None
    checks.append(
        Check(
            "settings",
            "ok",
            f"tier(s) {', '.join(settings.tiers) or 'none'}; default tier {settings.default_tier}",
        )
    )
    if settings.enabled:
        checks.append(Check("enabled", "ok", "enabled = true"))
    else:
        checks.append(
            Check(
                "enabled",
                "fail",
                "enabled = false: every call raises SpacesDisabledError",
                SpacesDisabledError.default_hint,
            )
        )
    return checks, settings


_MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def _print_checks(console: _Console, checks: Sequence[Check]) -> None:
    for check in checks:
        console.print(f"  {_MARKS[check.status]}  {check.name:<14} {check.detail}")
        if check.hint and check.status in ("fail", "warn"):
            console.print(f"        {'':<14} hint: {check.hint}")


def cmd_doctor(args: argparse.Namespace, console: _Console) -> int:
    checks, settings = _settings_checks(args)
    results: list[TierResult] = []
    if settings is not None:
        names = list(settings.tiers)
        if args.tier is not None:
            settings.space(args.tier)  # a SpaceConfigError (exit 2) for an unknown tier
            names = [args.tier]
        if not args.json:
            console.print("Settings")
            _print_checks(console, checks)
            console.out.flush()
        with _wake_progress(console) as progress:
            for name in names:
                cfg = settings.tiers[name]
                if not args.json:
                    console.print(f"\nTier {name}")
                    console.out.flush()
                result = _doctor_tier(name, cfg, args.wake_timeout, progress)
                results.append(result)
                if not args.json:
                    _print_checks(console, result.checks)
                    console.out.flush()
    elif not args.json:
        console.print("Settings")
        _print_checks(console, checks)
    ok = all(c.status != "fail" for c in checks) and all(r.ok for r in results)
    if settings is None:
        ok = False
    if args.json:
        payload = {
            "ok": ok,
            "checks": [asdict(c) for c in checks],
            "tiers": [
                {
                    "tier": r.tier,
                    "url": r.url,
                    "ok": r.ok,
                    "protocol": r.protocol,
                    "latency": r.latency,
                    "error": r.error,
                    "error_type": r.error_type,
                    "hint": r.hint,
                    "checks": [asdict(c) for c in r.checks],
                }
                for r in results
            ],
        }
        console.print(json.dumps(payload, indent=2))
        return EXIT_OK if ok else EXIT_FAILED
    console.print("\nSummary")
    for r in results:
        console.print("  " + r.summary())
        if not r.ok and r.hint:
            console.print(f"  {'':<12} hint: {r.hint}")
    failed = [r for r in results if not r.ok]
    if failed:
        console.print(f"{len(failed)} of {len(results)} tier(s) failed.")
    elif not ok:
        console.print("The settings have a problem (see above).")
    else:
        console.print(f"All {len(results)} tier(s) passed.")
    return EXIT_OK if ok else EXIT_FAILED


# ---------------------------------------------------------------------------- generate


def _parse_context(items: Sequence[str] | None) -> dict[str, Any] | None:
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


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    params = {
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
        "repetition_penalty": args.repetition_penalty,
        "seed": args.seed,
        "stop": args.stop,
    }
    return {k: v for k, v in params.items() if v is not None}


def _read_prompt(value: str) -> str:
    if value == "-":
        return sys.stdin.read().rstrip("\r\n")
    return value


def _read_schema(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the schema file {path!r}: {exc.strerror or exc}.") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(
            f"the schema file {path!r} is not JSON: {exc}.",
            hint='Write the schema as JSON, e.g. {"title": "string", "pros": "string[]"}.',
        ) from None


def _needs(spaces: SpacesClient, method: str, option: str) -> Any:
    fn = getattr(spaces, method, None)
    if fn is None:
        raise UsageError(
            f"{option} needs SpacesClient.{method}, which this version of "
            "langchain-hf-spaces does not have.",
            hint="Upgrade langchain-hf-spaces.",
        )
    return fn


def _dump_structured(value: Any) -> str:
    dump = getattr(value, "model_dump", None)
    data = dump(mode="json") if callable(dump) else value
    return json.dumps(data, indent=2, ensure_ascii=False)


def _numbered(texts: Sequence[str]) -> str:
    width = len(str(len(texts)))
    lines = []
    for i, text in enumerate(texts, 1):
        label = f"{i:>{width}}. "
        body = text.strip().replace("\n", "\n" + " " * len(label))
        lines.append(label + body)
    return "\n".join(lines)


def cmd_generate(args: argparse.Namespace, console: _Console) -> int:
    if args.schema and args.variations is not None:
        raise UsageError("--schema and --variations cannot be combined.")
    if args.stream and (args.schema or args.variations is not None or args.json):
        raise UsageError("--stream prints plain text; drop --schema, --variations or --json.")
    if args.variations is not None and args.variations < 1:
        raise UsageError(f"--variations must be at least 1, got {args.variations}.")
    prompt = _read_prompt(args.prompt)
    context = _parse_context(args.context)
    params = _parameters(args)
    schema = _read_schema(args.schema) if args.schema else None
    settings = _load_settings(args)
    with SpacesClient(settings) as spaces, _wake_progress(console) as progress:
        if schema is not None:
            fn = _needs(spaces, "generate_structure", "--schema")
            result = fn(prompt, schema, tier=args.tier, context=context, **params)
            progress.finish()
            console.print(_dump_structured(result))
            return EXIT_OK
        if args.variations is not None:
            fn = _needs(spaces, "generate_variations", "--variations")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                texts = list(fn(prompt, args.variations, tier=args.tier, context=context, **params))
            progress.finish()
            for warning in caught:
                console.note(f"warning: {warning.message}")
            if args.json:
                console.print(json.dumps(texts, indent=2, ensure_ascii=False))
            else:
                console.print(_numbered(texts))
            return EXIT_OK
        answer: SpaceAnswer | None = None
        if args.stream:
            space = spaces.space(args.tier)
            for chunk in space.stream_chunks(prompt, context=context, **params):
                if chunk.text:
                    progress.finish()
                    console.out.write(chunk.text)
                    console.out.flush()
                if chunk.answer is not None:
                    answer = chunk.answer
            console.out.write("\n")
        else:
            answer = spaces.complete(prompt, args.tier, context, **params)
            progress.finish()
            if args.json:
                console.print(
                    json.dumps(
                        {"text": answer.text, "metadata": answer.metadata},
                        indent=2,
                        ensure_ascii=False,
                    )
                )
            else:
                console.print(answer.text)
        if args.verbose and answer is not None:
            meta = answer.metadata
            console.note(
                f"[{meta['tier']}] {meta['url']} protocol={meta['protocol']} "
                f"latency={answer.latency * 1000:.0f} ms attempts={answer.attempts}"
            )
    return EXIT_OK


# ---------------------------------------------------------------------------- batch


class _ProgressBar:
    """``[########..........]  12/40  30%  1 failed  3.2s`` on stderr, drawn by hand."""

    WIDTH = 30

    def __init__(self, console: _Console, total: int, *, enabled: bool) -> None:
        self.console = console
        self.total = total
        self.enabled = enabled
        self.live = enabled and console.live
        self.started = time.monotonic()
        self.done = 0
        self.failed = 0

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        filled = int(frac * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        return (
            f"[{bar}] {self.done}/{self.total} {frac * 100:3.0f}%  "
            f"{self.failed} failed  {elapsed:.1f}s"
        )

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if self.live:
            self.console.err.write("\r\x1b[2K" + self.line())
            self.console.err.flush()

    def close(self) -> None:
        if self.enabled:
            prefix = "\r\x1b[2K" if self.live else ""
            self.console.err.write(prefix + self.line() + "\n")
            self.console.err.flush()


def _load_previous(path: Path, prompts: Mapping[int, str]) -> tuple[dict[int, dict[str, Any]], int]:
    """Successful records of an earlier run that still match the input; and how many changed."""
    done: dict[int, dict[str, Any]] = {}
    changed = 0
    if not path.exists():
        return done, changed
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a line cut short when the previous run stopped
        if not isinstance(record, dict) or record.get("error") is not None:
            continue
        line = record.get("line")
        if not isinstance(line, int) or line not in prompts:
            continue
        if record.get("prompt") != prompts[line]:
            changed += 1
            continue
        done[line] = record
    return done, changed


def _write_records(path: Path, records: Mapping[int, dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for line in sorted(records):
            fh.write(json.dumps(records[line], ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _default_output(path: Path) -> Path:
    return path.with_name(path.stem + ".results.jsonl")


def cmd_batch(args: argparse.Namespace, console: _Console) -> int:
    source = Path(args.file)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {str(source)!r}: {exc.strerror or exc}.") from None
    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.concurrency}.")
    prompts = {i: ln.strip() for i, ln in enumerate(text.splitlines(), 1) if ln.strip()}
    if not prompts:
        raise UsageError(f"{source} has no prompts (one prompt per line).")
    output = Path(args.output) if args.output else _default_output(source)
    if output.resolve() == source.resolve():
        raise UsageError("--output must not be the input file.")
    context = _parse_context(args.context)
    params = _parameters(args)
    settings = _load_settings(args)
    done, changed = ({}, 0) if args.restart else _load_previous(output, prompts)
    pending = [(line, p) for line, p in prompts.items() if line not in done]
    records: dict[int, dict[str, Any]] = dict(done)
    if done:
        console.note(
            f"Resuming: {len(done)} of {len(prompts)} prompt(s) already answered in {output}"
            + (f"; {changed} changed since and redone" if changed else "")
            + "."
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    _write_records(output, records)
    with SpacesClient(settings) as spaces:
        spaces.space(args.tier)  # unknown tier or disabled: exit 2 before anything is sent
        bar = _ProgressBar(console, len(pending), enabled=not args.no_progress)
        with _wake_progress(console), output.open("a", encoding="utf-8") as sink:
            try:
                asyncio.run(_run_batch(spaces, pending, args, context, params, records, sink, bar))
            finally:
                bar.close()
                sink.flush()
        _write_records(output, records)
    failed = sum(1 for r in records.values() if r.get("error") is not None)
    console.note(
        f"Wrote {len(records)} result(s) to {output}"
        + (f"; {failed} failed (run the same command again to retry them)" if failed else "")
        + "."
    )
    return EXIT_FAILED if failed else EXIT_OK


async def _run_batch(
    spaces: SpacesClient,
    pending: Sequence[tuple[int, str]],
    args: argparse.Namespace,
    context: dict[str, Any] | None,
    params: dict[str, Any],
    records: dict[int, dict[str, Any]],
    sink: TextIO,
    bar: _ProgressBar,
) -> None:
    semaphore = asyncio.Semaphore(args.concurrency)

    async def one(line: int, prompt: str) -> None:
        async with semaphore:
            record: dict[str, Any] = {"line": line, "prompt": prompt}
            try:
                answer = await spaces.acomplete(prompt, args.tier, context, **params)
            except HFSpacesError as exc:
                record["error"] = {
                    "type": type(exc).__name__,
                    "message": _error_line(exc),
                    "hint": exc.hint or None,
                }
            else:
                record["text"] = answer.text
                record["metadata"] = answer.metadata
                record["error"] = None
        records[line] = record
        sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        sink.flush()
        bar.advance(record["error"] is not None)

    await asyncio.gather(*(one(line, prompt) for line, prompt in pending))
    await spaces.aclose()


# ---------------------------------------------------------------------------- parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("langchain-hf-spaces")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "unknown"


def _add_generation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tier", help="the tier to use (default: the default tier)")
    p.add_argument(
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="context data (repeatable); a VALUE that parses as JSON is taken as JSON",
    )
    p.add_argument("--max-new-tokens", type=int, metavar="N")
    p.add_argument("--temperature", type=float, metavar="T")
    p.add_argument("--top-p", type=float, metavar="P")
    p.add_argument("--top-k", type=int, metavar="K")
    p.add_argument("--repetition-penalty", type=float, metavar="R")
    p.add_argument("--seed", type=int, metavar="N")
    p.add_argument("--stop", action="append", metavar="TEXT", help="stop sequence (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The ``hf-spaces`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"settings file (default: $HF_SPACES_CONFIG, else ./{C.CONFIG_FILE_NAME})",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and the package's debug log (never tokens)",
    )
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Use LLMs deployed on Hugging Face Spaces: set up, check and generate.",
        epilog="Exit codes: 0 ok, 1 a Space failed (or doctor found a failure), "
        "2 usage or settings error.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "init",
        parents=[common],
        help=f"write {C.CONFIG_FILE_NAME} (asks, or takes flags)",
        description=f"Write {C.CONFIG_FILE_NAME}. Asks for each tier unless --url or "
        "--non-interactive is given. Per-tier options take TIER=VALUE (a bare VALUE applies to "
        "the default tier). Tokens are not written unless --store-token is given. An existing "
        "file of an older version is migrated; any other existing file is kept unless --force.",
    )
    p.add_argument("--non-interactive", "-y", action="store_true", help="ask nothing")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--url", action="append", metavar="[TIER=]URL", help="a tier's Space URL")
    p.add_argument("--endpoint", action="append", metavar="[TIER=]PATH")
    p.add_argument(
        "--protocol", action="append", metavar="[TIER=]NAME", help=", ".join(KNOWN_PROTOCOLS)
    )
    p.add_argument(
        "--token-env",
        action="append",
        metavar="[TIER=]VAR",
        help=f"environment variable holding the tier's token (default {C.TOKEN_ENV_FALLBACK})",
    )
    p.add_argument("--revision", action="append", metavar="[TIER=]REV")
    p.add_argument("--default-tier", metavar="TIER")
    p.add_argument("--disabled", action="store_true", help="write enabled = false")
    p.add_argument(
        "--store-token",
        action="store_true",
        help="store each tier's token (read now from its token variable) in the file, mode 0600",
    )
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "doctor",
        parents=[common],
        help="check settings, environment and every tier",
        description="Check the settings file, the environment, the enabled switch, then each "
        "tier: URL, DNS, connect, TLS, auth, protocol and a tiny generation.",
    )
    p.add_argument("--tier", help="check only this tier")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    p.add_argument(
        "--wake-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for a sleeping Space (default: each tier's wake_timeout)",
    )
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "generate",
        parents=[common],
        help="generate an answer to PROMPT",
        description="Print the answer to PROMPT ('-' reads it from stdin).",
    )
    p.add_argument("prompt", metavar="PROMPT", help="the prompt, or - to read it from stdin")
    _add_generation_options(p)
    p.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    p.add_argument("--schema", metavar="FILE", help="JSON schema file: print a JSON object")
    p.add_argument("--variations", type=int, metavar="N", help="print N numbered variations")
    p.add_argument("--json", action="store_true", help="print JSON (text and metadata)")
    p.add_argument("--verbose", "-v", action="store_true", help="print metadata on stderr")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "batch",
        parents=[common],
        help="answer one prompt per line of FILE, writing JSONL",
        description="Answer every non-empty line of FILE concurrently and write one JSON "
        "record per line to FILE's stem + .results.jsonl (or --output). Running it again "
        "resumes: answered lines are kept, failed and new ones are done.",
    )
    p.add_argument("file", metavar="FILE")
    _add_generation_options(p)
    p.add_argument("--output", "-o", metavar="PATH")
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="default 4")
    p.add_argument("--restart", action="store_true", help="ignore the results of earlier runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_batch)
    return parser


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run ``hf-spaces`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        # --config/--debug may come before or after the command; absent means unset.
        args.config = getattr(args, "config", None)
        args.debug = getattr(args, "debug", False)
    except SystemExit as exc:  # --help, --version, or a usage error argparse printed
        status = exc.code
        return status if isinstance(status, int) else (EXIT_OK if status is None else EXIT_USAGE)
    console = _Console(sys.stdout, sys.stderr)
    debug = bool(args.debug)
    handlers = _setup_logging(debug, console)
    try:
        code: int = args.func(args, console)
        return code
    except UsageError as exc:
        if debug:
            traceback.print_exc(file=console.err)
        console.error(exc.message, exc.hint)
        return EXIT_USAGE
    except HFSpacesError as exc:
        if debug:
            traceback.print_exc(file=console.err)
        console.error(_error_line(exc), exc.hint or None)
        if isinstance(exc, (SpaceConfigError, SpacesDisabledError)):
            return EXIT_USAGE
        return EXIT_FAILED
    except KeyboardInterrupt:
        console.note("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `hf-spaces generate ... | head`: the reader left; say nothing more.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:
        if debug:
            traceback.print_exc(file=console.err)
        console.error(
            f"unexpected {type(exc).__name__}: {exc}",
            f"This looks like a bug; rerun with `{PROG} --debug ...` and report the traceback.",
        )
        return EXIT_FAILED
    finally:
        for logger, handler in handlers:
            logger.removeHandler(handler)
        with contextlib.suppress(Exception):
            console.out.flush()
