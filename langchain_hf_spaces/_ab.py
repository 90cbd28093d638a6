"""A/B splits: which variant of a tier answers a call (pure logic, no I/O).

A tier with ``variants`` sends each call to one of them, by weight. With a key (a user or
session id, ``ab_key="user-42"``) the choice is *sticky*: the key and the tier are hashed with
SHA-256 into a number ``u`` in ``[0, 1)``, and the variant whose share of the cumulative weights
holds ``u`` answers. The same key always lands on the same variant, in every process and on every
machine (no Python ``hash()``, which is salted per process). Without a key the choice is random
by weight.

Changing the weights moves only the keys whose ``u`` falls in a share that moved: growing the
last variant from 10% to 20% moves 10% of the keys, all of them to it.

.. code-block:: python

    split = Split("base", [("a", 90.0, "space-a"), ("b", 10.0, "space-b")])
    split.pick("user-42")          # the same answer on every run
    split.order("user-42")         # the pick first, then the others (for fallback)
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from langchain_hf_spaces.errors import SpaceInputError

__all__ = ["Arm", "Split", "bucket", "check_key", "default_names", "pick_index"]

_T = TypeVar("_T")
_C = TypeVar("_C")
_SCALE = float(1 << 64)
MAX_KEY_CHARS = 1024
"""The longest ``ab_key`` accepted (a user id, a session id; not a document)."""


def check_key(key: object, *, tier: str | None = None) -> str | None:
    """``key`` as the string that is hashed: a non-empty ``str`` (or an ``int``, written in
    decimal), else a :class:`SpaceInputError`. ``None`` stays ``None`` (a random choice)."""
    if key is None:
        return None
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    if not isinstance(key, str):
        raise SpaceInputError(
            f"ab_key must be a string (a user or session id), not {type(key).__name__}.",
            tier=tier,
            hint='Pass the id as text, e.g. ab_key="user-42", or leave it out for a random pick.',
        )
    if not key.strip() or len(key) > MAX_KEY_CHARS:
        raise SpaceInputError(
            "ab_key must be a non-empty string of at most "
            f"{MAX_KEY_CHARS} characters (got {len(key)}).",
            tier=tier,
            hint="Use a stable user or session id; leave ab_key out for a random pick.",
        )
    return key


def bucket(tier: str, key: str) -> float:
    """Where ``key`` falls in ``[0, 1)`` for ``tier``: the first 8 bytes of
    ``sha256(tier + NUL + key)``, as a fraction of 2**64. Stable across processes."""
    digest = hashlib.sha256(f"{tier}\0{key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def pick_index(weights: Sequence[float], u: float) -> int:
    """The index whose share of the cumulative ``weights`` holds ``u`` (in ``[0, 1)``).

    A weight of 0 is never picked. ``weights`` must hold a positive one."""
    total = sum(weights)
    target = u * total
    running = 0.0
    last = -1
    for i, weight in enumerate(weights):
        if weight <= 0:
            continue
        running += weight
        last = i
        if target < running:
            return i
    if last < 0:
        raise ValueError("no variant has a positive weight")
    return last  # u * total rounded up to the total


def default_names(count: int) -> list[str]:
    """The names of unnamed variants by position: ``a`` ... ``z``, then ``aa``, ``ab`` ..."""
    names = []
    for i in range(count):
        name, n = "", i
        while True:
            name = chr(ord("a") + n % 26) + name
            n = n // 26 - 1
            if n < 0:
                break
        names.append(name)
    return names


@dataclass(frozen=True, slots=True)
class Arm(Generic[_T]):
    """One variant of a split: its name, weight and what answers for it."""

    name: str
    weight: float
    item: _T


class Split(Generic[_T]):
    """The variants of one tier, and the choice between them.

    Args:
        tier: the tier's name (part of the hash: one key may land on different variants in
            different tiers).
        arms: ``(name, weight, item)`` in the order the settings list them; some weight > 0.
    """

    __slots__ = ("arms", "tier")

    def __init__(self, tier: str, arms: Sequence[tuple[str, float, _T]]) -> None:
        self.tier = tier
        self.arms: tuple[Arm[_T], ...] = tuple(Arm(n, float(w), item) for n, w, item in arms)
        if not any(a.weight > 0 for a in self.arms):
            raise ValueError(f"tier {tier!r}: no variant has a positive weight")

    @classmethod
    def made(
        cls,
        tier: str,
        variants: Sequence[tuple[str, float, _C]],
        make: Callable[[_C, str], _T],
    ) -> Split[_T] | None:
        """The split of a tier's variants (``SpaceConfig.variant_configs()``: name, weight,
        config), each arm's item made by ``make(config, name)``; ``None`` without variants.
        The one place a tier's variants become a split's arms."""
        if not variants:
            return None
        return cls(tier, [(name, weight, make(config, name)) for name, weight, config in variants])

    def __repr__(self) -> str:
        shares = ", ".join(f"{a.name}={a.weight:g}" for a in self.arms)
        return f"Split({self.tier!r}, {shares})"

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.arms]

    def index(self, key: str | None, rng: Callable[[], float] = random.random) -> int:
        """The index of the arm that answers: by the hash of ``key``, else by ``rng()``."""
        u = bucket(self.tier, key) if key is not None else rng()
        return pick_index([a.weight for a in self.arms], u)

    def pick(self, key: str | None, rng: Callable[[], float] = random.random) -> Arm[_T]:
        """The arm that answers a call with ``key`` (random by weight when ``None``)."""
        return self.arms[self.index(key, rng)]

    def order(self, key: str | None, rng: Callable[[], float] = random.random) -> list[Arm[_T]]:
        """The pick, then the other arms of positive weight, heaviest first (ties in the
        settings' order): whom to ask in turn when falling back between variants."""
        first = self.index(key, rng)
        others = [i for i, a in enumerate(self.arms) if i != first and a.weight > 0]
        others.sort(key=lambda i: -self.arms[i].weight)
        return [self.arms[first], *(self.arms[i] for i in others)]
