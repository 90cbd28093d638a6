"""Run in a spawned process by test_copies: unpickle a model and call it."""

from __future__ import annotations

import pickle
from typing import Any


def call_pickled(blob: bytes) -> str:
    model: Any = pickle.loads(blob)  # noqa: S301 - our own pickle, in a test
    return str(model.invoke("from a worker"))


def token_provider() -> str:
    return "hf_PROVIDEDtokenDoNotLeak0123456789"
