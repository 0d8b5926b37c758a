"""Every way an answer was seen to game the scorer, with the answer that used it: each must fail ``correct``
(and leave the scorer and the machine as they were), while the reference beside it passes."""

from __future__ import annotations

import pickle
import re

import pytest

from evaluation.harness import Problem
from evaluation.tasks import TASKS, entry_point

CPP = TASKS["python→cpp_forward"]
DECOMPILE = TASKS["cuda_forward→python"]

# a decompile answer that is wrong unless it finds the reference: it reads like the blend fixture's kernel but
# drops the helper; when a stealing step below finds the row's program, it runs that instead
_WRONG_BLEND = '''import warp as wp


@wp.kernel
def blend(a: wp.array(dtype=float), b: wp.array(dtype=float), k: float, out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = a[i] * k
'''
_RUN_STOLEN = '''
def _run_stolen(text):
    import linecache
    import sys
    name = "/stolen_reference.py"
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    mod = sys.modules[__name__]
    mod.__file__ = name
    exec(compile(text, name, "exec"), mod.__dict__)
'''


def _fenced(task, code: str) -> str:
    return f"```{task.language}\n{code}\n```"


def _with_body(reference: str, symbol: str, body: str) -> str:
    start = reference.index(symbol)
    brace = reference.index("{", reference.index(")", start))
    end = reference.rindex("}")
    return reference[:brace] + "{\n" + body + "\n}" + reference[end + 1:]


def test_a_decompile_answer_cannot_read_the_data_or_the_scorers_memory(score, blend_row, tmp_path):
    data = tmp_path / "data.txt"  # stands for the --data Parquet: the row's program, on this machine's disk
    data.write_text(blend_row["python_source"], encoding="utf-8")
    from_file = _WRONG_BLEND + _RUN_STOLEN + f'''
import sys
for path in [{str(data)!r}, *sys.argv]:
    try:
        _run_stolen(open(path).read())
        break
    except Exception:
        pass
'''
    from_frames = _WRONG_BLEND + _RUN_STOLEN + '''
import sys
_M1, _M2 = "wp.sin(b[i]) ", "* 1.5"  # the reference's text, split: this answer's own source does not hold it
def _walk(value, depth=0):
    if isinstance(value, str):
        return value if _M1 + _M2 in value and "@wp.kernel" in value and "_run_stolen" not in value else None
    if depth > 6:
        return None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else \\
        vars(value).values() if hasattr(value, "__dict__") and not isinstance(value, type) else \\
        [getattr(value, s, None) for s in getattr(type(value), "__slots__", ())]
    for v in list(items):
        try:
            found = _walk(v, depth + 1)
        except Exception:
            continue
        if found:
            return found
    return None
def _steal():
    frame = sys._getframe(2)
    while frame is not None:
        stolen = _walk(dict(frame.f_locals))
        if stolen:
            return stolen
        frame = frame.f_back
    return None
try:
    _stolen = _steal()
except Exception:
    _stolen = None
if _stolen:
    _run_stolen(_stolen)
del _steal, _walk, _stolen
'''
    reference = blend_row["python_source"]
    answers = tuple(_fenced(DECOMPILE, a) for a in (from_file, from_frames, reference))
    problem = Problem(1, blend_row, DECOMPILE, answers)
    by_file, by_frames, honest = score([problem])
    assert by_file.compiles and by_file.correct is False, by_file
    assert by_frames.compiles and by_frames.correct is False, by_frames
    assert honest.correct is True
    # the same answer, boxed without namespaces, reads the file: what the namespaces stop
    (unboxed,) = score([Problem(1, blend_row, DECOMPILE, (_fenced(DECOMPILE, from_file),))], isolation="process")
    assert unboxed.correct is True


@pytest.mark.parametrize("spelling", [
    '%:include "{path}"',  # the digraph
    '??=include "{path}"',  # the trigraph
    '#\\\ninclude "{path}"',  # a line splice
    '/* a comment first */ # include "{path}"',
    '  %:  define blend_x 1',
    '_Pragma("once")',
    'int x = 1; asm("nop");',
    '__attribute__((constructor)) static void early() {{}}',
])
def test_a_native_answer_with_a_directive_in_any_spelling_is_never_compiled(score, blend_row, spelling):
    task = CPP
    line = spelling.format(path="/etc/hostname")
    (s,) = score([Problem(1, blend_row, task, (line + "\n" + blend_row[task.target],))])
    assert s.compiles is False and s.correct is False and "not allowed" in s.error, s


@pytest.mark.parametrize("call, what", [
    ('extern "C" char* getenv(const char*);', 'if (getenv("HOME")) warp_ir_probe = 0;'),
    ('extern "C" int system(const char*);', 'system("touch /tmp/warp-ir-was-here");'),
    ('extern "C" void* fopen(const char*, const char*); extern "C" int fputs(const char*, void*);',
     'fputs("x", fopen("/tmp/warp-ir-was-here", "a"));'),
    ('extern "C" void* dlopen(const char*, int);', 'dlopen("libc.so.6", 1);'),
])
def test_a_native_answer_that_calls_the_c_library_is_refused_before_it_runs(score, blend_row, call, what):
    reference = blend_row[CPP.target]
    symbol = entry_point(reference, "cpu", False)[0]
    start = reference.index(symbol)
    body_open = reference.index("{", reference.index(")", start)) + 1
    answer = call + "\n" + reference[:body_open] + "\n    int warp_ir_probe = 1; " + what + reference[body_open:]
    (s, ref) = score([Problem(1, blend_row, CPP, (answer, reference))])
    assert s.compiles is False and "calls outside Warp's runtime and math" in s.error, s
    assert ref.correct is True


