"""The ``fem`` family: the kernels warp.fem generates for the Poisson example's integrands."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path

from extraction import TARGETS, KernelRecord, Source, extract_kernels
from generator.codegen.pipeline import package_version, record_id

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def fem_records(targets: Sequence[str] = TARGETS, degrees: Sequence[int] = (1, 2, 3)) -> list[KernelRecord]:
    """Solve the Poisson example once per degree and extract every integration kernel warp.fem made.

    Each record's ``python_source`` is the ``@fem.integrand`` the kernel integrates (the code a
    warp.fem user writes); its generated code is the specialised integration kernel, with the
    integrand as one of its ``@wp.func`` helpers. Kernels identical across degrees are kept once.
    """
    from fem_examples.capture import capture_fem_kernels, integrand_of  # noqa: PLC0415 - imports warp.fem

    records: list[KernelRecord] = []
    seen: set[str] = set()
    for degree in degrees:
        for kernel in capture_fem_kernels(resolution=4, degree=degree):
            integrand = integrand_of(kernel)
            lines, first = inspect.getsourcelines(integrand.func)
            src = "".join(lines)
            (rec,) = extract_kernels([kernel], targets, program_source=src, module_name="fem_examples.poisson")
            if rec.content_hash in seen:
                continue
            seen.add(rec.content_hash)
            rec.id = record_id(src + rec.content_hash)
            rec.family = "fem"
            rec.template = f"fem_examples/poisson.py:{integrand.name}"
            rec.complexity = 3
            rec.params = f'{{"degree": {degree}, "integrand": "{integrand.name}"}}'
            rec.source = Source(kind="fem", package="warp-ir", package_version=package_version("warp-ir-dataset"),
                                module="fem_examples.poisson", path="fem_examples/poisson.py", first_line=first,
                                last_line=first + len(lines) - 1)
            records.append(rec)
    logger.info("fem: %d integration kernels", len(records))
    return records
