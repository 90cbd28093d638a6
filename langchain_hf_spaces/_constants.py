"""Every default policy value in one place.

Each value can be overridden per Space (on :class:`~langchain_hf_spaces.SpaceConfig`) and most
per call. Keep this module free of imports from the rest of the package.
"""

from __future__ import annotations

VERSION = "0.1.0"
"""This package's version (kept equal to pyproject.toml's; a test checks it)."""

TIERS: tuple[str, ...] = ("base", "company", "abstraction", "user")
"""The four tiers the guide names; other names matching :data:`TIER_NAME_PATTERN` are allowed."""

DEFAULT_TIER = "base"
TIER_NAME_PATTERN = r"^[a-z][a-z0-9_-]*$"

DEFAULT_ENDPOINT = "/api/generate"
DEFAULT_PROTOCOL = "generate"

CONFIG_FILE_NAME = "hf-spaces.toml"
CONFIG_FILE_VERSION = 1
ENV_PREFIX = "HF_SPACES_"
TOKEN_ENV_FALLBACK = "HF_TOKEN"  # noqa: S105 - a variable name, not a secret

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection. Short: a Space that does not accept connections is down."""
DEFAULT_READ_TIMEOUT = 120.0
"""Seconds to wait between bytes of an answer. Long: generation takes time."""
DEFAULT_TOTAL_TIMEOUT = 1200.0
"""Seconds the whole call may take (connecting, waiting for a sleeping Space, retries, reading
the answer or its stream): above the GPU wake wait, so only a stuck Space reaches it."""
DEFAULT_POOL_TIMEOUT = 60.0
"""Seconds a call waits for a free connection to its Space (``DEFAULT_MAX_CONNECTIONS`` are in
use) before a ``SpaceTimeoutError``."""
DEFAULT_MAX_RETRIES = 2
"""Retries after the first attempt on connect errors, 429 and 5xx (not other 4xx)."""
DEFAULT_RETRY_INITIAL_DELAY = 0.5
DEFAULT_RETRY_MAX_DELAY = 8.0
DEFAULT_MAX_RETRY_AFTER = 60.0
"""A ``Retry-After`` longer than this is not waited for: the rate-limit error is raised at once."""
DEFAULT_WAKE_TIMEOUT = 300.0
"""Seconds to wait for a sleeping or building Space to come up before giving up."""
DEFAULT_GPU_WAKE_TIMEOUT = 900.0
"""The wait for a Space the Hub reports on GPU hardware, when ``wake_timeout`` was not set:
GPU LLM Spaces take minutes to start (3 to 9 minutes observed for T4 Spaces)."""
HUB_POLL_INTERVAL = 5.0
"""Seconds between questions to the Hub about one Space's stage while waiting for it."""
HUB_RETRY_AFTER_FAILURE = 30.0
"""After the Hub did not answer (or refused), it is not asked about that Space for this long."""
HUB_TIMEOUT = 5.0
"""Seconds for one Hub request (connect and read): the Hub is a helper, never a blocker."""
DEFAULT_WAKE_POLL_INTERVAL = 0.5
"""Seconds between polls of a sleeping Space that gave no `estimated_time` (its wake is noticed
within this much)."""
WAKE_MAX_POLL_INTERVAL = HUB_POLL_INTERVAL
"""Polls of a sleeping Space back off from ``wake_poll_interval`` (when it was not set) to this."""
WAKE_MAX_ESTIMATE_WAIT = 30.0
"""A sleeping Space's ``estimated_time`` is waited for, up to this many seconds per poll."""
WAKE_LOG_INTERVAL = 30.0
"""While a Space wakes, one INFO line at the start, then at most one per this many seconds."""
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PROMPT_CHARS = 200_000
MAX_SSE_EVENT_BYTES = 4 * 1024 * 1024
"""The longest line, and the most data in one event, an answer stream may send (a streamed
answer comes in many events; a whole answer in one event is far smaller than this)."""
DEFAULT_MAX_REDIRECTS = 5

DEFAULT_MAX_CONNECTIONS = 100
"""Connections to one Space (origin) at once: each Space has its own pool, so a stuck one cannot
take the others' connections."""
DEFAULT_MAX_KEEPALIVE_CONNECTIONS = 20

TEST_CONNECTION_PROMPT = "Reply with OK."
TEST_CONNECTION_MAX_NEW_TOKENS = 8
"""Test Connection asks for a tiny generation: this prompt, this many tokens at most."""

EXCERPT_CHARS = 200
"""How much of an unexpected answer body an error message shows."""

DEFAULT_STRUCTURED_RETRIES = 2
"""How many times ``generate_structure`` asks again after an answer that does not validate."""

DEFAULT_MAX_VARIATIONS = 64
"""The most variations one ``generate_variations`` call may ask for (override with ``max_n``)."""
VARIATION_REASK_ROUNDS = 2
"""How many times duplicate variations are asked again with fresh seeds."""

GATEWAY_HOST = "127.0.0.1"
GATEWAY_PORT = 8000
"""Where ``hf-spaces serve`` listens by default (loopback; the port vLLM and TGI use too)."""
GATEWAY_API_KEY_ENV = ENV_PREFIX + "GATEWAY_API_KEY"
"""The variable holding the API key ``hf-spaces serve`` requires of its callers."""
GATEWAY_MAX_BODY_BYTES = 4 * 1024 * 1024
"""The largest request body the gateway reads; more is a 413."""
GATEWAY_RETRY_AFTER = 30
"""The ``Retry-After`` (seconds) of a gateway 503 when the Space named no wait of its own."""
