"""Test and demo helpers: :class:`LocalSpace`, a real HTTP "Hugging Face Space" on loopback,
and :class:`FakeHub`, the Hub's Space API (runtime stages, rate limits) to point
``HF_ENDPOINT`` at.

Needs the ``server`` extra (``pip install "langchain-hf-spaces[server]"``)::

    import httpx
    from langchain_hf_spaces.testing import Fault, LocalSpace, scripted_responder

    with LocalSpace(name="base", token="hf_test") as space:
        space.inject(Fault.rate_limited(retry_after="1"))
        headers = {"Authorization": "Bearer hf_test"}
        r = httpx.post(f"{space.url}/api/generate", json={"inputs": "Hi"}, headers=headers)
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        r = httpx.post(f"{space.url}/api/generate", json={"inputs": "Hi"}, headers=headers)
        print(r.json()["generated_text"])  # "Demo answer from base: ..."
        assert len(space.requests) == 2

The answers of the default :func:`demo_responder` are deterministic filler, not the output of a
language model; use :func:`scripted_responder` or your own responder for exact answers.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "langchain_hf_spaces.testing needs starlette and uvicorn: "
        'pip install "langchain-hf-spaces[server]"'
    ) from exc

from langchain_hf_spaces.testing._app import SpaceApp
from langchain_hf_spaces.testing._dialects import AnswerShape
from langchain_hf_spaces.testing._faults import Fault, FaultKind, SleepForm
from langchain_hf_spaces.testing._hub import FakeHub, ScriptStep
from langchain_hf_spaces.testing._hub_app import HubRequest
from langchain_hf_spaces.testing._records import RecordedRequest
from langchain_hf_spaces.testing._responders import (
    Responder,
    ResponderError,
    ScriptedResponder,
    ScriptExhaustedError,
    demo_responder,
    scripted_responder,
)
from langchain_hf_spaces.testing._server import LocalSpace

__all__ = [
    "AnswerShape",
    "FakeHub",
    "Fault",
    "FaultKind",
    "HubRequest",
    "LocalSpace",
    "RecordedRequest",
    "Responder",
    "ResponderError",
    "ScriptExhaustedError",
    "ScriptStep",
    "ScriptedResponder",
    "SleepForm",
    "SpaceApp",
    "demo_responder",
    "scripted_responder",
]
