"""The ladder on real programs: references pass every rung; corrupted, crashing, hanging answers fail."""

from __future__ import annotations

import re

import pytest

from evaluation.adversarial import KINDS, corrupt
from evaluation.harness import Problem
from evaluation.tasks import TASKS

CPU_TASKS = ("python→cpp_forward", "python→cpp_backward", "cuda_forward→python")


def _fenced(task, code: str) -> str:
    return f"```{task.language}\n{code}\n```"


def test_references_reach_every_rung_on_every_task(score, blend_row, scale_row):
    problems = [Problem(i + 1, row, task, (_fenced(task, row[task.target]),))
                for i, (row, task) in enumerate((r, t) for r in (blend_row, scale_row) for t in TASKS.values())]
    samples = score(problems, run_cuda=False)
    assert len(samples) == 10
    for s in samples:
        assert (s.exact, s.normalized, s.compiles) == (True, True, True), s
        if s.task.startswith("python→cuda"):
            assert s.correct is None and s.error == ""  # no GPU asked for: scored up to "compiles"
        else:
            assert s.correct is True and s.max_abs_diff == 0.0, s


@pytest.mark.parametrize("task_name", CPU_TASKS)
def test_every_corruption_fails_and_the_reference_beside_it_passes(score, blend_row, scale_row, task_name):
    task = TASKS[task_name]
    kinds = [k for k in KINDS if corrupt(k, task, blend_row, scale_row) is not None]
    # calls_reference has no Python form; blend normalises nothing (no_normalize: tests/evaluation/test_gaming.py)
    assert set(KINDS) - set(kinds) == ({"calls_reference"} if task.decompile else set()) | {"no_normalize"}
    texts = [blend_row[task.target]] + [corrupt(k, task, blend_row, scale_row) for k in kinds]
    samples = score([Problem(1, blend_row, task, tuple(texts))])
    assert samples[0].correct is True and samples[0].exact
    for kind, s in zip(kinds, samples[1:]):
        assert s.correct is False and not s.exact, (kind, s)
        assert s.error, kind
    by_kind = dict(zip(kinds, samples[1:]))
    for kind in ("other_row", "other_kernel"):  # another kernel's code: the module cannot be built with it
        assert by_kind[kind].compiles is False
    if not task.decompile:
        assert by_kind["calls_reference"].compiles is False or "killed by signal" in by_kind["calls_reference"].error
        assert by_kind["operator"].compiles and "differs from the reference" in by_kind["operator"].error
    if task.backward:
        assert "adjoint of" in by_kind["constant"].error


def test_an_answer_equal_once_normalised_is_correct_but_not_exact(score, blend_row):
    from evaluation.normalize import same_normalized

    task = TASKS["python→cpp_forward"]
    reference = blend_row[task.target]
    # what a model might write: no comments, other temporaries' numbers
    renumbered = re.sub(r"var_(\d+)\b", lambda m: f"var_{int(m[1]) + 100}", re.sub(r"//[^\n]*", "", reference))
    assert same_normalized(renumbered, reference)
    (s,) = score([Problem(1, blend_row, task, (renumbered,))])
    assert (s.exact, s.normalized, s.compiles, s.correct) == (False, True, True, True)


def _with_body(reference: str, symbol: str, body: str) -> str:
    start = reference.index(symbol)
    brace = reference.index("{", reference.index(")", start))
    end = reference.rindex("}")
    return reference[:brace] + "{\n" + body + "\n}" + reference[end + 1:]


def test_crashing_hanging_and_memory_eating_predictions_are_recorded_and_the_run_goes_on(
        score, blend_row, scale_row, monkeypatch):
    from evaluation import harness
    from evaluation.tasks import entry_point

    monkeypatch.setattr(harness, "RUN_TIMEOUT_S", 8.0)
    monkeypatch.setattr(harness, "MEMORY_MB", 512)
    task = TASKS["python→cpp_forward"]
    reference = blend_row[task.target]
    symbol = entry_point(reference, "cpu", False)[0]
    crash = _with_body(reference, symbol, "    *(volatile int*)8 = 1;")
    hang = _with_body(reference, symbol, "    for (volatile int n = 0; ; ++n) {}")
    hog = _with_body(reference, symbol, "    static char big[1ul << 32];\n"
                                        "    for (unsigned long j = 0; ; j += 4096) big[j % (1ul << 32)] = 1;")
    samples = score([Problem(1, blend_row, task, (crash, hang, hog, reference)),
                     Problem(2, scale_row, task, (scale_row[task.target],))])
    crashed, hung, ate, fine, other = samples
    assert crashed.compiles and crashed.correct is False and "killed by signal 11" in crashed.error
    assert hung.compiles and hung.correct is False and "timeout" in hung.error
    assert ate.compiles and ate.correct is False and "more than 512 MiB" in ate.error
    assert fine.correct is True and other.correct is True


