"""``hf-spaces doctor``: check the settings, the environment and every tier, step by step.

Each tier: URL form, DNS, connect, TLS (done here with the standard library, so that a failure
names its step), then auth, protocol and a tiny generation (``SpaceClient.test_connection``).
Every failure comes with a hint naming the user's own settings.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import stat
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._inputs import printable
from langchain_hf_spaces._loading import find_settings_file, user_settings_file
from langchain_hf_spaces._observe import CallObserver
from langchain_hf_spaces.cli._console import (
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    Console,
    UsageError,
    WaitProgress,
    error_line,
    wait_progress,
)
from langchain_hf_spaces.cli._options import config_path
from langchain_hf_spaces.cli._toml import has_tokens, read_raw
from langchain_hf_spaces.client import ConnectionReport, SpaceClient
from langchain_hf_spaces.config import (
    SpaceConfig,
    SpacesSettings,
    hub_endpoint,
    is_loopback_url,
    migrate_settings_dict,
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

__all__ = ["Check", "TierResult", "cmd_doctor"]

_TOKENS_PAGE = "https://huggingface.co/settings/tokens"


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    status: str  # "ok", "warn", "fail" or "skip"
    detail: str
    hint: str | None = None


@dataclass
class TierResult:
    """What the doctor found for one tier: its checks and the outcome of the generation."""

    tier: str
    url: str
    checks: list[Check] = field(default_factory=list)
    profile: str | None = None
    protocol: str | None = None
    latency: float | None = None
    error: str | None = None
    error_type: str | None = None
    hint: str | None = None
    variant: str | None = None
    """The tier's A/B variant checked (a tier with variants gets one result per variant)."""

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    @property
    def label(self) -> str:
        return self.tier if self.variant is None else f"{self.tier}/{self.variant}"

    def summary(self) -> str:
        if self.ok:
            ms = f"{(self.latency or 0) * 1000:.0f} ms"
            return f"{self.label:<12} OK    {self.url}  ({self.protocol}, {ms})"
        return f"{self.label:<12} FAIL  {self.url}  {self.error_type}: {self.error}"


def _token_source(cfg: SpaceConfig) -> tuple[str, bool]:
    """How the tier's token is found (never the token) and whether one is sent now."""
    origin = cfg.token_origin()
    if origin == "none":
        name = cfg.token_env or C.TOKEN_ENV_FALLBACK
        return f"nowhere (${name} not set, no saved login)", False
    return origin, not origin.startswith("not sent")


def _hub_check(client: SpaceClient) -> Check:
    """What the Hub says of the Space: id, stage, hardware, sleep time."""
    cfg = client.config
    if not cfg.space_id:
        return Check(
            "hub",
            "skip",
            "no Space id: set space_id (user/space), or url in that form, to see its stage",
        )
    try:
        runtime = client.runtime()
    except HFSpacesError as exc:
        return Check("hub", "skip", f"{cfg.space_id}: {exc.message}")
    if runtime is None:
        return Check("hub", "skip", f"{cfg.space_id}: the Hub ({hub_endpoint()}) did not answer")
    parts = [f"{cfg.space_id}: stage {runtime.stage}"]
    if runtime.hardware or runtime.requested_hardware:
        parts.append(f"hardware {runtime.hardware or runtime.requested_hardware}")
    if runtime.sleep_time:
        parts.append(f"sleeps after {runtime.sleep_time // 60} min idle")
    if runtime.error_message:
        parts.append(runtime.error_message)
    bad = runtime.stage in ("PAUSED", "RUNTIME_ERROR", "BUILD_ERROR", "CONFIG_ERROR")
    host = client.hub_host()
    if host is not None and host != cfg.url:
        return Check(
            "hub",
            "fail" if bad else "warn",
            ", ".join(parts) + f"; the Hub serves it at {host}, not {cfg.url}",
            f"Set url = {host!r} in [tiers.{client.tier}] (or HF_SPACES_"
            f"{client.tier.upper()}_URL).",
        )
    return Check("hub", "fail" if bad else "ok", ", ".join(parts))


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
            f"The token from {source} was refused: create a token with read access "
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
    tier: str,
    cfg: SpaceConfig,
    wake_timeout: float | None,
    progress: WaitProgress,
    profile: str | None = None,
    variant: str | None = None,
    observers: Sequence[CallObserver] | None = None,
) -> TierResult:
    """``doctor``'s checks of one tier; ``observers`` watch its test call (``None``: the
    client's defaults)."""
    result = TierResult(tier=tier, url=cfg.url, profile=profile, variant=variant)
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
    with SpaceClient(
        cfg, tier=tier, on_wait=progress, profile=profile, variant=variant, observers=observers
    ) as client:
        result.checks.append(_hub_check(client))
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
    # The file SpacesSettings.load() reads: --config, $HF_SPACES_CONFIG, ./hf-spaces.toml, or
    # the user's ~/.config/hf-spaces/hf-spaces.toml.
    found = find_settings_file(args.config or None, os.environ)
    path = found if found is not None else config_path(args)
    user = user_settings_file(os.environ)
    where = (
        "; the user's settings file" if not explicit and user is not None and path == user else ""
    )
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
                    f"no {C.CONFIG_FILE_NAME} here"
                    + (f" nor at {user}" if user is not None else "")
                    + "; using HF_SPACES_* variables only",
                    f"Run `{PROG} init` to write one.",
                )
            )
    else:
        try:
            raw = read_raw(path)
        except UsageError as exc:
            checks.append(Check("settings file", "fail", exc.message, exc.hint))
            raw = None
            file_ok = False
        if raw is not None:
            version = raw.get("version", 0)
            detail = f"{path} (version {version}{where})"
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
            try:  # an older format keeps its tiers elsewhere: look at them migrated
                current = migrate_settings_dict(raw)[0]
            except SpaceConfigError:
                current = raw
            if has_tokens(current):
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
        settings = SpacesSettings.load(
            path if path.exists() else None, profile=getattr(args, "profile", None)
        )
    except SpaceConfigError as exc:
        checks.append(Check("settings", "fail", error_line(exc), exc.hint or None))
        return checks, None
    checks.append(
        Check(
            "settings",
            "ok",
            f"tier(s) {', '.join(settings.tiers) or 'none'}; default tier {settings.default_tier}",
        )
    )
    if settings.profiles or settings.profile is not None:
        defined = ", ".join(sorted(settings.profiles))
        chosen = (
            f"profile {settings.profile}"
            if settings.profile is not None
            else f"no profile (none chosen: --profile or {C.ENV_PREFIX}PROFILE)"
        )
        checks.append(Check("profile", "ok", f"{chosen}; defined: {defined}"))
        for name in sorted(settings.profiles):  # the others must load too, for their day
            if name == settings.profile:
                continue
            try:
                SpacesSettings.load(path if path.exists() else None, profile=name)
            except SpaceConfigError as exc:
                checks.append(Check("profile", "warn", error_line(exc), exc.hint or None))
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


