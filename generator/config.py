"""One configuration: every build setting that decides the rows, its default, its check and the fingerprint.

:class:`BuildConfig` is what the engines take (:mod:`warp_ir.local_engine`, :mod:`warp_ir.ray_engine`);
``warp_ir_dataset.WarpIRConfig`` is a thin subclass of it for ``datasets``, and the command line only parses
its options and maps them onto it. Every check is here, in :meth:`BuildConfig.__post_init__`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from common.errors import ConfigError
from extraction import TARGETS, VALIDATION_LEVELS
from generator.codegen.rowstats import CONFIG_PREFIX
from generator.codegen.shard import fingerprint
from generator.planning.plan import DEFAULT_SPLITS, DEFAULT_UNSEEN_TEMPLATES, MAX_NUM_SAMPLES
from generator.planning.similarity import DEFAULT_TWIN_THRESHOLD
from generator.programs.templates import default_families, load_templates
from generator.programs.templates import families as template_families
from generator.real.config import check_real_settings
from generator.real.jobs import PACKAGE_TIMEOUT_S


@dataclass
class BuildConfig:
    """What to build.

    Attributes:
        name: ``synthetic`` (programs from the templates and the synthesizer) or ``real`` (mined kernels).
        num_samples: Distinct programs to draw (rows = this minus programs Warp rejects).
        seed: Sampling seed; same seed and versions give the same rows.
        families: Template families to draw from (default: every family but the opt-in ones, see
            :data:`generator.programs.templates.OPT_IN_FAMILIES`).
        targets: Code generation targets, any of ``cpu`` and ``cuda``.
        validate: ``codegen``, ``compile``, ``run`` or ``grad``.
        split_ratios: Split name -> fraction, in order; fractions sum to 1.
        shard_size: Programs per shard (the unit of parallelism and of resumption).
        plan_workers: Processes that plan (render and hash programs; every split gets at least this many
            shards), or, for ``real``, packages mined at once (each in a child process of its own).
        fuzzy_dedup: Drop a program whose near-twin (see ``twin_threshold``) is already kept.
        twin_threshold: Estimated Jaccard of normalised 5-token shingles at or above which two programs are
            near-twins: kept in one split (and, with ``fuzzy_dedup``, never both kept).
        packages: ``real`` configuration: installed distributions whose own Warp code is mined (default
            ``None``: warp-lang and every installed distribution that depends on it).
        test_packages: ``real`` configuration: packages whose rows form the test split (default ``None``:
            :data:`generator.real.config.DEFAULT_TEST_PACKAGES`); the others are train.
        allow_licenses: ``real`` configuration: SPDX ids mined besides the permissive ones.
        package_timeout: ``real`` configuration: seconds one package's child process may mine.
        include_fem: ``real`` configuration: add the kernels warp.fem generates for the Poisson example (family
            ``fem``; off by default: a row's text is the integrand alone, not a whole problem).
        unseen_templates: Templates (``<family>/<name>``, or ``synthesized/<shape>``) whose rows form the split
            ``test_unseen`` and no other (default ``None``: :data:`~generator.planning.plan.DEFAULT_UNSEEN_TEMPLATES`
            of the selected families; ``()``: no such split).
        round_trip: Check every row's round trip (its text alone, saved as a file, regenerates its code:
            :mod:`extraction.roundtrip`) and record it in ``validation.round_trip``.
    """

    name: str = "synthetic"
    num_samples: int = 1000
    seed: int = 0
    families: tuple[str, ...] | None = None
    targets: tuple[str, ...] = TARGETS
    validate: str = "codegen"
    split_ratios: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SPLITS))
    shard_size: int = 100
    plan_workers: int = 1
    fuzzy_dedup: bool = True
    twin_threshold: float = DEFAULT_TWIN_THRESHOLD
    packages: tuple[str, ...] | None = None
    test_packages: tuple[str, ...] | None = None
    allow_licenses: tuple[str, ...] = ()
    package_timeout: float = PACKAGE_TIMEOUT_S
    include_fem: bool = False
    unseen_templates: tuple[str, ...] | None = None
    round_trip: bool = True

    def __post_init__(self) -> None:
        """Check every setting and bring ``families``, ``targets`` and the package names to canonical form.

        Raises:
            ConfigError: A setting is invalid (the message is one line naming it).
        """
        if self.name not in CONFIG_PREFIX:
            raise ConfigError(f"unknown config {self.name!r} (known: {', '.join(CONFIG_PREFIX)})")
        if self.num_samples < 1:
            raise ConfigError(f"num_samples must be at least 1, got {self.num_samples}")
        if self.num_samples > MAX_NUM_SAMPLES:  # see generator.planning.plan.MAX_NUM_SAMPLES for why
            shown = f"{self.num_samples:,}" if not isinstance(self.num_samples, int) or self.num_samples < 10**20 else \
                f"a number of about {int(self.num_samples.bit_length() * math.log10(2)) + 1:,} digits"
            raise ConfigError(f"num_samples must be at most {MAX_NUM_SAMPLES:,}, got {shown}")
        for name in ("shard_size", "plan_workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.families is not None and not self.families:
            raise ConfigError("families is empty: name at least one family (or None for all)")
        self.families = tuple(sorted(set(self.families))) if self.families else tuple(default_families())
        known = template_families()
        unknown = [f for f in self.families if f not in known]
        if unknown:
            raise ConfigError(f"unknown families: {', '.join(unknown)} (known: {', '.join(known)})")
        bad = [t for t in self.targets if t not in TARGETS]
        if not self.targets or bad:
            raise ConfigError(f"targets must be a non-empty subset of {', '.join(TARGETS)}, got {self.targets!r}")
        self.targets = tuple(t for t in TARGETS if t in self.targets)
        if self.validate not in VALIDATION_LEVELS:
            raise ConfigError(f"validate must be one of {', '.join(VALIDATION_LEVELS)}, got {self.validate!r}")
        self.packages, self.test_packages = check_real_settings(self.packages, self.test_packages,
                                                                self.allow_licenses, self.package_timeout)
        if not (isinstance(self.twin_threshold, (int, float)) and 0.5 <= self.twin_threshold <= 1.0):
            raise ConfigError(f"twin_threshold must be a number in [0.5, 1], got {self.twin_threshold!r}")
        if self.unseen_templates is not None:
            self.unseen_templates = tuple(sorted(set(self.unseen_templates)))
        self.held_out_templates()  # checked now: the field keeps what was asked (None: the defaults)
        values = list(self.split_ratios.values())
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in values) or \
                abs(sum(values) - 1.0) > 1e-6:
            raise ConfigError(f"split ratios must be non-negative and sum to 1, got {self.split_ratios}")

    def held_out_templates(self) -> tuple[str, ...]:
        """The templates of the split ``test_unseen``: :attr:`unseen_templates`, or the defaults of the selected
        families when it is ``None`` (checked: known templates of the selected families, sorted).

        Raises:
            ConfigError: A name that is no template, or a template outside the selected families.
        """
        families = set(self.families or ())
        if self.unseen_templates is None:
            return tuple(sorted(t for t in DEFAULT_UNSEEN_TEMPLATES if t.split("/")[0] in families))
        known = {t.name: t.family for t in load_templates()}
        unknown = [t for t in self.unseen_templates if t not in known]
        if unknown:
            raise ConfigError(f"unknown templates for the unseen split: {', '.join(unknown)} "
                              f"(names look like {next(iter(sorted(known)))})")
        outside = [t for t in self.unseen_templates if known[t] not in families]
        if outside:
            raise ConfigError(f"templates for the unseen split outside the selected families: {', '.join(outside)}")
        return tuple(sorted(set(self.unseen_templates)))

    def fingerprint(self) -> str:
        """A key for what decides the synthetic rows and their shards (templates, versions): names resume folders."""
        return fingerprint({
            "seed": self.seed, "num_samples": self.num_samples, "families": self.families, "targets": self.targets,
            "validate": self.validate, "split_ratios": self.split_ratios, "shard_size": self.shard_size,
            "plan_workers": self.plan_workers, "fuzzy_dedup": self.fuzzy_dedup, "twin_threshold": self.twin_threshold,
            "round_trip": self.round_trip, "unseen_templates": self.held_out_templates()})

    def settings(self) -> dict[str, Any]:
        """Every setting but ``name``, by field name (what a subclass, or a copy elsewhere, is made from)."""
        return {f.name: getattr(self, f.name) for f in fields(BuildConfig) if f.name != "name"}
