"""Speed and trustworthiness of ``warp-ir eval``, measured in one run.

    python benchmarks/eval.py [--data DIR] [--rows 1000] [--task python→cpp_forward]
    python benchmarks/eval.py --corrupted [--data DIR] [--rows 50]
    python benchmarks/eval.py --copy-comments [--data DIR] [--rows 200]

Speed (default): honest answers for ``--rows`` rows of the test split and ``--task``: each reference, and the
same code with its comments dropped (another text, the same program: every answer is compiled and run in the
answer box), scored up to the ``correct`` rung with 1 and with 2 processes; prints answers per second for each
(target on the 2-core reference machine: >= 8/s with 2 processes), the time of each stage of the 1-process run,
and checks that every answer scored correct.

``--corrupted``: for every CPU-runnable task, each reference of ``--rows`` test rows corrupted
in every way of :mod:`evaluation.adversarial`, plus the references themselves; prints, per task
and corruption kind, how many corrupted answers were made and how many were caught (failed
``correct``), the references' own score, and answers per second with 2 processes (target >= 2/s).

``--copy-comments``: the decompile task answered by copying the program out of Warp's source-line comments
(:func:`evaluation.baselines.copy_comments_answer`), from the CUDA the old prompts showed (``warp-ir-prompts-2``,
comments in) and from what the prompts show now; prints how many of each scored correct.

Without ``--data`` it first builds a folder whose test split holds ``--rows`` rows
(``warp-ir build --split-ratios 0.45,0.05,0.5``) in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CPU_TASKS = ("python→cpp_forward", "python→cpp_backward", "cuda_forward→python")


def build(rows: int, out: Path) -> None:
    cmd = [sys.executable, "-m", "warp_ir.cli", "build", "--out", str(out), "--num-samples", str(2 * rows),
           "--split-ratios", "0.45,0.05,0.5", "--num-proc", "2", "--baseline-rows", "0"]
    print("building:", " ".join(cmd[2:]), file=sys.stderr)
    subprocess.run(cmd, check=True, cwd=ROOT)


def test_rows(data: Path, rows: int) -> list[dict]:
    from warp_ir.stats import iter_rows, split_files
    from warp_ir.views import SOURCE_COLUMNS

    out = []
    for row in iter_rows(split_files(data)["test"], SOURCE_COLUMNS):
        out.append(row)
        if len(out) == rows:
            break
    return out


def write_lines(path: Path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


class Stages(logging.Handler):
    """Adds up the stage times the harness logs (``<task>: <stage> <seconds> s``)."""

    PATTERN = re.compile(r"^[^:]+: (?P<stage>.+) (?P<s>[\d.]+) s$")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        m = self.PATTERN.match(record.getMessage())
        if m:
            self.seconds[m["stage"]] += float(m["s"])


def speed(data: Path, rows: int, task_name: str, workdir: Path) -> None:
    from evaluation.tasks import TASKS, messages
    from warp_ir.evaluate import evaluate

    task = TASKS[task_name]
    lines = [{"id": r["id"], "task": task.name, "predictions": [m[2]["content"], _without_comments(m[2]["content"],
                                                                                                   task.decompile)]}
             for r in test_rows(data, rows) if (m := messages(task, r)) is not None]
    preds = workdir / "references.jsonl"
    write_lines(preds, lines)
    stages = Stages()
    logging.getLogger("evaluation.harness").addHandler(stages)
    logging.getLogger("evaluation.harness").setLevel(logging.INFO)
    results = {}
    for procs in (1, 2):
        start = time.perf_counter()
        report = evaluate(preds, data, ks=(1,), num_proc=procs)
        elapsed = time.perf_counter() - start
        correct = sum(bool(s.correct) for s in report.samples)
        results[procs] = (elapsed, len(report.samples), correct)
        print(f"{procs} process(es): {len(report.samples)} answers in {elapsed:.1f} s = "
              f"{len(report.samples) / elapsed:.2f} answers/s; correct {correct}/{len(report.samples)}", flush=True)
        for s in [s for s in report.samples if not s.correct][:10]:
            print(f"  not correct: row {s.id} ({s.family}): {s.error}")
        if procs == 1:
            total = sum(stages.seconds.values())
            print("  where the 1-process run's time went (the rest: reading data, precompiling headers):")
            for stage, s in stages.seconds.most_common():
                print(f"    {stage:<28} {s:7.1f} s  {100 * s / elapsed:5.1f}%")
            print(f"    {'(other)':<28} {elapsed - total:7.1f} s  {100 * (elapsed - total) / elapsed:5.1f}%")
            logging.getLogger("evaluation.harness").removeHandler(stages)
    e1, e2 = results[1][0], results[2][0]
    rate = results[2][1] / e2
    print(f"speed-up 2 vs 1 process(es): {e1 / e2:.2f}x; 2 processes: {rate:.2f} honest answers/s "
          f"(target >= 8: {'met' if rate >= 8 else 'NOT met'})")


def _without_comments(answer: str, python: bool) -> str:
    """The same answer without its comment lines (``#`` in Python, ``//`` in generated code)."""
    mark = "#" if python else "//"
    return "\n".join(ln for ln in answer.splitlines() if not ln.strip().startswith(mark)) + "\n"


def copy_comments(data: Path, rows: int, workdir: Path) -> None:
    from evaluation.baselines import copy_comments_answer
    from evaluation.tasks import TASKS, messages
    from warp_ir.evaluate import evaluate

    task = TASKS["cuda_forward→python"]
    lines = []
    for r in test_rows(data, rows):
        chat = messages(task, r)
        if chat is None:
            continue
        old = copy_comments_answer(r["cuda_forward"], r["kernel_name"])  # the CUDA prompts-2 showed
        new = copy_comments_answer(chat[1]["content"], r["kernel_name"])  # what the prompt shows now
        lines.append({"id": r["id"], "task": task.name, "predictions": [f"```python\n{old}```",
                                                                          f"```python\n{new}```"]})
    preds = workdir / "copy-comments.jsonl"
    write_lines(preds, lines)
    report = evaluate(preds, data, ks=(1,), num_proc=2)
    for index, name in ((0, "old prompts (comments in)"), (1, "new prompts (warp-ir-prompts-3)")):
        got = [s for s in report.samples if s.sample == index]
        print(f"copying the comments, {name}: {sum(bool(s.correct) for s in got)}/{len(got)} correct, "
              f"{sum(bool(s.compiles) for s in got)}/{len(got)} compile")


def corrupted(data: Path, rows: int, workdir: Path) -> None:
    from evaluation.adversarial import KINDS, corrupt
    from evaluation.tasks import TASKS, messages
    from warp_ir.evaluate import evaluate

    picked = test_rows(data, rows)
    lines, kinds = [], {}
    for name in CPU_TASKS:
        task = TASKS[name]
        for i, row in enumerate(picked):
            m = messages(task, row)
            if m is None:
                continue
            other = picked[(i + 1) % len(picked)]
            variants = [("reference", m[2]["content"])]
            variants += [(kind, code) for kind in KINDS if (code := corrupt(kind, task, row, other)) is not None]
            # a file holds one line per (row, task): the variants are that line's answers, told apart by index
            lines.append({"id": row["id"], "task": name, "predictions": [code for _, code in variants]})
            kinds[(row["id"], name)] = [kind for kind, _ in variants]
    preds = workdir / "corrupted.jsonl"
    write_lines(preds, lines)
    start = time.perf_counter()
    report = evaluate(preds, data, ks=(1,), num_proc=2)
    elapsed = time.perf_counter() - start
    rate = len(report.samples) / elapsed
    print(f"scored {len(report.samples)} answers in {elapsed:.1f} s with 2 processes = {rate:.2f} answers/s "
          f"(target >= 2: {'met' if rate >= 2 else 'NOT met'})")
    table: dict[tuple[str, str], Counter] = defaultdict(Counter)
    reasons: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for s in report.samples:
        kind = kinds[(s.id, s.task)][s.sample]
        c = table[(s.task, kind)]
        c["made"] += 1
        c["correct"] += bool(s.correct)
        c["compiles"] += bool(s.compiles)
        c["weak"] += bool(s.weak)
        c["weak_correct"] += bool(s.weak) and bool(s.correct)
        if kind != "reference" and s.correct:
            print(f"  NOT CAUGHT: {s.task} {kind} row {s.id}")
        reasons[(s.task, kind)][(s.error or "").split(":")[0][:40]] += 1
    print(f"{'task':<22}{'answer':<20}{'made':>6}{'compiles':>10}{'correct':>9}{'caught':>8}"
          f"{'caught, discriminative rows':>29}  main reason")
    for (task, kind), c in sorted(table.items(), key=lambda kv: (kv[0][0], (["reference", *KINDS]).index(kv[0][1]))):
        caught = "-" if kind == "reference" else f"{c['made'] - c['correct']}/{c['made']}"
        strong = c["made"] - c["weak"]
        caught_strong = "-" if kind == "reference" else f"{strong - (c['correct'] - c['weak_correct'])}/{strong}"
        why = reasons[(task, kind)].most_common(1)[0][0] if kind != "reference" else ""
        print(f"{task:<22}{kind:<20}{c['made']:>6}{c['compiles']:>10}{c['correct']:>9}{caught:>8}{caught_strong:>29}"
              f"  {why}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="a built folder (default: build one)")
    p.add_argument("--rows", type=int, default=None, help="test rows used (default 1000; 50 with --corrupted)")
    p.add_argument("--task", default="python→cpp_forward")
    p.add_argument("--corrupted", action="store_true", help="score corrupted references instead of timing")
    p.add_argument("--copy-comments", action="store_true", help="score the copy-the-comments baseline instead")
    args = p.parse_args()
    rows = args.rows or (50 if args.corrupted else 200 if args.copy_comments else 1000)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="warp-ir-bench-eval-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            build(rows, data)
        if args.corrupted:
            corrupted(data, rows, Path(tmp))
        elif args.copy_comments:
            copy_comments(data, rows, Path(tmp))
        else:
            speed(data, rows, args.task, Path(tmp))


if __name__ == "__main__":
    main()
