"""``warp-ir eval`` end to end on a small build: the shipped example, bad input, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

EXAMPLE = FIXTURES / "eval" / "example_predictions.jsonl"


def _eval(*args: str) -> int:
    from warp_ir.cli import main

    return main(["eval", *map(str, args)])


@pytest.fixture(scope="module")
def example_results(small_build, tmp_path_factory) -> tuple[Path, Path]:
    """The shipped example scored twice (the second run with 2 processes): both results files."""
    tmp = tmp_path_factory.mktemp("eval")
    first, second = tmp / "first.jsonl", tmp / "second.jsonl"
    assert _eval(EXAMPLE, "--data", small_build.out_dir, "--out", first, "--k", "1,2", "--seed", "5") == 0
    assert _eval(EXAMPLE, "--data", small_build.out_dir, "--out", second, "--k", "1,2", "--num-proc", "2",
                 "--seed", "5") == 0
    return first, second


def test_the_shipped_example_scores_as_its_lines_say(example_results):
    """tests/fixtures/eval/make_example.py wrote the example for this very build (60 programs, seed 7)."""
    results = [json.loads(line) for line in example_results[0].read_text(encoding="utf-8").splitlines()]
    got = {(r["line"], r["sample"]): (r["exact"], r["normalized"], r["compiles"], r["correct"]) for r in results}
    assert got == {
        (1, 0): (True, True, True, True),  # the reference, fenced as a chat model answers
        (1, 1): (False, True, True, True),  # comments dropped, temporaries renumbered
        (1, 2): (False, False, True, False),  # an operator changed
        (2, 0): (True, True, True, True),  # task given by its slug, one answer as a plain string
        (3, 0): (False, False, True, False),  # an empty body
        (4, 0): (True, True, True, True),  # backward
        (4, 1): (False, False, True, False),  # a constant changed in the backward kernel
        (5, 0): (True, True, True, True),  # decompile: the program itself
        (5, 1): (False, False, True, False),  # decompile: a store moved out of bounds
        (6, 0): (True, True, True, None),  # CUDA without a GPU: scored up to "compiles"
        (6, 1): (False, False, False, None),  # not CUDA at all (and "correct" is not scored for any CUDA answer)
    }
    out_of_bounds = next(r for r in results if (r["line"], r["sample"]) == (5, 1))
    assert "wrote outside its arrays" in out_of_bounds["error"]


def test_bad_lines_are_reported_with_their_numbers(small_build, capsys, tmp_path):
    assert _eval(EXAMPLE, "--data", small_build.out_dir, "--k", "1", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lines"] == 10 and report["scored_lines"] == 6 and report["samples"] == 11
    skipped = {s["line"]: s["reason"] for s in report["skipped"]}
    assert skipped[7] == "unknown id '0000000000000000' for python→cpp_forward in this data"
    assert skipped[8].startswith("unknown task 'python→llvm_ir'")
    assert skipped[9] == "missing field 'predictions'"
    assert skipped[10].startswith("not JSON")
    by_task = {g["task"]: g for g in report["by_task"]}
    assert by_task["python→cpp_forward"]["correct"]["pass_at_k"]["1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert report["cuda_executed"] is False and by_task["python→cuda_forward"]["correct"]["rate"] is None


def test_the_same_predictions_give_the_same_results_file(example_results):
    first, second = example_results
    assert first.read_bytes() == second.read_bytes()
    assert {json.loads(line)["seed"] for line in first.read_text(encoding="utf-8").splitlines()} == {5}


def test_each_run_draws_a_fresh_seed_and_records_it(small_build, capsys, tmp_path):
    seeds = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        assert _eval(EXAMPLE, "--data", small_build.out_dir, "--k", "1", "--json", "--out", out) == 0
        report = json.loads(capsys.readouterr().out)
        lines = {json.loads(line)["seed"] for line in out.read_text(encoding="utf-8").splitlines()}
        assert lines == {report["seed"]}
        seeds.append(report["seed"])
    assert seeds[0] != seeds[1]  # 2**31 possible seeds


def test_unusable_input_is_one_line_and_status_2(small_build, tmp_path, capsys):
    stale = tmp_path / "stale.jsonl"
    stale.write_text(json.dumps({"id": "x", "task": "python→cpp_forward", "predictions": ["a"],
                                 "builder_version": "0.0.1"}) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"
    out.write_text("mine\n", encoding="utf-8")
    cases = [
        ((tmp_path / "missing.jsonl", "--data", small_build.out_dir), "cannot read"),
        ((stale, "--data", small_build.out_dir), "builder_version '0.0.1' is not this dataset's"),
        ((EXAMPLE, "--data", tmp_path), "is not a warp-ir build"),
        ((EXAMPLE, "--data", small_build.out_dir, "--split", "dev"), "no 'dev' split"),
        ((EXAMPLE, "--data", small_build.out_dir, "--out", out), "exists"),
        ((EXAMPLE, "--data", small_build.out_dir, "--k", "0"), "must be at least 1"),
        ((EXAMPLE, "--data", small_build.out_dir, "--out", tmp_path / "no" / "r.jsonl"), "no folder"),
    ]
    for args, message in cases:
        assert _eval(*args) == 2, args
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert out.read_text(encoding="utf-8") == "mine\n"  # never touched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl", "stale.jsonl"]  # no lock file left there


@pytest.mark.slow
def test_references_score_every_rung_on_every_task_of_a_200_row_build(tmp_path):
    """The identity check: every row of a 200-program build, every task, the reference as the answer."""
    from evaluation.tasks import TASKS, messages
    from warp_ir.build import build
    from warp_ir.evaluate import evaluate
    from warp_ir.stats import iter_rows, split_files
    from warp_ir.views import SOURCE_COLUMNS

    data = build(tmp_path / "data", num_samples=200, seed=0, num_proc=2,
                 command="warp-ir build --num-samples 200").out_dir
    total = 0
    for split, paths in split_files(data).items():
        lines = [{"id": row["id"], "task": task.name, "predictions": [m[2]["content"]]}
                 for row in iter_rows(paths, SOURCE_COLUMNS)
                 for task in TASKS.values() if (m := messages(task, row)) is not None]
        preds = tmp_path / f"{split}.jsonl"
        preds.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        report = evaluate(preds, data, split=split, ks=(1,), num_proc=2)
        assert not report.skipped and len(report.samples) == len(lines)
        for s in report.samples:
            assert (s.exact, s.normalized, s.compiles) == (True, True, True), s
            assert s.correct is (None if s.task.startswith("python→cuda") and not report.cuda_executed else True), s
        total += len({s.id for s in report.samples})
    assert total >= 195  # a build of 200 programs, less any Warp rejected
