"""The answer box from the inside: what an answer's code may and may not do there (probes run as answers)."""

from __future__ import annotations

import re

import pytest

from evaluation.seccomp import available

PROBE = '''import os
import warp as wp


def _try(step):
    try:
        step()
        return 1.0
    except Exception:
        return 0.0


def _fork():
    if os.fork() == 0:
        os._exit(0)


def _spawn():
    import subprocess
    subprocess.run(["true"], check=False)


def _socket():
    import socket
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()


def _kill_parent():
    os.kill(os.getppid(), 0)


def _thread():
    import threading
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()


FOUND = wp.vec4(_try(_fork), _try(_spawn), _try(_socket), _try(_kill_parent))
CONTROL = wp.vec2(_try(_thread), _try(lambda: os.kill(os.getpid(), 0)))


@wp.kernel
def probe(out: wp.array(dtype=wp.vec4), ok: wp.array(dtype=wp.vec2)):
    out[0] = FOUND
    ok[0] = CONTROL
'''


def _constants(isolation: str, tmp_path) -> list[str]:
    from evaluation.answers import prepare_answer
    from evaluation.box import AnswerBox, IsolationUnavailable
    from evaluation.execute import KernelSpec

    with AnswerBox(str(tmp_path / "box"), isolation) as box:
        try:
            box.start()
        except IsolationUnavailable as exc:
            pytest.skip(str(exc))
        module = prepare_answer(box, KernelSpec(PROBE, "probe", "cpu"), 60.0, 2048)
    assert hasattr(module, "source"), module
    # the module-level constants the probe computed, as Warp writes them into the kernel
    return re.findall(r"const wp::vec_t<\d, wp::float32> var_\w+ = wp::initializer_array<\d,wp::float32>\{([^}]*)\}",
                      module.source)[:2]


@pytest.mark.skipif(bool(available()), reason="no seccomp filter on this platform")
@pytest.mark.parametrize("isolation", ["namespaces", "process"])
def test_an_answer_cannot_start_a_process_open_a_socket_or_signal_the_box(isolation, tmp_path):
    found = _constants(isolation, tmp_path)
    text = " | ".join(found)
    assert len(found) == 2, text
    vec4 = next(f for f in found if f.count(",") == 3)
    vec2 = next(f for f in found if f.count(",") == 1)
    assert [float(x) for x in vec4.split(",")] == [0.0, 0.0, 0.0, 0.0], text  # fork, spawn, socket, kill: refused
    assert [float(x) for x in vec2.split(",")] == [1.0, 1.0], text  # threads and signals to itself: allowed
