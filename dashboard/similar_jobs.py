"""The assignment page's alike-code list, compared on a thread of its own.

Fingerprinting every hand-in with copydetect takes seconds the first time after a restart (about
a second per hundred students); on the data thread, every page (a student's too) would wait
behind it. The data thread only reads what is compared (``similarity.pair_inputs``: files, a
checksum); the comparing runs here, one at a time, and the page says the list is being computed
until it is done. A finished list is kept by the checksum of what it compared: the next view
gets it at once, a new hand-in starts a new comparison.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from course.similarity import PairInputs, SimilarPair, pairs_among

__all__ = ["Listing", "SimilarityJobs"]

log = logging.getLogger("dashboard")


@dataclass(frozen=True)
class Listing:
    pairs: list[SimilarPair] | None  # None: still being computed (or failed)
    failed: bool = False  # the comparison raised (in the log): the next view tries again


class SimilarityJobs:
    """One comparison at a time, off the data thread; used from the event loop only (no lock:
    ``_jobs`` is touched by the loop's thread alone)."""

    def __init__(self, wait: float = 1.0,
                 compare: Callable[[PairInputs], list[SimilarPair]] = pairs_among):
        self.wait = wait  # seconds a page waits for a comparison before it says "being computed"
        self._compare = compare
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dashboard-similarity")
        self._jobs: dict[str, tuple[str, Future]] = {}  # assignment -> (inputs' key, comparison)

    async def listing(self, inputs: PairInputs) -> Listing:
        """The pairs among ``inputs``, if compared within ``wait`` seconds (or before)."""
        kept = self._jobs.get(inputs.assignment_id)
        if kept is None or kept[0] != inputs.key:
            if kept is not None:
                kept[1].cancel()  # what it compares is out of date; only if not started
            kept = (inputs.key, self._pool.submit(self._compare, inputs))
            self._jobs[inputs.assignment_id] = kept
        future = kept[1]
        if not future.done() and self.wait > 0:
            await asyncio.wait([asyncio.wrap_future(future)], timeout=self.wait)
        if not future.done():
            return Listing(None)
        if future.exception() is not None:
            if self._jobs.get(inputs.assignment_id) is kept:
                del self._jobs[inputs.assignment_id]
            log.error("comparing the hand-ins of %s failed", inputs.assignment_id,
                      exc_info=future.exception())
            return Listing(None, failed=True)
        return Listing(future.result())

    def shutdown(self) -> None:
        """Drops comparisons not started; one running finishes on its own (it is a hint)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
