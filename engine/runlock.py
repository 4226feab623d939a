"""One instance per name: an exclusive ``flock`` on a pid file in the run directory.

``okxmm up`` holds ``<run dir>/up.lock`` and each strategy worker ``<run dir>/worker.<name>.lock``
for as long as it runs. A second one is refused before it binds or says Hello, with the pid of
the first (issue 13 item 6: a second ``okxmm up`` exited 1 silently, and a second
``strategy run --name mm-btc`` made the two fence each other at the router until both died).
The kernel drops the lock when the holder dies, ``kill -9`` included: no stale lock to clean up.
The run directory is the bus's ``ipc_dir`` (``var/run``), where the ctl sockets live too.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from engine.errors import StartError

__all__ = ["AlreadyRunningError", "RunLock"]


class AlreadyRunningError(StartError):
    """Another process holds the lock."""


class RunLock:
    """An exclusive lock on ``path`` holding the holder's pid; :meth:`acquire` or raise."""

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._file: IO[str] | None = None

    def acquire(self) -> RunLock:
        """Take the lock (non-blocking); raises AlreadyRunningError naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise AlreadyRunningError(
                f"{self.what} is already running (pid {holder}, lock {self.path})"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        """Drop the lock (also dropped by the kernel when the process ends)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()
