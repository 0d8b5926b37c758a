"""On a machine with a CUDA GPU: compile the generated CUDA to CUBIN, launch, and compare with the CPU run."""

from __future__ import annotations

import numpy as np
import pytest
import warp as wp
import warp.types

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda_device():
    wp.init()
    if not wp.is_cuda_available():
        pytest.skip("no CUDA GPU")
    return wp.get_cuda_device(0)


@pytest.mark.parametrize("name", ["arith_kernel", "vector_kernel", "branch_kernel", "loop_kernel", "matrix_kernel",
                                  "trig_kernel", "struct_helper_kernel"])
def test_cuda_matches_cpu(cuda_device, name):
    from extraction import loaded_source
    from extraction.inputs import make_inputs
    from tests.conftest import FIXTURES

    src = (FIXTURES / "prototype_kernels.py").read_text()
    with loaded_source(src, "warp_ir_gpu_check") as mod:
        kernel = getattr(mod, name)
        wp.compile_aot_module(kernel.module, device=cuda_device, use_ptx=False)  # CUBIN for this GPU
        inputs = make_inputs(kernel, src, 2 if name == "struct_helper_kernel" else 1, seed=3)
        results = {}
        for device in ("cpu", cuda_device):
            args = [wp.array(a.numpy(), dtype=a.dtype, device=device) if isinstance(a, wp.array) else a
                    for a in inputs.build()]
            wp.launch(kernel, dim=inputs.shape, inputs=args, device=device)
            wp.synchronize_device(device)
            results[str(device)] = [a.numpy() for a in args
                                    if isinstance(a, wp.array) and not wp.types.type_is_struct(a.dtype)]
        cpu, gpu = results["cpu"], results[str(cuda_device)]
        for x, y in zip(cpu, gpu):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
