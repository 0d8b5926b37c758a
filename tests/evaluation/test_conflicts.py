"""One question, one answer: model inputs that rows share with different references are counted per task."""

from __future__ import annotations

from evaluation.conflicts import InputConflicts
from evaluation.tasks import TASKS, messages

SOURCE = "@wp.kernel\ndef k(a: Any):\n    i = wp.tid()\n    a[i] = a[i] * 2.0\n"


def _row(row_id: str, dtype: str, body: str) -> dict:
    code = {name: f"void k_0123abcd_{dev}_kernel_{p}() {{ {body}; }}"
            for name, dev, p in (("cpp_forward", "cpu", "forward"), ("cpp_backward", "cpu", "backward"),
                                 ("cuda_forward", "cuda", "forward"), ("cuda_backward", "cuda", "backward"))}
    return {"id": row_id, "kernel_name": "k", "python_source": SOURCE, "warp_version": "1.19.0", "launch_dim": 1,
            "arguments": [{"name": "a", "type": f"array(ndim=1, dtype={dtype})"}], "helper_functions": [], **code}


def test_overloads_are_different_questions_because_prompts_state_the_types():
    f32, f64 = _row("r1", "float32", "float x"), _row("r2", "float64", "double x")
    for task in TASKS.values():
        if not task.decompile:
            user = messages(task, f64)[1]["content"]
            assert "Arguments, with the concrete types this code is generated for: " \
                   "`a: array(ndim=1, dtype=float64)`" in user
    summary = InputConflicts().add_all([f32, f64]).summary()
    assert {t: c["conflicting_inputs"] for t, c in summary.items()} == dict.fromkeys(TASKS, 0)
    assert summary["python→cpp_forward"]["inputs"] == 2


def test_the_same_input_with_two_references_is_counted_for_every_task_it_reaches():
    a, b, same = _row("r1", "float32", "x = 1"), _row("r2", "float32", "x = 2"), _row("r3", "float32", "x = 1")
    summary = InputConflicts().add_all([a, b, same]).summary()
    for name in ("python→cpp_forward", "python→cuda_forward", "python→cpp_backward", "python→cuda_backward"):
        assert summary[name] == {"inputs": 1, "conflicting_inputs": 1, "conflicting_rows": 2,
                                 "examples": [["r1", "r2"]]}
    # the decompile task's input is the CUDA code, which differs: two questions
    assert summary["cuda_forward→python"]["conflicting_inputs"] == 0
    assert summary["cuda_forward→python"]["inputs"] == 2
