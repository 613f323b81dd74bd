"""The assignment page's comparisons, off the data thread (``dashboard.similar_jobs``): one
comparison per thing compared (a second look joins the one under way, a finished one is kept), a
new hand-in compares again, a queued comparison that is out of date never runs, a page waits at
most ``wait`` seconds. The comparing is a stand-in that waits for the test (no clock: events)."""

from __future__ import annotations

import asyncio
import threading

from course.similarity import PairInputs, SimilarPair
from dashboard.similar_jobs import Listing, SimilarityJobs


def compared(content: bytes = b"ada's", aid: str = "01-numpy", threshold: float = 0.6,
             template: frozenset[str] = frozenset({"import numpy as np"})) -> PairInputs:
    return PairInputs(aid, threshold, template, (("ada", "a.ipynb", content),
                                                 ("ben", "a.ipynb", b"ben's")))


def pair(aid: str = "01-numpy") -> SimilarPair:
    return SimilarPair(aid, "a.ipynb", ("ada", "ben"), (0.9, 0.8))


class Gated:
    """A comparison that waits for ``gate``; records what it compared, in order."""

    def __init__(self):
        self.gate, self.keys = threading.Event(), []

    def __call__(self, inputs: PairInputs) -> list[SimilarPair]:
        self.keys.append(inputs.key)
        assert self.gate.wait(60), "the test never opened the gate"
        return [pair(inputs.assignment_id)]


def test_the_key_is_what_is_compared():
    assert compared().key == compared().key
    others = [compared(b"ada's, edited"), compared(aid="02-linreg"), compared(threshold=0.7),
              compared(template=frozenset({"import torch"}))]
    assert len({compared().key} | {other.key for other in others}) == 5


def test_one_comparison_per_thing_compared_and_again_after_a_hand_in():
    compare = Gated()
    jobs = SimilarityJobs(wait=0, compare=compare)

    async def scenario():
        assert await jobs.listing(compared()) == Listing(None)  # no wait: being computed
        assert await jobs.listing(compared()) == Listing(None)  # joins the one under way
        compare.gate.set()
        jobs.wait = 60  # a bound: the comparison is let go on above
        assert await jobs.listing(compared()) == Listing([pair()])
        assert await jobs.listing(compared()) == Listing([pair()])  # kept
        assert compare.keys == [compared().key]
        assert await jobs.listing(compared(b"ada's, edited")) == Listing([pair()])
        assert compare.keys == [compared().key, compared(b"ada's, edited").key]

    try:
        asyncio.run(scenario())
    finally:
        compare.gate.set()
        jobs.shutdown()


def test_a_queued_comparison_out_of_date_never_runs():
    compare = Gated()
    jobs = SimilarityJobs(wait=0, compare=compare)
    old, new = compared(aid="02-linreg"), compared(b"new", aid="02-linreg")

    async def scenario():
        await jobs.listing(compared())  # runs, waits at the gate
        await jobs.listing(old)  # queued behind it
        await jobs.listing(new)  # 02-linreg changed before its comparison began
        compare.gate.set()
        jobs.wait = 60
        assert await jobs.listing(new) == Listing([pair("02-linreg")])
        assert await jobs.listing(compared()) == Listing([pair()])

    try:
        asyncio.run(scenario())
    finally:
        compare.gate.set()
        jobs.shutdown()
    assert compare.keys == [compared().key, new.key]


def test_a_failed_comparison_is_said_and_tried_again():
    outcomes = [RuntimeError("copydetect broke"), [pair()]]

    def compare(inputs):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    jobs = SimilarityJobs(wait=60, compare=compare)

    async def scenario():
        assert await jobs.listing(compared()) == Listing(None, failed=True)
        assert await jobs.listing(compared()) == Listing([pair()])

    try:
        asyncio.run(scenario())
    finally:
        jobs.shutdown()
    assert outcomes == []