def test_a_broken_or_unlinkable_prediction_fails_alone(score, blend_row, scale_row):
    task = TASKS["python→cpp_forward"]
    good = scale_row[task.target]
    # every answer is compiled alone: a broken one never takes another down
    samples = score([Problem(1, blend_row, task, ("this is not C++ {",)), Problem(2, scale_row, task, (good,))])
    assert samples[0].compiles is False and "compile error: module.cpp:" in samples[0].error
    assert "error:" in samples[0].error and "/tmp" not in samples[0].error and "PCH" not in samples[0].error
    assert samples[1].compiles and samples[1].correct
    # compiles, but needs a symbol from outside that no reference needs: refused before it is loaded
    from evaluation.tasks import entry_point

    ref = blend_row[task.target]
    symbol = entry_point(ref, "cpu", False)[0]
    unlinkable = 'extern "C" void warp_ir_nowhere(void);\n' + _with_body(ref, symbol, "    warp_ir_nowhere();")
    samples = score([Problem(1, blend_row, task, (unlinkable,)), Problem(2, scale_row, task, (good,))])
    assert samples[0].compiles is False and samples[0].correct is False
    assert "calls outside Warp's runtime and math: warp_ir_nowhere" in samples[0].error
    assert samples[1].correct is True


def test_a_forbidden_prediction_is_never_compiled(score, blend_row):
    task = TASKS["python→cpp_forward"]
    (s,) = score([Problem(1, blend_row, task, ('#include "/etc/passwd"\n' + blend_row[task.target],))])
    assert s.compiles is False and "preprocessor directive at line 1" in s.error


def test_a_models_answer_runs_without_the_secrets_of_the_environment(score, blend_row, monkeypatch):
    import os

    monkeypatch.setenv("HF_TOKEN", "secret-value")
    monkeypatch.setenv("MY_API_KEY", "secret-value")
    task = TASKS["cuda_forward→python"]  # the answer is a program: scoring loads it, running its top-level code
    answer = blend_row["python_source"] + "\nimport os\nraise RuntimeError('env=' + ','.join(sorted(os.environ)))\n"
    (s,) = score([Problem(1, blend_row, task, (_fenced(task, answer),))])
    assert s.compiles is False and "env=" in s.error, s
    seen = s.error.split("env=")[1].split(",")
    assert "PATH" in seen and "HF_TOKEN" not in seen and "MY_API_KEY" not in seen
    assert os.environ["HF_TOKEN"] == "secret-value"  # the scorer's own process keeps it


def test_scoring_progress_counts_predictions_and_names_each_stage(score, blend_row, scale_row, monkeypatch):
    import logging

    import common.progress as progress_module
    from common.progress import Progress

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    monkeypatch.setattr(progress_module, "_bars_allowed", False)
    log, handler = logging.getLogger(progress_module.LOGGER), Collect()
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    task = TASKS["python→cpp_forward"]
    problems = [Problem(1, blend_row, task, (blend_row[task.target], "nonsense")),
                Problem(2, scale_row, task, (scale_row[task.target],))]
    try:
        with Progress(3, "scoring", "prediction", done="scored", every_s=0.0) as bar:
            samples = score(problems, bar=bar)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    assert [s.correct for s in samples] == [True, False, True]
    stages = ("generate reference modules", "generate predicted modules", "compile references", "compile predictions",
              "run references", "run predictions")
    last = "python→cpp_forward: run predictions done"
    assert [re.sub(r"\d+\.\d s", "T", ln) for ln in lines] == [
        *(f"scoring: 0 of 3 predictions (0%, T); python→cpp_forward: {stage} done" for stage in stages),
        f"scoring: 3 of 3 predictions (100%, T); {last}",
        f"scored 3 of 3 predictions in T ({last})",
    ]