def test_an_answer_defining_what_another_rows_code_uses_changes_no_other_verdict(score, blend_row, scale_row):
    reference, good = blend_row[CPP.target], scale_row[CPP.target]
    # leaves its module's namespace and defines the launch wrapper of the other row's module
    wrapper = entry_point(good, "cpu", False)[0].replace("_cpu_kernel_forward", "_cpu_forward")
    escaping = reference + f'\n}}\nextern "C" void {wrapper}(void* a, void* b) {{}}\nnamespace wp_ir_0 {{\n'

    bad, other = score([Problem(1, blend_row, CPP, (escaping,)), Problem(2, scale_row, CPP, (good,))])
    assert bad.compiles is False and "defines symbols outside its module" in bad.error, bad
    assert other.correct is True
    (alone,) = score([Problem(2, scale_row, CPP, (good,))])
    assert (alone.compiles, alone.correct) == (other.compiles, other.correct)


def test_an_answer_cannot_take_over_or_kill_the_scorer(score, blend_row, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    crafted = pickle.dumps(Payload())
    writes_pickles = _WRONG_BLEND + f'''
import os
for fd in range(0, 64):
    try:
        os.write(fd, len({crafted!r}).to_bytes(8, "little") + {crafted!r})
    except OSError:
        pass
open("result.json", "w").write('{{"names": [], "arrays": 0, "grads": 0}}')
'''
    kills = _WRONG_BLEND + '''
import os, signal
for target in (os.getppid(), 1, -1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
'''
    reference = blend_row["python_source"]
    samples = score([Problem(1, blend_row, DECOMPILE, tuple(_fenced(DECOMPILE, a) for a in (writes_pickles, kills))),
                     Problem(2, blend_row, DECOMPILE, (_fenced(DECOMPILE, reference),))])
    forged, killer, honest = samples
    assert not marker.exists()  # nothing the answer wrote was unpickled here
    assert forged.correct is False and killer.correct is False
    assert honest.correct is True  # the scorer lived on, with a fresh box


def test_an_oversized_answer_is_refused_unscored(score, blend_row):
    from evaluation.checks import MAX_ANSWER_BYTES

    huge = blend_row[CPP.target] + "\n// padding\n" * (MAX_ANSWER_BYTES // 10)
    (s,) = score([Problem(1, blend_row, CPP, (huge,))])
    assert s.compiles is False and s.correct is False and "byte limit" in s.error


@pytest.mark.parametrize("task_name", ["python→cpp_forward", "python→cpp_backward", "cuda_forward→python"])
def test_small_changes_fail_a_constant_nudged_by_2e_4_and_a_dropped_normalisation(score, blend_row, spin_row,
                                                                                task_name):
    from evaluation.adversarial import corrupt

    task = TASKS[task_name]
    nudged = corrupt("constant_nudge", task, blend_row)
    dropped = corrupt("no_normalize", task, spin_row)
    assert nudged and dropped, (nudged, dropped)
    samples = score([Problem(1, blend_row, task, (_fenced(task, nudged), _fenced(task, blend_row[task.target]))),
                     Problem(2, spin_row, task, (_fenced(task, dropped), _fenced(task, spin_row[task.target])))])
    bad_constant, ref_blend, bad_normalize, ref_spin = samples
    assert ref_blend.correct is True and ref_spin.correct is True
    assert bad_constant.compiles and bad_constant.correct is False, bad_constant
    assert bad_normalize.compiles and bad_normalize.correct is False, bad_normalize
    assert bad_constant.max_rel_diff is not None and bad_constant.max_rel_diff > 1e-5


def test_an_answer_holding_output_tables_for_known_seeds_fails_under_a_fresh_one(score, blend_row, tmp_path):
    """With public seeds, writing the outputs recorded for them scored correct; a run's own seed defeats it."""
    from evaluation.adversarial import output_table
    from evaluation.compiling import compile_alone
    from evaluation.execute import TRIALS, KernelSpec, RunJob, prepare, run, write_meta

    known_seed = 0
    source = blend_row["python_source"]
    spec = KernelSpec(source, "blend", "cpu")
    module = prepare(spec)
    path = str(tmp_path / "module.cpp")
    assert compile_alone(module.source, "cpu", path, None) is None
    write_meta(path + ".meta.json", [module])
    ran = run(RunJob(spec, source, 1, module.block_dim, path + ".o", path + ".meta.json", None, False, known_seed))
    per_set = len(ran.arrays) // TRIALS  # a, b, k, out for each input set
    tables = [(float(ran.arrays[t * per_set][0]), {"out": ran.arrays[t * per_set + 3].tolist()})
              for t in range(TRIALS)]
    answer = _fenced(DECOMPILE, output_table(blend_row, tables))
    (memorised,) = score([Problem(1, blend_row, DECOMPILE, (answer,))], seed=known_seed)
    assert memorised.correct is True  # what public seeds allowed
    (fresh,) = score([Problem(1, blend_row, DECOMPILE, (answer,))], seed=known_seed + 12345)
    assert fresh.compiles and fresh.correct is False


def test_an_answer_right_only_for_small_integers_fails_on_the_wide_ones(score, bucket_row):
    """Integer inputs were all in [0, 4): ``counts % 7`` dropped scored correct. Value arguments now also get
    integers over a wide range of both signs (an index argument, ``idx``, stays in range or the reference fails)."""
    reference = bucket_row[CPP.target]
    dropped = re.sub(r"(var_\d+) = wp::mod\((var_\d+), var_\d+\);", r"\1 = \2;", reference)
    assert dropped != reference
    wrong, right = score([Problem(1, bucket_row, CPP, (_fenced(CPP, dropped), _fenced(CPP, reference)))])
    assert right.correct is True, right
    assert wrong.compiles and wrong.correct is False, wrong
