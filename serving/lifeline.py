"""A worker never outlives its supervisor.

BentoML starts each worker in a session of its own, out of reach of the server's process
group, so SIGKILL of ``triage serve``'s group (what the kernel's out-of-memory killer does)
used to leave the worker answering without a supervisor and holding the port: the next
start failed with "Address already in use". :func:`die_with_parent` asks Linux to SIGKILL
the worker when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and, where that is not
available, watches the parent's pid from a thread. Either way the port is free again
as soon as the supervisor is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5


def die_with_parent() -> str:
    """Arrange for this process to end when its parent does; returns the means used
    (``prctl`` or ``watchdog``). If the parent is already gone, ends now."""
    parent = os.getppid()
    how = "watchdog"
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                how = "prctl"
        except OSError:
            pass
    if os.getppid() != parent:  # died before the request took effect
        os._exit(1)
    if how == "watchdog":
        threading.Thread(target=_watch, args=(parent,), name="lifeline", daemon=True).start()
    return how


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL_S)
    os._exit(1)  # orphaned: no shutdown hooks, as if killed with the supervisor
