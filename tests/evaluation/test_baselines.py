"""Baselines: copying Warp's comments (what the old decompile prompt gave away) and copying the nearest train row."""

from __future__ import annotations

from evaluation.baselines import copy_comments_answer, nearest_train, retrieval_problems
from evaluation.harness import Problem
from evaluation.tasks import TASKS, entry_point, messages, without_source_comments

DECOMPILE = TASKS["cuda_forward→python"]


def test_copying_the_comments_solved_the_old_decompile_prompt_and_cannot_solve_the_new_one(score, blend_row):
    old_prompt_code = blend_row["cuda_forward"]  # what prompts-2 showed
    copied = copy_comments_answer(old_prompt_code, "blend")
    assert "@wp.kernel\ndef blend(" in copied and "@wp.func\ndef smooth(" in copied
    shown = messages(DECOMPILE, blend_row)[1]["content"]
    assert copy_comments_answer(shown, "blend") == "" == copy_comments_answer(
        without_source_comments(old_prompt_code), "blend")
    old, new = score([Problem(1, blend_row, DECOMPILE, (f"```python\n{copied}\n```", "```python\n\n```"))])
    assert old.correct is True  # the old prompt held the answer
    assert new.correct is False


def test_the_retrieved_answer_carries_the_held_out_rows_names(score, blend_row, scale_row):
    (near, similarity), = nearest_train([scale_row, blend_row], [blend_row])
    assert near is blend_row and similarity == 1.0
    twin = dict(scale_row, id="0" * 16)  # a train row: scale's code, answering blend
    task = TASKS["python→cpp_forward"]
    (problem,) = retrieval_problems([(blend_row, twin)], [task])
    answer = problem.texts[0]
    assert entry_point(answer, "cpu", False)[:2] == entry_point(blend_row[task.target], "cpu", False)[:2]
    assert "scale_" not in answer.split("```")[1]
    self_answer = retrieval_problems([(blend_row, dict(blend_row, id="1" * 16))], [task, DECOMPILE])
    wrong, right, right_py = score([problem, *self_answer])
    assert wrong.correct is False and right.correct is True and right_py.correct is True
