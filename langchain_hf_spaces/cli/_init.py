"""``hf-spaces init``: write ``hf-spaces.toml`` from answers or flags, or migrate an old one."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._loading import check_env_name
from langchain_hf_spaces.cli._console import EXIT_OK, PROG, Console, UsageError
from langchain_hf_spaces.cli._options import config_path
from langchain_hf_spaces.cli._toml import (
    dumps_toml,
    has_tokens,
    loads_toml,
    read_raw,
    refuse_symlink,
    write_settings,
)
from langchain_hf_spaces.client import SpaceClient
from langchain_hf_spaces.config import (
    KNOWN_PROTOCOLS,
    SpaceConfig,
    SpacesSettings,
    hub_endpoint,
    migrate_settings_dict,
    normalize_space_url,
)
from langchain_hf_spaces.errors import SpaceConfigError

__all__ = ["backup_settings", "cmd_init", "save_settings"]

_TIER_RE = re.compile(C.TIER_NAME_PATTERN)

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
        if not sep or not _TIER_RE.fullmatch(tier):
            tier, value = default_tier, raw
        if tier in out:
            raise UsageError(f"{option} is given twice for tier {tier!r}.")
        out[tier] = value.strip()
    return out


def _token_now(token_env: str | None) -> tuple[str | None, str]:
    """The token in the tier's variable now (or ``None``), and the variable's name."""
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
    for tier, name in fields["token_env"].items():
        check_env_name(name, f"--token-env (tier {tier!r})")  # never echoes a pasted token
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
            token, source = _token_now(entry.get("token_env"))
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

    def __init__(self, console: Console, stdin: TextIO) -> None:
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
    # A pasted token is refused without being echoed (a SpaceConfigError that never shows it).
    return str(check_env_name(value, "the token's variable")) if value else value


def _check_tiers(value: str) -> str:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise ValueError("name at least one tier")
    for name in names:
        if not _TIER_RE.fullmatch(name):
            raise ValueError(f"tier name {name!r} is invalid: use [a-z][a-z0-9_-]*")
    return ",".join(dict.fromkeys(names))


def _settings_interactive(args: argparse.Namespace, console: Console) -> SpacesSettings:
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
            token, source = _token_now(token_env or None)
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


def backup_settings(path: Path, raw: dict[str, Any]) -> Path:
    """Copy the settings file to ``<name>.bak`` before a migration (mode 0600 if it holds
    tokens); returns the backup's path."""
    backup = path.with_name(path.name + ".bak")
    refuse_symlink(backup)
    shutil.copy2(path, backup)
    if has_tokens(raw):
        os.chmod(backup, 0o600)  # the old file's tokens stay private in the copy too
    return backup


def save_settings(path: Path, data: dict[str, Any]) -> bool:
    """Write a settings dict (:meth:`SpacesSettings.to_toml_dict`) with init's header; a dict
    holding tokens is written with mode 0600. Returns whether it holds tokens."""
    secret = has_tokens(data)
    header = _HEADER_PRIVATE if secret else _HEADER
    write_settings(path, dumps_toml(data, header=header), secret=secret)
    return secret


def _init_migrate(path: Path, raw: dict[str, Any], console: Console) -> int:
    old_version = raw.get("version", 0)
    data, changes = migrate_settings_dict(raw)
    SpacesSettings(**data)  # a migrated file must load; raises SpaceConfigError otherwise
    backup = backup_settings(path, raw)
    save_settings(path, data)
    console.print(f"Migrated {path} from version {old_version} to {data['version']}:")
    for change in changes:
        console.print(f"  - {change}")
    console.print(f"The previous file was kept as {backup}.")
    return EXIT_OK


def _hosts_from_the_hub(settings: SpacesSettings, console: Console) -> SpacesSettings:
    """For tiers named by a Space id, the host the Hub serves them on (said either way)."""
    tiers = dict(settings.tiers)
    for tier, cfg in settings.tiers.items():
        if not cfg.space_id or not cfg.url.endswith(".hf.space"):
            continue  # a URL the user gave is kept as it is
        with SpaceClient(cfg, tier=tier) as client:
            host = client.hub_host()
        if host is None:
            console.print(
                f"  {tier}: the Hub ({hub_endpoint()}) did not answer; using {cfg.url}, "
                f"computed from {cfg.space_id}."
            )
        elif host != cfg.url:
            console.print(f"  {tier}: the Hub serves {cfg.space_id} at {host}.")
            tiers[tier] = cfg.updated(url=host, space_id=cfg.space_id)
        else:
            console.print(f"  {tier}: the Hub confirms {cfg.space_id} is served at {host}.")
    return settings.model_copy(update={"tiers": tiers}) if tiers != settings.tiers else settings


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    """Write the settings file (see ``hf-spaces init --help``)."""
    path = config_path(args)
    interactive = not args.non_interactive and not args.url
    new: SpacesSettings | None = None
    if path.exists() and not args.force:
        raw = read_raw(path)
        version = raw.get("version", 0)
        if isinstance(version, int) and version < C.CONFIG_FILE_VERSION and interactive:
            return _init_migrate(path, raw, console)
        if not interactive:
            new = _settings_from_flags(args)
            data = new.to_toml_dict(include_tokens=args.store_token)
            if loads_toml(dumps_toml(data)) == raw:
                console.print(f"{path} is already up to date; nothing to do.")
                return EXIT_OK
        raise UsageError(
            f"{path} already exists; not overwriting it.",
            hint="Use --force to replace it, or check it with `hf-spaces doctor`.",
        )
    if new is None:
        new = _settings_interactive(args, console) if interactive else _settings_from_flags(args)
    new = _hosts_from_the_hub(new, console)
    secret = save_settings(path, new.to_toml_dict(include_tokens=args.store_token))
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
