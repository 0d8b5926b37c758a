"""One build per output folder: an exclusive ``flock`` on ``OUT/.warp-ir.lock`` held for the whole build.

The lock belongs to the open file, not to the file's existence: when the holder dies (even with
SIGKILL) the kernel releases it, so a lock file left by a killed build is simply taken over. The
holder writes its PID into the file so that a second build can say who holds it. On release the
file is removed while still locked; a process that opened the old file in the meantime notices that
the path no longer names what it locked and tries again.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType

from common.errors import WarpIRError

logger = logging.getLogger(__name__)

LOCK_NAME = ".warp-ir.lock"
_HELD: set[int] = set()  # lock file descriptors this process holds


def _close_inherited() -> None:
    """In a forked child: drop the copies of the parent's lock descriptors.

    The lock lives as long as any descriptor of it is open; without this, a worker that outlives a
    killed build would keep the folder locked.
    """
    for fd in _HELD:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


os.register_at_fork(after_in_child=_close_inherited)


class FolderLocked(WarpIRError):
    """Another process holds the folder's lock."""


class FolderLock:
    """Exclusive, non-blocking lock of a folder (a context manager).

    Args:
        folder: The folder to lock (it must exist).
        purpose: What the holder does, shown to anyone who finds the folder locked.
    """

    def __init__(self, folder: Path, purpose: str = "build") -> None:
        self.path = folder / LOCK_NAME
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now.

        Raises:
            FolderLocked: Another process holds it (the message names its PID and what it does).
        """
        if self.path.is_symlink():  # a link would have the lock truncate and write the file it points at
            raise FolderLocked(f"{self.path} is a symbolic link, not warp-ir's lock file: remove it")
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode(errors="replace").split()
                os.close(fd)
                pid = holder[0] if holder else "?"
                what = holder[1] if len(holder) > 1 else "build"
                raise FolderLocked(f"another warp-ir {what} (pid {pid}) is using {self.path.parent}: "
                                   "wait for it to finish or stop it") from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed the file between our open and our lock: try again
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.purpose}\n".encode())
        self._fd = fd
        _HELD.add(fd)
        logger.info("locked %s", self.path)

    def release(self) -> None:
        """Remove the lock file and release the lock (no-op when not held)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            _HELD.discard(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
