"""Cutting definitions out of generated source text."""

from extraction import cut

TU = """
// f.py:3
static wp::float32 helper_0(
    wp::float32 var_x)
{
    // if x > 0: { not a brace }                                     <L 4>
    const char* s = "}";
    return var_x;
}

static void adj_helper_0(wp::float32 var_x, wp::float32 & adj_x, wp::float32 & adj_ret)
{
    adj_x += adj_ret;
}

template <bool wp_linear_contiguous>
static void k_abc_cpu_kernel_forward(int dim)
{
    var_1 = helper_0(var_0);
}

struct wp_args_k_abc {
    wp::array_t<wp::float32> a;
};
"""


def test_find_definition_spans_template_comment_and_tricky_braces():
    helper = cut.find_definition(TU, "helper_0")
    assert helper.startswith("// f.py:3\nstatic wp::float32 helper_0(")
    assert helper.rstrip().endswith("return var_x;\n}")
    kernel = cut.find_definition(TU, "k_abc_cpu_kernel_forward")
    assert kernel.startswith("template <bool wp_linear_contiguous>\n")
    assert "helper_0(var_0)" in kernel


def test_call_is_not_a_definition():
    assert cut.find_definition("void f() { g(1); }", "g") is None
    assert cut.find_definition(TU, "missing_kernel") is None


def test_prefix_does_not_match_adjoint():
    assert cut.find_definition(TU, "helper_0").count("adj_x") == 0
    assert "adj_x += adj_ret;" in cut.find_definition(TU, "adj_helper_0")


def test_struct_and_closure():
    assert cut.find_struct(TU, "wp_args_k_abc").endswith("};")
    bodies = {"a_0": "x = b_0(y);", "b_0": "return c_0(z);", "c_0": "return 1;", "d_0": "unused"}
    assert cut.closure("r = a_0(q);", bodies) == ["c_0", "b_0", "a_0"]
