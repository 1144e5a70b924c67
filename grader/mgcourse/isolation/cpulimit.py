"""A CPU-time limit for code run in this process (the pytest front-end's checks).

An endless loop in a student's code should cost the check it is in, and a correct check
should never fail because the machine is busy: so the limit counts the CPU time this process
uses (signal.ITIMER_PROF: user and system time, every thread), which other work on the
machine does not stretch. When it runs out, CPUTimeExceeded is raised where the code is; the
check reports it like any exception the student's code raised. A wall-time limit
(pytest-timeout) stays as a backstop far above it, for code that waits instead of computing.
"""

import signal
import threading
from contextlib import contextmanager


class CPUTimeExceeded(Exception):
    """The code used more CPU time than its limit."""


def message(seconds):
    return (f"this check used more than {seconds:g} s of CPU time and was stopped: an endless "
            "loop, or a graph far too large?")


@contextmanager
def cpu_limit(seconds):
    """Raise CPUTimeExceeded in the code run inside, once this process has used `seconds` of
    CPU time in it. Does nothing off the main thread or where setitimer is missing."""
    if (not seconds or not hasattr(signal, 'setitimer')
            or threading.current_thread() is not threading.main_thread()):
        yield
        return

    def stop(signum, frame):
        raise CPUTimeExceeded(message(seconds))

    previous = signal.signal(signal.SIGPROF, stop)
    # Once the limit is spent, the timer fires again every 0.2 s of CPU time: code that
    # catches the first CPUTimeExceeded and loops on is stopped again.
    signal.setitimer(signal.ITIMER_PROF, seconds, 0.2)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
