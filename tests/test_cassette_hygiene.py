"""Cassettes are safe to publish and pleasant to read."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CASSETTES, PLANTED_TOKEN


def test_cassettes_hold_no_token() -> None:
    """Authorization is filtered at record time: no cassette may hold a token."""
    files = list(Path(CASSETTES).rglob("*.yaml"))
    assert files, "no cassettes recorded"
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert PLANTED_TOKEN not in text, path
        assert "Bearer " not in text, path
        assert "hf_" not in text or "hf_spaces" in text, path


def test_cassette_bodies_are_readable_json() -> None:
    path = Path(CASSETTES) / "test_cassettes" / "test_complete[generate].yaml"
    text = path.read_text(encoding="utf-8")
    assert "!!binary" not in text
    assert '"inputs": "Write a haiku about tea"' in text or "Write a haiku about tea" in text
