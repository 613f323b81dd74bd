"""The hub's answers about tokens, kept for at most a second for state-changing requests.

A hand-in asks the hub whose its token is; at a deadline a student's server may send several
requests in the same second. ``TokenCache`` keeps a positive answer for ``max_age`` seconds
(one by default) from the moment the hub was *asked*, so a token revoked or expired at the hub
is refused by the exchange at most ``max_age`` seconds later. It is keyed by the SHA-256 of the
whole token (never a prefix, a user name or a session): one token's answer is never served for
another. A refusal (unknown, revoked) is never kept: a new token works at once.
Reads keep using ``HubAuth``'s own cache (``cache_max_age``).

The clock is injected (``clock``, monotonic seconds) so the bound is tested without sleeping.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["WRITE_CACHE_SECONDS", "TokenCache"]

WRITE_CACHE_SECONDS = 1.0  # the longest a revoked token may still write (issue 26)
MAX_ENTRIES = 50_000  # bounded memory: oldest answers go first


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


class TokenCache:
    """Positive hub answers, each for ``max_age`` seconds from when the hub was asked."""

    def __init__(self, max_age: float = WRITE_CACHE_SECONDS, *,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES):
        if max_age < 0:
            raise ValueError("max_age must be >= 0 seconds")
        self.max_age, self.clock, self.max_entries = max_age, clock, max_entries
        self._entries: OrderedDict[bytes, tuple[float, dict]] = OrderedDict()
        self.hits = self.misses = 0

    def asked(self) -> float:
        """The time to pass to ``put``: read it *before* asking the hub."""
        return self.clock()

    def get(self, token: str) -> dict | None:
        key = _digest(token)
        entry = self._entries.get(key)
        if entry is not None:
            asked_at, model = entry
            if 0 <= self.clock() - asked_at < self.max_age:
                self.hits += 1
                return model
            del self._entries[key]
        self.misses += 1
        return None

    def put(self, token: str, model: dict | None, asked_at: float) -> None:
        """Keep the hub's answer ``model`` (asked at ``asked_at``); a refusal is not kept."""
        if not model or self.max_age <= 0:
            return
        key = _digest(token)
        self._entries[key] = (asked_at, model)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
