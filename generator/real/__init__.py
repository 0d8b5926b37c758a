"""Real Warp code mined from installed packages: the ``real`` configuration.

Modules, lowest first: :mod:`~generator.real.licenses` (SPDX from metadata),
:mod:`~generator.real.packages` (which distributions, their metadata), :mod:`~generator.real.sources`
(which modules, how to import them), :mod:`~generator.real.mine` (kernels -> records, in this
process), :mod:`~generator.real.jobs` (one package per child process, finished ones kept) and
:mod:`~generator.real.config` (splits by package, duplicates across packages).
"""
