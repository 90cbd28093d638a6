"""The response cache: :class:`MemoryCache` (LRU, in this process) and :class:`SQLiteCache`
(a file, shared by threads and processes).

Off by default; ``SpaceClient(config, cache=MemoryCache())`` or
``SpacesClient(settings, cache=SQLiteCache("answers.db"))`` turn it on. What this module decides
does no I/O beyond the cache itself, and the sync and async clients share it:

* :func:`request_key` - the key: a SHA-256 over a canonical JSON of everything that changes the
  answer (tier, the Space's URL, endpoint, protocol, revision, model, api_name, the prompt with
  its context rendered in, or the messages with tools and tool_choice, and the generation
  parameters as validated). Never the token, nor a forwarded ``x_ip_token``, nor ``timeout``.
* :func:`is_deterministic` - by default only calls that should give the same answer twice are
  cached: ``temperature`` 0, ``do_sample`` false, or a ``seed``. ``deterministic_only=False``
  caches every call.
* What is stored is the answer (:class:`SpaceAnswer`: text, tokens, tool calls, metadata), never
  a request, a header or the token. Errors are never stored. A stream is stored as its final
  answer and a hit replays it as one text chunk followed by the final chunk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from langchain_hf_spaces._answers import SpaceAnswer

if TYPE_CHECKING:  # pragma: no cover
    import sqlite3

    from langchain_hf_spaces._flow import Call, SpaceCore

__all__ = [
    "KEY_VERSION",
    "MemoryCache",
    "ResponseCache",
    "SQLiteCache",
    "answer_from_json",
    "answer_to_json",
    "is_deterministic",
    "request_key",
]

logger = logging.getLogger("langchain_hf_spaces")

KEY_VERSION = 1
"""Part of every key: bumped when what a key covers changes, so old entries are not reused."""

_ANSWER_FIELDS = tuple(f.name for f in fields(SpaceAnswer) if f.name not in ("cached",))


@runtime_checkable
class ResponseCache(Protocol):
    """What ``SpaceClient(cache=...)`` needs: get and set by key, sync and async."""

    deterministic_only: bool

    def get(self, key: str) -> SpaceAnswer | None: ...

    def set(self, key: str, answer: SpaceAnswer) -> None: ...

    async def aget(self, key: str) -> SpaceAnswer | None: ...

    async def aset(self, key: str, answer: SpaceAnswer) -> None: ...


# ---------------------------------------------------------------- the key (no I/O)
def is_deterministic(params: Mapping[str, Any], hints: Mapping[str, Any] | None = None) -> bool:
    """Whether a call with these (validated) parameters should give the same answer again:
    ``temperature`` 0, ``do_sample`` false, or a ``seed`` (a hint such as a variation's seed
    counts)."""
    merged = {**hints, **params} if hints else params
    temperature = merged.get("temperature")
    if temperature == 0 and not isinstance(temperature, bool):
        return True
    if merged.get("do_sample") is False:
        return True
    return merged.get("seed") is not None


def _plain(value: Any) -> Any:
    """``json.dumps`` ``default``: mappings and sequences of other types as dicts and lists."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (Sequence, set, frozenset)) and not isinstance(value, (str, bytes)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def request_key(core: SpaceCore, call: Call) -> str | None:
    """The cache key of ``call`` on ``core``'s Space, or ``None`` when it cannot have one
    (parameters that are not JSON data). No I/O; the token is not part of it."""
    cfg = core.config
    material: dict[str, Any] = {
        "v": KEY_VERSION,
        "tier": core.tier,
        "url": cfg.url,
        "endpoint": cfg.endpoint,
        "protocol": cfg.protocol,
        "revision": cfg.revision,
        "model": cfg.model,
        "api_name": cfg.api_name,
        "parameters": call.params,
    }
    hints = getattr(call, "hints", None)
    if hints:
        material["hints"] = hints
    messages = getattr(call, "messages", None)
    if messages is None:
        material["prompt"] = call.prompt
    else:
        material["messages"] = messages
        material["tools"] = getattr(call, "tools", None)
        material["tool_choice"] = getattr(call, "tool_choice", None)
    try:
        text = json.dumps(
            material,
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
            default=_plain,
        )
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def answer_to_json(answer: SpaceAnswer) -> str:
    """The stored form of an answer (its fields but ``cached``)."""
    return json.dumps(
        {name: getattr(answer, name) for name in _ANSWER_FIELDS},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def answer_from_json(text: str) -> SpaceAnswer | None:
    """An answer read back (``None`` for an entry this version cannot read)."""
    try:
        data = json.loads(text)
        return SpaceAnswer(**{k: v for k, v in data.items() if k in _ANSWER_FIELDS})
    except (TypeError, ValueError):
        return None


def _check_ttl(ttl: float | None) -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
        raise ValueError(f"ttl={ttl!r} must be a number of seconds above 0, or None")
    return float(ttl)


# ---------------------------------------------------------------- in memory
class MemoryCache:
    """An in-process LRU response cache.

    Args:
        max_entries: how many answers are kept; the least recently used goes first.
        ttl: seconds an answer stays valid (``None``: until evicted).
        deterministic_only: cache only calls with ``temperature=0``, ``do_sample=False`` or a
            ``seed`` (default); ``False`` caches every call.
        clock: the time source for ``ttl`` (default ``time.monotonic``).

    Thread-safe; shared by every client it is given to.
    """

    def __init__(
        self,
        max_entries: int = 1024,
        ttl: float | None = None,
        deterministic_only: bool = True,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries={max_entries!r} must be an int >= 1")
        self.max_entries = max_entries
        self.ttl = _check_ttl(ttl)
        self.deterministic_only = deterministic_only
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, SpaceAnswer]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"MemoryCache(max_entries={self.max_entries}, ttl={self.ttl}, "
            f"deterministic_only={self.deterministic_only}, entries={len(self)})"
        )

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> SpaceAnswer | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored, answer = entry
            if self.ttl is not None and self._clock() - stored >= self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return answer

    def set(self, key: str, answer: SpaceAnswer) -> None:
        with self._lock:
            self._entries[key] = (self._clock(), answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    async def aget(self, key: str) -> SpaceAnswer | None:
        return self.get(key)  # a dict look-up under a lock held for microseconds

    async def aset(self, key: str, answer: SpaceAnswer) -> None:
        self.set(key, answer)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    # Copies start empty (a lock cannot be copied, and a copy is another process's cache).
    def __getstate__(self) -> dict[str, Any]:
        return {
            "max_entries": self.max_entries,
            "ttl": self.ttl,
            "deterministic_only": self.deterministic_only,
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["max_entries"], state["ttl"], state["deterministic_only"]
        )


# ---------------------------------------------------------------- SQLite
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    answer TEXT NOT NULL,
    stored REAL NOT NULL
)
"""


class SQLiteCache:
    """A persistent response cache in one SQLite file (the standard library's ``sqlite3``).

    Args:
        path: the database file (created with its folder when missing).
        ttl: seconds an answer stays valid (``None``: forever). Expired entries are ignored
            and deleted when met.
        deterministic_only: as for :class:`MemoryCache`.
        busy_timeout: seconds to wait for another writer's lock before giving up (the call
            then goes to the Space, with a warning).
        clock: the time source for ``ttl`` (default ``time.time``: wall time, as entries are
            shared between processes).

    Safe across threads (one connection, used under a lock) and processes (WAL journal mode,
    a busy timeout). From async code, each look-up and store runs in a worker thread
    (``asyncio.to_thread``), so another process's write lock never blocks the event loop.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        ttl: float | None = None,
        deterministic_only: bool = True,
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.ttl = _check_ttl(ttl)
        self.deterministic_only = deterministic_only
        self.busy_timeout = float(busy_timeout)
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"SQLiteCache({str(self.path)!r}, ttl={self.ttl}, "
            f"deterministic_only={self.deterministic_only})"
        )

    def _connection(self) -> sqlite3.Connection:
        """The connection (opened on first use; held lock required)."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        import sqlite3  # lazily: only SQLite cache users pay for it

        # A forked child never uses its parent's connection: it opens its own.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(_SCHEMA)
        self._conn, self._pid = conn, os.getpid()
        return conn

    def get(self, key: str) -> SpaceAnswer | None:
        with self._lock:
            conn = self._connection()
            row = conn.execute(
                "SELECT answer, stored FROM answers WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            text, stored = row
            if self.ttl is not None and self._clock() - stored >= self.ttl:
                conn.execute("DELETE FROM answers WHERE key = ? AND stored = ?", (key, stored))
                return None
        return answer_from_json(text)

    def set(self, key: str, answer: SpaceAnswer) -> None:
        text = answer_to_json(answer)
        with self._lock:
            self._connection().execute(
                "INSERT OR REPLACE INTO answers (key, answer, stored) VALUES (?, ?, ?)",
                (key, text, self._clock()),
            )

    async def aget(self, key: str) -> SpaceAnswer | None:
        return await asyncio.to_thread(self.get, key)

    async def aset(self, key: str, answer: SpaceAnswer) -> None:
        await asyncio.to_thread(self.set, key, answer)

    def __len__(self) -> int:
        with self._lock:
            row = self._connection().execute("SELECT COUNT(*) FROM answers").fetchone()
        return int(row[0])

    def clear(self) -> None:
        with self._lock:
            self._connection().execute("DELETE FROM answers")

    def close(self) -> None:
        """Close the connection (the cache opens a new one if used again)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ttl": self.ttl,
            "deterministic_only": self.deterministic_only,
            "busy_timeout": self.busy_timeout,
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["path"],
            state["ttl"],
            state["deterministic_only"],
            busy_timeout=state["busy_timeout"],
        )
