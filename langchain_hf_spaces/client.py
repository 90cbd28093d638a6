"""Clients for Spaces: :class:`SpaceClient` (one Space) and :class:`SpacesClient` (every tier).

Both are sync and async: ``generate``/``agenerate`` and friends. A call is one generator of
actions (``_flow.call_flow``: protocol, setup, request, follow-ups, stream), carried out by a
sync or an async driver (``_transport.drive`` / ``adrive``); the methods here only validate the
input, pick the call and the driver, and shape the result.

.. code-block:: python

    from langchain_hf_spaces import SpacesClient

    with SpacesClient() as spaces:                   # SpacesSettings.load(): env + hf-spaces.toml
        print(spaces.generate("Write a haiku about tea"))           # default tier
        print(spaces.generate("Summarise our policy", tier="company",
                              context={"audience": "new hires"}))

Tracing a call: :meth:`SpaceClient.complete` validates (``SpaceCore.validate``), builds a
``TextCall`` and runs ``call_flow`` through ``drive``; the flow asks ``_policy.exchange`` for
each HTTP exchange, which decides retries, waits and errors.
"""

from __future__ import annotations

from langchain_hf_spaces._answers import ConnectionReport, SpaceAnswer, StreamChunk
from langchain_hf_spaces._space import SpaceClient
from langchain_hf_spaces._spaces import SpacesClient
from langchain_hf_spaces._variations import DuplicateVariationsWarning

__all__ = [
    "ConnectionReport",
    "DuplicateVariationsWarning",
    "SpaceAnswer",
    "SpaceClient",
    "SpacesClient",
    "StreamChunk",
]
