"""The exchange's one-second cache of the hub's answers for state-changing requests
(``exchange/token_cache.py``, used by ``exchange.auth.hub_model``), attacked with an injected
clock: no test sleeps or reads the wall clock.

- a token revoked at the hub writes nothing one second after the hub was last asked about it,
  however long the hub took to answer;
- one token's answer is never served for another (tokens that share all but their last
  character, two users, a token the hub does not know right after one it does);
- a refusal is never kept; a read's ten-second answer (``HubAuth``'s cache) never serves a
  write; the cache holds a bounded number of answers.
"""

from __future__ import annotations

import asyncio

import pytest
from tornado import web

from exchange.auth import hub_model
from exchange.token_cache import TokenCache


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Hub:
    """The hub's side: which token is whose, as ``HubAuth`` would report it. ``delay``: the
    seconds the clock moves while the hub answers."""

    access_scopes = frozenset({"access:services!service=exchange"})

    def __init__(self, clock: Clock, tokens: dict[str, str], delay: float = 0.0):
        self.clock, self.tokens, self.delay = clock, dict(tokens), delay
        self.asked: list[tuple[str, bool]] = []  # (token, use_cache)
        self.read_cache: dict[str, dict] = {}  # HubAuth's own (reads), never expired here

    def get_token(self, handler, in_cookie=True):
        return handler.token

    async def user_for_token(self, token, use_cache=True, session_id="", *, sync=True):
        if use_cache and token in self.read_cache:
            return self.read_cache[token]
        self.asked.append((token, use_cache))
        self.clock.now += self.delay
        user = self.tokens.get(token)
        model = None if user is None else {
            "kind": "user", "name": user, "scopes": ["access:services!service=exchange"]}
        if use_cache:
            self.read_cache[token] = model
        return model

    def revoke(self, token: str) -> None:
        del self.tokens[token]


class Request:
    def __init__(self, token: str):
        self.token = token


def write(hub: Hub, cache: TokenCache, token: str) -> dict:
    return asyncio.run(hub_model(hub, Request(token), cached=False, writes=cache))


def read(hub: Hub, cache: TokenCache, token: str) -> dict:
    return asyncio.run(hub_model(hub, Request(token), cached=True, writes=cache))


def refused(hub: Hub, cache: TokenCache, token: str) -> int:
    with pytest.raises(web.HTTPError) as caught:
        write(hub, cache, token)
    return caught.value.status_code


def test_a_revoked_token_is_refused_within_a_second_despite_the_cache():
    clock = Clock()
    hub = Hub(clock, {"tok-ada": "ada"})
    cache = TokenCache(clock=clock)
    assert write(hub, cache, "tok-ada")["name"] == "ada"
    asked_at = clock.now
    hub.revoke("tok-ada")
    clock.now = asked_at + 0.999  # inside the bound: the answer kept (the documented second)
    assert write(hub, cache, "tok-ada")["name"] == "ada"
    assert len(hub.asked) == 1
    clock.now = asked_at + 1.0  # one second after the hub was asked: asked again, refused
    assert refused(hub, cache, "tok-ada") == 401
    assert len(hub.asked) == 2
    clock.now += 0.001  # and refused from then on: a refusal is not kept, the hub is asked
    assert refused(hub, cache, "tok-ada") == 401
    assert len(hub.asked) == 3


def test_the_second_counts_from_when_the_hub_was_asked_not_when_it_answered():
    clock = Clock()
    hub = Hub(clock, {"tok-ada": "ada"}, delay=0.7)  # a slow hub
    cache = TokenCache(clock=clock)
    asked_at = clock.now
    write(hub, cache, "tok-ada")
    hub.revoke("tok-ada")
    clock.now = asked_at + 1.0  # 0.3 s after the answer came, a second after the question
    assert refused(hub, cache, "tok-ada") == 401


def test_a_clock_that_goes_back_never_extends_an_answer():
    clock = Clock()
    hub = Hub(clock, {"tok-ada": "ada"})
    cache = TokenCache(clock=clock)
    write(hub, cache, "tok-ada")
    hub.revoke("tok-ada")
    clock.now -= 5.0
    assert refused(hub, cache, "tok-ada") == 401


def test_one_tokens_answer_is_never_served_for_another():
    clock = Clock()
    base = "a" * 63
    hub = Hub(clock, {base + "1": "ada", base + "2": "ben", "tok-cleo": "cleo"})
    cache = TokenCache(clock=clock)
    assert write(hub, cache, base + "1")["name"] == "ada"
    assert write(hub, cache, base + "2")["name"] == "ben"  # all but the last character alike
    assert write(hub, cache, base + "1")["name"] == "ada"
    assert write(hub, cache, "tok-cleo")["name"] == "cleo"
    assert refused(hub, cache, base + "3") == 401  # unknown at the hub, right after known ones
    assert refused(hub, cache, base) == 401  # a prefix of a cached token
    assert refused(hub, cache, base + "1 ") == 401
    assert [token for token, _ in hub.asked].count(base + "1") == 1  # the second was a hit


def test_a_refusal_is_not_kept_so_a_new_token_works_at_once():
    clock = Clock()
    hub = Hub(clock, {})
    cache = TokenCache(clock=clock)
    assert refused(hub, cache, "tok-new") == 401
    hub.tokens["tok-new"] = "ada"  # the hub issues it now
    assert write(hub, cache, "tok-new")["name"] == "ada"


def test_a_reads_cached_answer_never_serves_a_write():
    clock = Clock()
    hub = Hub(clock, {"tok-ada": "ada"})
    cache = TokenCache(clock=clock)
    assert read(hub, cache, "tok-ada")["name"] == "ada"  # HubAuth keeps it (10 s for reads)
    assert len(cache) == 0
    hub.revoke("tok-ada")
    assert read(hub, cache, "tok-ada")["name"] == "ada"  # reads: the documented 10 s
    assert refused(hub, cache, "tok-ada") == 401  # a write asks the hub itself
    assert hub.asked[-1] == ("tok-ada", False)


def test_the_cache_holds_a_bounded_number_of_answers():
    clock = Clock()
    tokens = {f"tok-{i}": f"s{i}" for i in range(10)}
    hub = Hub(clock, tokens)
    cache = TokenCache(clock=clock, max_entries=3)
    for token in tokens:
        write(hub, cache, token)
    assert len(cache) == 3
    asked = len(hub.asked)
    write(hub, cache, "tok-9")  # the newest kept
    write(hub, cache, "tok-0")  # the oldest gone: asked again
    assert len(hub.asked) == asked + 1


def test_a_negative_bound_is_refused_and_zero_keeps_nothing():
    with pytest.raises(ValueError):
        TokenCache(-1)
    clock = Clock()
    hub = Hub(clock, {"tok-ada": "ada"})
    cache = TokenCache(0, clock=clock)
    write(hub, cache, "tok-ada")
    write(hub, cache, "tok-ada")
    assert len(hub.asked) == 2
