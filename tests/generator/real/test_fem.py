"""The fem family: kernels warp.fem generates for the Poisson example's integrands, as records."""

from __future__ import annotations


def test_fem_records_carry_integrand_and_generated_code():
    from generator.real.fem import fem_records

    recs = fem_records(degrees=(1,))
    by_integrand = {r.template.split(":")[1]: r for r in recs}
    assert {"diffusion_form", "source_form"} <= set(by_integrand)
    diffusion = by_integrand["diffusion_form"]
    assert diffusion.family == "fem" and diffusion.source.kind == "fem"
    assert "@fem.integrand" in diffusion.python_source and "def diffusion_form(" in diffusion.python_source
    assert "diffusion_form" in diffusion.helper_functions
    assert "_cpu_kernel_forward(" in diffusion.cpp_forward and "_cuda_kernel_backward(" in diffusion.cuda_backward
    assert "wp::dot(" in diffusion.cpp_forward  # grad(u) . grad(v)
    lines = (diffusion.source.first_line, diffusion.source.last_line)
    assert 0 < lines[0] < lines[1]
