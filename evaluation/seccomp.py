"""A seccomp filter for the answer box's job children: no new processes, programs, sockets or signals to others.

Installed by :mod:`evaluation.box_server` in each job's child just before the answer's code runs, in both isolation
modes. It is a classic BPF program built here (no libseccomp) for x86-64 Linux:

- ``fork``, ``vfork``, ``execve``, ``execveat`` and a ``clone`` without ``CLONE_THREAD`` fail with ``EPERM``: the
  job can start no process and run no program (threads stay allowed; ``clone3`` fails with ``ENOSYS``, so the C
  library falls back to ``clone`` for them);
- ``kill``, ``tkill`` and ``tgkill`` reach only the job itself (process id 0 or its own): never the box's server,
  the scorer or a sibling; queued signals, ``pidfd`` calls and ``ptrace`` are refused;
- sockets, mounts, namespaces, ``bpf``, ``perf_event_open``, ``userfaultfd``, ``io_uring``, keyrings, module
  loading, ``process_vm_readv``/``writev`` and the clock and reboot calls are refused;
- a system call of another ABI (x32, or a 32-bit call) kills the job.

Elsewhere (not x86-64, or no ``prctl``) :func:`install` returns a reason and the job runs without it; the box
reports that (:func:`available`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_CLONE_THREAD = 0x00010000
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_X86_64 = {  # name: number (arch/x86/entry/syscalls/syscall_64.tbl)
    "socket": 41, "socketpair": 53, "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "kill": 62, "ptrace": 101,
    "rt_sigqueueinfo": 129, "personality": 135, "pivot_root": 155, "chroot": 161, "acct": 163,
    "settimeofday": 164, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172,
    "ioperm": 173, "init_module": 175, "delete_module": 176, "tkill": 200, "clock_settime": 227, "tgkill": 234,
    "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
    "rt_tgsigqueueinfo": 297, "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320,
    "bpf": 321, "execveat": 322, "userfaultfd": 323, "pidfd_send_signal": 424, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "pidfd_open": 434, "clone3": 435, "pidfd_getfd": 438,
}
_SIGNALS = ("kill", "tkill", "tgkill")  # allowed for process id 0 or the job's own
_REFUSED = tuple(n for n in _X86_64 if n not in (*_SIGNALS, "clone", "clone3"))


def available() -> str:
    """Why the filter cannot be installed here (``""``: it can)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"no seccomp filter for {platform.system()} {platform.machine()} (x86-64 Linux only)"
    return ""


def program(pid: int) -> list[tuple[int, int, int, int]]:
    """The filter's instructions ``(code, jump if true, jump if false, k)`` for a job whose process id is ``pid``."""
    out: list[tuple[int, int, int, int]] = []
    jumps: list[tuple[int, str, str]] = []  # (instruction, label if true, label if false)

    def emit(code: int, k: int, true: str = "", false: str = "") -> None:
        if true or false:
            jumps.append((len(out), true, false))
        out.append((code, 0, 0, k))

    emit(_LD_W_ABS, 4)  # seccomp_data.arch
    emit(_JEQ_K, _AUDIT_ARCH_X86_64, false="kill")
    emit(_LD_W_ABS, 0)  # seccomp_data.nr
    emit(_JGE_K, _X32_BIT, true="kill")
    emit(_JEQ_K, _X86_64["clone"], true="clone")
    emit(_JEQ_K, _X86_64["clone3"], true="enosys")
    for name in _SIGNALS:
        emit(_JEQ_K, _X86_64[name], true="signal")
    for name in _REFUSED:
        emit(_JEQ_K, _X86_64[name], true="eperm")
    emit(_RET_K, _ALLOW)  # every other call
    labels = {"clone": len(out)}
    emit(_LD_W_ABS, 16)  # args[0], its low 32 bits: the clone flags
    emit(_JSET_K, _CLONE_THREAD, true="allow", false="eperm")
    labels["signal"] = len(out)
    emit(_LD_W_ABS, 16)  # args[0]: the process (or thread group) signalled
    emit(_JEQ_K, 0, true="allow")
    emit(_JEQ_K, pid, true="allow", false="eperm")
    labels["eperm"] = len(out)
    emit(_RET_K, _ERRNO | errno.EPERM)
    labels["enosys"] = len(out)
    emit(_RET_K, _ERRNO | errno.ENOSYS)
    labels["kill"] = len(out)
    emit(_RET_K, _KILL_PROCESS)
    labels["allow"] = len(out)  # (BPF jumps only forward: the allowed clones and signals end here)
    emit(_RET_K, _ALLOW)
    for at, true, false in jumps:
        code, _, _, k = out[at]
        jt = labels[true] - at - 1 if true else 0
        jf = labels[false] - at - 1 if false else 0
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("a seccomp jump out of range")
        out[at] = (code, jt, jf, k)
    return out


def install() -> str:
    """Install the filter on this process (for good: its children inherit it). Returns why it could not be."""
    why = available()
    if why:
        return why
    instructions = program(os.getpid())
    raw = b"".join(struct.pack("=HBBI", *i) for i in instructions)
    buffer = ctypes.create_string_buffer(raw, len(raw))

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Prog(len(instructions), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}"
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        return f"prctl(PR_SET_SECCOMP) failed: {os.strerror(ctypes.get_errno())}"
    return ""
