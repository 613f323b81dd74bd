"""A sampling profiler for every Python process started with this folder on ``PYTHONPATH``
(py-spy is not installed; JupyterHub passes ``PYTHONPATH`` on to the services it starts): every
2 ms it records the stack of every thread, and at exit writes ``<folder>/<pid>-<argv>.txt``
(``$SPIKE_PROFILE``, else /tmp/spike-profile): the samples per thread, the
functions most often running (self) and the functions most often on the stack (inclusive).
A thread blocked in C (select, a lock, fsync, sqlite) shows its calling Python frame: the
report marks the frames that mean "waiting" so CPU and waiting can be told apart.

    PYTHONPATH=benchmarks/profile_site .venv/bin/python benchmarks/exchange_spike.py ...

Not part of the platform: a tool for benchmarks/exchange_spike.md.
"""

import atexit
import collections
import os
import sys
import threading
import time

_OUT = os.environ.get("SPIKE_PROFILE", "/tmp/spike-profile")
_IDLE = {("selectors.py", "select"), ("threading.py", "wait"), ("queue.py", "get"),
         ("thread.py", "_worker"), ("threading.py", "_wait_for_tstate_lock"),
         ("base_events.py", "_run_once")}
_self, _incl, _threads = collections.Counter(), collections.Counter(), collections.Counter()
_samples = [0]


def _where(code):
    return f"{os.path.basename(code.co_filename)}:{code.co_name}"


def _sample():
    me = threading.get_ident()
    names = {}
    while True:
        time.sleep(0.002)
        frames = sys._current_frames()
        _samples[0] += 1
        for ident, frame in frames.items():
            if ident == me:
                continue
            if ident not in names:
                names = {t.ident: t.name.split("_")[0] for t in threading.enumerate()}
            leaf = frame.f_code
            key = (os.path.basename(leaf.co_filename), leaf.co_name)
            state = "idle" if key in _IDLE else "busy"
            _threads[(names.get(ident, "?"), state)] += 1
            if state == "idle":
                continue
            _self[_where(leaf)] += 1
            seen = set()
            while frame is not None:
                where = _where(frame.f_code)
                if where not in seen:
                    seen.add(where)
                    _incl[where] += 1
                frame = frame.f_back


def _write():
    os.makedirs(_OUT, exist_ok=True)
    name = os.path.basename(sys.argv[0]) or "python"
    path = os.path.join(_OUT, f"{os.getpid()}-{name}.txt")
    with open(path, "w") as out:
        out.write(f"{' '.join(sys.argv)}\nsample rounds: {_samples[0]}\n\nthreads:\n")
        out.writelines(f"  {n:8d}  {thread} {state}\n"
                       for (thread, state), n in _threads.most_common())
        out.write("\nself (busy samples):\n")
        out.writelines(f"  {n:8d}  {where}\n" for where, n in _self.most_common(60))
        out.write("\ninclusive (busy samples):\n")
        out.writelines(f"  {n:8d}  {where}\n" for where, n in _incl.most_common(150))


threading.Thread(target=_sample, name="spike-profiler", daemon=True).start()
atexit.register(_write)
