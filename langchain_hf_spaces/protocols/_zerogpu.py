"""ZeroGPU quota messages, as Spaces' Gradio apps send them. No I/O.

A ZeroGPU Space answers a caller whose GPU quota is spent with a Gradio error in one of two
forms (seen on Hugging Face)::

    You have exceeded your GPU quota (46s left vs. 60s requested). Sign-up on Hugging Face to get
    more quotas or retry in 0:09:48.
    You have exceeded your GPU quota (60s requested vs. 56s left). <a href=...>Create a free
    account</a> to get more usage quota.

:func:`parse_quota` reads the seconds left and requested and, when the message says it, how long
until the quota refills.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["Quota", "is_quota_message", "parse_quota", "plain_text"]

_MARK = re.compile(r"exceeded your (?:\w+ )?GPU quota", re.IGNORECASE)
_LEFT = re.compile(r"(\d+(?:\.\d+)?)\s*s\s+left", re.IGNORECASE)
_REQUESTED = re.compile(r"(\d+(?:\.\d+)?)\s*s\s+requested", re.IGNORECASE)
_RETRY = re.compile(r"retry in\s+(?:(\d+):)?(\d{1,2}):(\d{2})", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class Quota:
    message: str
    """The message as plain text (HTML stripped)."""
    seconds_left: float | None = None
    seconds_requested: float | None = None
    retry_after: float | None = None
    """Seconds until the quota allows this call again, when the message says."""


def plain_text(message: str) -> str:
    """``message`` without HTML tags and entities, on one line."""
    return " ".join(html.unescape(_TAG.sub("", message)).split())


def is_quota_message(message: str) -> bool:
    return bool(_MARK.search(message))


def _seconds(pattern: re.Pattern[str], text: str) -> float | None:
    found = pattern.search(text)
    return float(found.group(1)) if found else None


def parse_quota(message: str) -> Quota | None:
    """The quota in a ZeroGPU error message, or ``None`` when it is not one."""
    if not is_quota_message(message):
        return None
    text = plain_text(message)
    retry_after = None
    found = _RETRY.search(text)
    if found:
        hours = int(found.group(1) or 0)
        retry_after = float(hours * 3600 + int(found.group(2)) * 60 + int(found.group(3)))
    return Quota(
        message=text,
        seconds_left=_seconds(_LEFT, text),
        seconds_requested=_seconds(_REQUESTED, text),
        retry_after=retry_after,
    )
