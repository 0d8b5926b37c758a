"""Capture the Warp kernels that :mod:`warp.fem` generates for the Poisson example's integrands.

``fem.integrate`` does not launch the ``@fem.integrand`` functions directly: for each call it
specialises a generic integration kernel (defined inside ``warp._src.fem.integrate``) for the
concrete fields, domain and quadrature, and registers it in a Warp module of its own named
``<integrand module>.<integrand name>_<hash>`` (here ``fem_examples.poisson.diffusion_form_1a2b3c4d``).
The integrand itself becomes a ``@wp.func`` (registered in the ``fem_examples.poisson`` Warp
module) that this kernel calls. Each :class:`warp.fem.Integrand` keeps the kernels made for it in
its ``cached_kernels`` dict, ``{specialisation key: (kernel, FieldStruct, ValueStruct)}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fem_examples import poisson

logger = logging.getLogger(__name__)

INTEGRANDS: tuple[str, ...] = (
    "source_form",
    "diffusion_form",
    "boundary_projector_form",
    "boundary_value_form",
    "squared_error_form",
)
"""Names of the ``@fem.integrand`` functions of :mod:`fem_examples.poisson`, in assembly order."""


class _RecordingDict(dict):
    """A dict that remembers every key read through ``[]``, in first-read order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: list[Any] = []

    def __getitem__(self, key: Any) -> Any:
        if key not in self.read:
            self.read.append(key)
        return super().__getitem__(key)


def capture_fem_kernels(resolution: int = 4, degree: int = 2, problem: str = "sine") -> list[Any]:
    """Solve the Poisson example once and return the Warp kernels its integrands were integrated with.

    Only the kernels this run actually looked up are returned (``fem.integrate`` reads each one from
    its integrand's ``cached_kernels`` before launching it), so the result does not depend on what
    earlier runs in the same process put in those caches.

    Args:
        resolution: Grid cells per axis.
        degree: Polynomial degree of the function space.
        problem: One of :data:`fem_examples.poisson.PROBLEMS`.

    Returns:
        One ``warp.Kernel`` per integrand, in :data:`INTEGRANDS` order (the solver integrates each of
        them exactly once). ``kernel.module`` is the Warp module holding only that kernel;
        ``kernel.func`` is Warp's generic integration kernel, and the integrand it calls is
        ``getattr(poisson, name).func``.
    """
    integrands = [getattr(poisson, name) for name in INTEGRANDS]
    saved = [integrand.cached_kernels for integrand in integrands]
    recorders = [_RecordingDict(cache) for cache in saved]
    try:
        for integrand, recorder in zip(integrands, recorders):
            integrand.cached_kernels = recorder
        example = poisson.Example(quiet=True, degree=degree, resolution=resolution, problem=problem)
        example.step()
        example.l2_error()
    finally:
        for integrand, cache, recorder in zip(integrands, saved, recorders):
            cache.update(recorder)
            integrand.cached_kernels = cache

    kernels = []
    for name, recorder in zip(INTEGRANDS, recorders):
        found = [recorder[key][0] for key in recorder.read]
        if not found:
            raise RuntimeError(f"warp.fem generated no kernel for integrand {name}")
        kernels.extend(found)
    for kernel in kernels:
        logger.debug("captured %s in Warp module %s", kernel.key, kernel.module.name)
    return kernels


def integrand_of(kernel: Any) -> Any:
    """The ``@fem.integrand`` (a ``warp.fem.Integrand``) of :mod:`fem_examples.poisson` a captured kernel integrates."""
    for name in INTEGRANDS:
        integrand = getattr(poisson, name)
        if any(entry[0] is kernel for entry in integrand.cached_kernels.values()):
            return integrand
    raise LookupError(f"{kernel.key} is not an integration kernel of fem_examples.poisson")


__all__ = ["INTEGRANDS", "capture_fem_kernels", "integrand_of"]
