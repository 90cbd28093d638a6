"""OpenTelemetry spans and metrics for Space calls (GenAI semantic conventions).

Needs ``opentelemetry-api`` (``pip install "langchain-hf-spaces[otel]"``); importing this module
does not import it. See ``docs/opentelemetry.md``::

    from opentelemetry.sdk.trace import TracerProvider

    from langchain_hf_spaces import SpaceClient, SpaceConfig
    from langchain_hf_spaces.telemetry import OTelObserver

    observer = OTelObserver(tracer_provider=TracerProvider())
    client = SpaceClient(SpaceConfig(url="https://user-space.hf.space"), observers=[observer])
"""

from __future__ import annotations

from langchain_hf_spaces._telemetry import (
    CAPTURE_CONTENT_ENV,
    PROVIDER_NAME,
    OTelObserver,
    capture_content_from_env,
    default_observer,
)

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "PROVIDER_NAME",
    "OTelObserver",
    "capture_content_from_env",
    "default_observer",
]
