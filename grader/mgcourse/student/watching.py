"""`mgcourse watch`: check again whenever a file of the package is saved, cancelling a check
that a newer save makes stale.
"""

import threading

from .runner import progress


class Watcher:
    """The runs of `mgcourse watch`: start() begins a run on the folder, cancelling the one
    under way (its worker is stopped, its results are dropped). A run shows the checkpoint
    that was current at the last run first, show(progress, True), then everything,
    show(progress, False)."""

    def __init__(self, folder, show, fork=True, **options):
        self.folder, self.show, self.options = folder, show, options
        if not fork:
            self.options['launch'] = None
        self.current = None   # the current checkpoint of the last finished run
        self.runs = 0         # runs started
        self.finished = 0     # runs that showed their whole table
        self._thread = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()

    def start(self):
        self.stop()
        self._cancel = cancel = threading.Event()
        self.runs += 1
        self._thread = threading.Thread(target=self._run, args=(cancel,), daemon=True)
        self._thread.start()

    def stop(self):
        """Cancel the run under way and wait for it to end."""
        if self._thread is not None:
            self._cancel.set()
            self._thread.join()
            self._thread = None

    def wait(self, timeout=None):
        if self._thread is not None:
            self._thread.join(timeout)

    def _show(self, cancel, p, first):
        with self._lock:
            if not cancel.is_set():
                self.show(p, first)

    def _run(self, cancel):
        p = progress(self.folder, first=self.current, cancelled=cancel.is_set,
                     on_first=lambda part: self._show(cancel, part, True), **self.options)
        if p is None or cancel.is_set():
            return
        self.current = p.current.checkpoint.id if p.current is not None else None
        self._show(cancel, p, False)
        self.finished += 1
