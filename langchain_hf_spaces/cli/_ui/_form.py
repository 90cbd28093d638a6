"""The settings page's data, with no I/O: the file's settings as the page shows them (never a
token), and the page's form turned back into a settings dict, with each error on its field.

The page sends strings; the settings models (:class:`SpaceConfig`, :class:`SpacesSettings`)
check them, so a field's error is the one :class:`SpaceConfigError` the Python API raises. A
field the page does not show (``max_response_bytes``, say) is kept as the file has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._loading import is_tier_name, migrate_settings_dict
from langchain_hf_spaces.cli._init import _check_url
from langchain_hf_spaces.config import (
    KNOWN_PROTOCOLS,
    NOT_SENT,
    SpaceConfig,
    SpacesSettings,
    normalize_space_url,
)
from langchain_hf_spaces.errors import SpaceConfigError

__all__ = ["FIELDS", "TIER_LABELS", "FormResult", "apply_form", "page_state", "token_status"]

TIER_LABELS = {
    "base": "Base Model",
    "company": "Company Model",
    "abstraction": "Abstraction Model",
    "user": "User Model",
}
"""The guide's four tiers, as its settings page names them; always shown, even when unset."""


@dataclass(frozen=True)
class Field:
    """One input of a tier card."""

    name: str
    label: str
    advanced: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""

    def as_json(self) -> dict[str, Any]:
        info = SpaceConfig.model_fields[self.name]
        default = "" if info.is_required() or info.default is None else info.default
        kind = info.annotation
        text = "number" if kind in (int, float) else "text"
        return {
            "name": self.name,
            "label": self.label,
            "advanced": self.advanced,
            "choices": list(self.choices),
            "default": str(default),
            "type": text,
            "help": self.help,
        }


FIELDS: tuple[Field, ...] = (
    Field(
        "url",
        "Space URL",
        help="https://<user>-<space>.hf.space, https://huggingface.co/spaces/<user>/<space> "
        "or <user>/<space>",
    ),
    Field("endpoint", "API endpoint"),
    Field("protocol", "Protocol", choices=KNOWN_PROTOCOLS, help="auto probes the Space once"),
    Field(
        "token_env",
        "Token environment variable",
        help=f"read the token from this variable (default {C.TOKEN_ENV_FALLBACK})",
    ),
    Field("revision", "Model revision", help="free text, for your records"),
    Field("connect_timeout", "Connect timeout (s)", advanced=True),
    Field("read_timeout", "Read timeout (s)", advanced=True),
    Field("max_retries", "Max retries", advanced=True),
    Field(
        "wake_timeout",
        "Wake timeout (s)",
        advanced=True,
        help="how long to wait for a sleeping Space",
    ),
    Field("wake_poll_interval", "Wake poll interval (s)", advanced=True),
    Field(
        "space_id", "Space id on the Hub", advanced=True, help="<user>/<space>, for a custom URL"
    ),
    Field("api_name", "Gradio API name", advanced=True),
    Field("model", "Model name (openai)", advanced=True),
)
_NAMES = tuple(f.name for f in FIELDS)
_PLACEHOLDER_URL = "http://127.0.0.1"
"""A valid URL to check a field other than ``url`` alone."""


def token_status(cfg: SpaceConfig) -> str:
    """``set (from config)``, ``set (from env NAME)``, ``set (from saved login ...)`` or
    ``not set``: where the tier's token comes from (:meth:`SpaceConfig.token_origin`)."""
    origin = cfg.token_origin()
    if origin == "none":
        return "not set"
    if origin == NOT_SENT:
        return "not set (an ambient token exists but is not sent to this host)"
    return f"set (from {origin})"


