"""The exchange's thread pools, their threads named in the operating system too: ``top -H``,
``ps -L`` and ``/proc/<pid>/task/*/comm`` then tell the store thread from the event loop (the
deadline benchmark reports CPU per thread by these names)."""

from __future__ import annotations

import ctypes
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["named_pool"]

_PR_SET_NAME = 15  # prctl(2); Linux keeps 15 bytes of a thread's name: "exch-roster_0" fits


def named_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads called ``<name>_0``, ``<name>_1``... in Python and in the
    operating system."""
    return ThreadPoolExecutor(workers, thread_name_prefix=name, initializer=_name_os_thread)


def _name_os_thread() -> None:
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(_PR_SET_NAME, threading.current_thread().name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):  # no prctl here: the name stays Python's alone
        pass
