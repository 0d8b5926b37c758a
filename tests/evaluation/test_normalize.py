"""The normalised rung: spacing, comments, temporaries' numbers and the module hash do not matter; meaning does."""

from __future__ import annotations

import re

import pyarrow.parquet as pq

REFERENCE = """\
template <bool wp_linear_contiguous>
static void reduce_grid_92f2ed9c_cpu_kernel_forward(
    wp::launch_bounds_t<1> dim,
    wp_args_reduce_grid_92f2ed9c *_wp_args)
{
    wp::float32* var_1;
    wp::float32 var_2;
    wp::float32 var_3;
    // z = error[tid]                                                                         <L 10>
    var_1 = wp::address(var_error, var_0);
    var_3 = wp::load(var_1);
    var_2 = wp::copy(var_3);
    var_4 = wp::erfc(var_2);  /* done */
}
"""


def test_spacing_comments_temporaries_and_hash_are_normalised():
    from evaluation.normalize import normalized, same_normalized

    renumbered = (REFERENCE.replace("var_1", "var_X").replace("var_3", "var_1").replace("var_X", "var_3")
                  .replace("92f2ed9c", "0badf00d"))
    squeezed = re.sub(r"//[^\n]*", "", renumbered).replace("\n    ", "\n").replace(" = ", "=")
    assert same_normalized(squeezed, REFERENCE)
    assert "<L" not in normalized(REFERENCE) and "done" not in normalized(REFERENCE)
    assert "reduce_grid_#0_cpu_kernel_forward" in normalized(REFERENCE)


def test_a_change_of_meaning_is_not_normalised_away():
    from evaluation.normalize import same_normalized

    assert not same_normalized(REFERENCE.replace("wp::erfc", "wp::erf"), REFERENCE)  # another builtin
    assert not same_normalized(REFERENCE.replace("var_4 = wp::erfc(var_2)", "var_4 = wp::erfc(var_3)"), REFERENCE)
    assert not same_normalized(REFERENCE.replace("var_error", "var_result"), REFERENCE)  # an argument's name
    assert not same_normalized(REFERENCE.replace("launch_bounds_t<1>", "launch_bounds_t<2>"), REFERENCE)
    assert not same_normalized(REFERENCE.replace("reduce_grid_92f2ed9c", "other_92f2ed9c"), REFERENCE)
    # two hashes where the reference has one
    assert not same_normalized(REFERENCE.replace("wp_args_reduce_grid_92f2ed9c", "wp_args_reduce_grid_11111111"),
                               REFERENCE)
    assert not same_normalized("", REFERENCE)


def test_every_reference_is_normalised_equal_to_itself_only(small_build):
    from evaluation.normalize import normalized

    rows = [r for p in sorted((small_build.out_dir / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    for column in ("cpp_forward", "cuda_backward"):
        texts = [normalized(r[column]) for r in rows]
        assert all("<L " not in t and "//" not in t for t in texts)
        assert len(set(texts)) == len(texts)  # distinct programs stay distinct