def _of_profile(profile: str | None) -> str:
    return f" (profile {profile})" if profile is not None else ""


def _print_checks(console: Console, checks: Sequence[Check]) -> None:
    for check in checks:
        # printable: what a hostile Space wrote (a lone surrogate) must not crash the report.
        console.print(printable(f"  {_MARKS[check.status]}  {check.name:<14} {check.detail}"))
        if check.hint and check.status in ("fail", "warn"):
            console.print(printable(f"        {'':<14} hint: {check.hint}"))


def cmd_doctor(args: argparse.Namespace, console: Console) -> int:
    """Check everything and print the report (see ``hf-spaces doctor --help``)."""
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
        with wait_progress(console) as progress:
            for name in names:
                cfg = settings.tiers[name]
                # A tier with A/B variants: each variant is checked as a Space of its own.
                variants: list[tuple[str | None, float, SpaceConfig]] = [
                    *cfg.variant_configs()
                ] or [(None, 0.0, cfg)]
                for variant, weight, vcfg in variants:
                    if not args.json:
                        share = f", variant {variant} (weight {weight:g})" if variant else ""
                        console.print(f"\nTier {name}{share}{_of_profile(settings.profile)}")
                        console.out.flush()
                    result = _doctor_tier(
                        name, vcfg, args.wake_timeout, progress, settings.profile, variant
                    )
                    results.append(result)
                    if not args.json:
                        _print_checks(console, result.checks)
                        console.out.flush()
    elif not args.json:
        console.print("Settings")
        _print_checks(console, checks)
    # No settings means a "fail" check said why, so ok is False then too.
    ok = all(c.status != "fail" for c in checks) and all(r.ok for r in results)
    if args.json:
        payload = {
            "ok": ok,
            "profile": settings.profile if settings is not None else getattr(args, "profile", None),
            "checks": [asdict(c) for c in checks],
            "tiers": [
                {
                    "tier": r.tier,
                    "profile": r.profile,
                    "variant": r.variant,
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
    console.print(f"\nSummary{_of_profile(settings.profile if settings else None)}")
    for r in results:
        console.print(printable("  " + r.summary()))
        if not r.ok and r.hint:
            console.print(printable(f"  {'':<12} hint: {r.hint}"))
    failed = [r for r in results if not r.ok]
    if failed:
        console.print(f"{len(failed)} of {len(results)} tier(s) failed.")
    elif not ok:
        console.print("The settings have a problem (see above).")
    else:
        console.print(f"All {len(results)} tier(s) passed.")
    return EXIT_OK if ok else EXIT_FAILED