def test_a_tile_kernel_runs_as_warp_launches_it(score, tile_row, tmp_path):
    """The module is generated for the block size the tiled launch resolves to, as Warp builds it: the scorer's
    reference computes what ``wp.launch_tiled`` computes, and ``max`` -> ``min`` fails (both passed when the code
    for 256 threads ran one thread a block)."""
    import numpy as np
    import warp as wp

    from evaluation.compiling import compile_alone
    from evaluation.execute import KernelSpec, RunJob, prepare, run, write_meta
    from extraction import loaded_source
    from extraction.inputs import make_inputs

    task = TASKS["python→cpp_forward"]
    reference = tile_row[task.target]
    assert "wp::tile_reduce(wp::max," in reference
    to_min = reference.replace("wp::tile_reduce(wp::max,", "wp::tile_reduce(wp::min,")
    ok, swapped = score([Problem(1, tile_row, task, (reference, to_min))])
    assert ok.correct is True
    assert swapped.compiles and swapped.correct is False

    source = tile_row["python_source"]
    spec = KernelSpec(source, "tilemax", "cpu", tiled=True)
    blocks = wp.config.enable_cpu_blocks
    module = prepare(spec)  # turns on cooperative CPU blocks in this process: off again below
    path = str(tmp_path / "module.cpp")
    assert compile_alone(module.source, "cpu", path, None) is None
    write_meta(path + ".meta.json", [module])
    got = run(RunJob(spec, source, 1, module.block_dim, path + ".o", path + ".meta.json", None, False, seed=3))
    assert not got.error
    wp.config.enable_cpu_blocks = blocks  # Warp's own launch as a user's runs it: by default, one thread a block
    with loaded_source(source, "warp_ir_test_tilemax_launch") as mod:
        inputs = make_inputs(mod.tilemax, source, 1, seed=3)
        a = wp.array(np.asarray(inputs.values[0]), dtype=float, device="cpu")
        out = wp.zeros(len(inputs.values[1]), dtype=float, device="cpu")
        wp.launch_tiled(mod.tilemax, dim=inputs.shape, inputs=[a, out], block_dim=256, device="cpu")
    assert np.allclose(got.arrays[1], out.numpy())
    assert np.allclose(out.numpy(), np.asarray(inputs.values[0])[:, :16].max(axis=1))


def test_weak_problems_are_reported_apart(score, blend_row, tmp_path):
    """A row whose reference writes the same for every input set is weak: any answer writing that scores correct."""
    from extraction import extract_module, loaded_source

    source = '''import warp as wp


@wp.kernel
def ramp(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = float(i) * 0.5
'''
    with loaded_source(source, "warp_ir_test_ramp") as module:
        rec = extract_module(module, program_source=source)[0]
    rec.id, rec.family, rec.complexity = "4a3b000000000001", "fixture", 1
    ramp = rec.to_row()
    task = TASKS["python→cpp_forward"]
    samples = score([Problem(1, blend_row, task, (blend_row[task.target],)),
                     Problem(2, ramp, task, (ramp[task.target],))])
    assert samples[0].weak == "" and samples[1].weak.startswith("writes the same for every input set")
    from evaluation.report import Report

    report = Report(samples, (1,), lines=2)
    weak = report.weak_problems()[task.name]
    assert weak["rows"] == 2 and weak["weak_rows"] == 1 and weak["examples"] == ["4a3b000000000001"]
    strength = {g["strength"]: g["samples"] for g in report.groups("strength")}
    assert strength == {"discriminative": 1, "weak": 1}
    assert "weak problems" in report.render() and "by strength" in report.render()


def test_precompiled_headers_are_made_in_a_folder_that_did_not_exist(tmp_path):
    """warp-ir eval passed a folder that did not exist: Warp's compiler then made no header, every compile took
    ~0.7 s instead of ~0.07 s and every compile error read "PCH generation failed"."""
    from evaluation.compiling import warm_headers

    folder = tmp_path / "not-yet" / "pch"
    warm_headers(str(folder))
    assert [p.suffix for p in folder.iterdir()] == [".pch"]


def test_a_reference_that_writes_outside_its_arrays_gives_no_verdict(score, spill_row, blend_row):
    """Real kernels indexed by a random integer can write past their arrays on the drawn inputs: their answers,
    the reference itself included, are unscored (``correct`` None), not wrong."""
    task = TASKS["python→cpp_forward"]
    fenced = f"```{task.language}\n{spill_row[task.target]}\n```"
    spilled, blend = score([Problem(1, spill_row, task, (fenced,)),
                            Problem(2, blend_row, task, (f"```{task.language}\n{blend_row[task.target]}\n```",))])
    assert spilled.compiles is True and spilled.correct is None
    assert spilled.error.startswith("reference: wrote outside its arrays (out")
    assert blend.correct is True


def test_an_answer_may_be_twice_as_long_as_a_long_reference():
    from evaluation.checks import MAX_ANSWER_BYTES, answer_limit, forbidden

    long_reference = "x" * (300 * 1024)
    assert answer_limit("short") == MAX_ANSWER_BYTES and answer_limit(long_reference) == 600 * 1024
    assert forbidden(long_reference) is not None and forbidden(long_reference, answer_limit(long_reference)) is None