def _tier_view(name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    values = {f.name: "" if entry.get(f.name) is None else _text(entry[f.name]) for f in FIELDS}
    view: dict[str, Any] = {
        "name": name,
        "label": TIER_LABELS.get(name, name),
        "guide": name in TIER_LABELS,
        "values": values,
        "token_stored": bool(entry.get("token")),
        "normalised": "",
        "token_status": "",
    }
    try:
        cfg = SpaceConfig(**entry)
    except SpaceConfigError:
        return view
    view["normalised"] = cfg.url
    view["token_status"] = token_status(cfg)
    return view


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def page_state(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the page shows for a settings file's contents (``None``: no file yet).

    Never contains a token: only whether one is stored, and where the token sent comes from.
    """
    data, changes = migrate_settings_dict(dict(raw or {}))
    tiers = data.get("tiers") if isinstance(data.get("tiers"), Mapping) else {}
    assert isinstance(tiers, Mapping)
    names = list(TIER_LABELS) + [n for n in tiers if n not in TIER_LABELS]
    views = []
    for name in names:
        entry = tiers.get(name)
        views.append(_tier_view(name, entry if isinstance(entry, Mapping) else {}))
    return {
        "enabled": bool(data.get("enabled", True)),
        "default_tier": str(data.get("default_tier", C.DEFAULT_TIER)),
        "tiers": views,
        "fields": [f.as_json() for f in FIELDS],
        "tier_pattern": C.TIER_NAME_PATTERN,
        "migrated": bool(raw) and bool(changes),
        "version": C.CONFIG_FILE_VERSION,
    }


@dataclass
class FormResult:
    """The settings dict to write (``None`` when there are errors), the errors by field
    (``tiers.<tier>.<field>``, ``default_tier``, ``form``) and each tier's normalised URL."""

    data: dict[str, Any] | None
    errors: dict[str, str] = field(default_factory=dict)
    normalised: dict[str, str] = field(default_factory=dict)
    settings: SpacesSettings | None = None
    token_status: dict[str, str] = field(default_factory=dict)
    """Each valid tier's :func:`token_status`, as the form stands (a typed token counts)."""


def _message(exc: SpaceConfigError | ValueError) -> str:
    return exc.message if isinstance(exc, SpaceConfigError) else str(exc)


def _entry(name: str, form: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any] | None:
    """The tier's settings from its card (``None``: the card is empty, the tier unset)."""
    values = form.get("values") if isinstance(form.get("values"), Mapping) else {}
    assert isinstance(values, Mapping)
    entry: dict[str, Any] = {k: v for k, v in old.items() if k not in _NAMES and k != "token"}
    for key in _NAMES:
        value = values.get(key)
        if isinstance(value, str) and value.strip():
            entry[key] = value.strip()
    new_token = form.get("token_new")
    if isinstance(new_token, str) and new_token.strip():
        entry["token"] = new_token.strip()
    elif old.get("token") and not form.get("token_clear"):
        entry["token"] = old["token"]
    if (
        "url" not in entry
        and "token" not in entry
        and not entry.get("variants")  # A/B variants (kept as the file has them)
        and all(_is_default(k, entry.get(k)) for k in _NAMES)
    ):
        return None  # an empty card (a select still shows its default): no such tier
    return entry


def _is_default(name: str, value: Any) -> bool:
    info = SpaceConfig.model_fields[name]
    return value is None or (not info.is_required() and str(value) == str(info.default))


def _field_errors(entry: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """Each field checked on its own, by the model; and the URL normalised (or "")."""
    errors: dict[str, str] = {}
    url = entry.get("url", "")
    insecure = str(entry.get("allow_insecure_http", "")).lower() in ("true", "1")
    normalised = ""
    try:
        if url or not entry.get("variants"):  # a tier of variants may leave url to them
            _check_url(str(url))
            normalised = normalize_space_url(str(url), allow_insecure_http=insecure)
    except (SpaceConfigError, ValueError) as exc:
        errors["url"] = _message(exc)
    for key, value in entry.items():
        if key in ("url", "variants"):  # variants are checked with the other fields
            continue
        # space_id is checked against the url it goes with; any other field stands alone
        base = str(url) if key == "space_id" and normalised else _PLACEHOLDER_URL
        try:
            SpaceConfig(url=base, **{key: value})
        except SpaceConfigError as exc:
            errors[key] = exc.message
    return errors, normalised


def apply_form(raw: Mapping[str, Any] | None, form: Mapping[str, Any]) -> FormResult:
    """The page's form on top of the file's contents ``raw``: the new settings dict, or errors.

    ``form``: ``enabled``, ``default_tier`` and ``tiers``, a list of
    ``{"name", "values": {field: text}, "token_new", "token_clear"}``. A tier left out is
    removed; a field left empty takes its default; a token is kept unless replaced or cleared.
    """
    current, _ = migrate_settings_dict(dict(raw or {}))
    old_tiers = current.get("tiers") if isinstance(current.get("tiers"), Mapping) else {}
    assert isinstance(old_tiers, Mapping)
    result = FormResult(data=None)
    tiers: dict[str, dict[str, Any]] = {}
    cards = form.get("tiers")
    for card in cards if isinstance(cards, list) else []:
        if not isinstance(card, Mapping):
            continue
        name = str(card.get("name", ""))
        if not is_tier_name(name):
            try:
                SpacesSettings(enabled=False, tiers={name: SpaceConfig(url=_PLACEHOLDER_URL)})
            except SpaceConfigError as exc:
                result.errors[f"tiers.{name}.name"] = exc.message
            continue
        old = old_tiers.get(name)
        entry = _entry(name, card, old if isinstance(old, Mapping) else {})
        if entry is None:
            continue
        errors, normalised = _field_errors(entry)
        if normalised:
            result.normalised[name] = normalised
        for key, message in errors.items():
            result.errors[f"tiers.{name}.{key}"] = message
        if not errors:
            try:
                cfg = SpaceConfig(**entry)  # what only the fields together can say
                result.token_status[name] = token_status(cfg)
            except SpaceConfigError as exc:
                result.errors[f"tiers.{name}.url"] = exc.message
        tiers[name] = entry
    if result.errors:
        return result
    top = {k: v for k, v in current.items() if k not in ("enabled", "default_tier", "tiers")}
    try:
        settings = SpacesSettings(
            **top,
            enabled=bool(form.get("enabled", True)),
            default_tier=str(form.get("default_tier") or C.DEFAULT_TIER),
            tiers=tiers,
        )
    except SpaceConfigError as exc:
        where = "default_tier" if "default_tier" in exc.message else "form"
        result.errors[where] = exc.message
        return result
    result.settings = settings
    result.data = settings.to_toml_dict(include_tokens=True)
    return result
