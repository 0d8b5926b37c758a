"""One build per folder: the lock names its holder, and a killed holder's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from warp_ir.lock import LOCK_NAME, FolderLock, FolderLocked


def test_second_lock_fails_naming_the_holder(tmp_path):
    with FolderLock(tmp_path):
        with pytest.raises(FolderLocked, match=rf"another warp-ir build \(pid {os.getpid()}\) is using"):
            FolderLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_NAME).exists()  # released and removed
    with FolderLock(tmp_path):  # and free again
        pass


def test_lock_of_a_killed_holder_is_taken_over(tmp_path):
    pid = os.fork()
    if pid == 0:  # the holder, killed while it holds the lock
        FolderLock(tmp_path).acquire()
        os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    assert (tmp_path / LOCK_NAME).read_text().split()[0] == str(pid)  # the stale file is still there
    with FolderLock(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().split()[0] == str(os.getpid())


def test_a_worker_outliving_a_killed_build_does_not_keep_the_lock(tmp_path):
    """Workers forked by a build (datasets' pool) drop their copy of the lock."""
    code = textwrap.dedent(f"""
        import os, signal, time
        from pathlib import Path
        from warp_ir.lock import FolderLock
        FolderLock(Path({str(tmp_path)!r})).acquire()
        worker = os.fork()
        if worker == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            time.sleep(30)
            os._exit(0)
        print(worker, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    worker = int(proc.stdout.strip())
    try:
        os.kill(worker, 0)  # the orphaned worker is still alive...
        with FolderLock(tmp_path):  # ...and does not hold the lock
            pass
    finally:
        os.kill(worker, signal.SIGKILL)
