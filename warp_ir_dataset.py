"""warp-ir: a `datasets` builder pairing Warp kernels with the C++/CUDA code Warp generates for them.

``datasets`` 4+ no longer runs dataset scripts, so this builder is used as a class::

    from warp_ir_dataset import WarpIR
    builder = WarpIR(num_samples=500, seed=0)
    builder.download_and_prepare()
    ds = builder.as_dataset()

``warp-ir build`` drives it and writes the Hub layout (Parquet + README), which
``load_dataset("org/warp-ir")`` reads with no remote code.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from datasets.builder import Key
from datasets.utils.logging import get_logger

from extraction import FEATURES, TARGETS, VALIDATION_LEVELS
from common.atomic import write_json_atomic
from generator.planning.plan import (
    BUILDER_VERSION,
    DEFAULT_SPLITS,
    DEFAULT_TWIN_THRESHOLD,
    MAX_NUM_SAMPLES,
    PLAN_SIGNATURES,
    make_plan,
    write_signatures,
)
from generator.real.jobs import DEFAULT_TIMEOUT_S
from generator.real.config import check_real_settings, mine_and_plan, real_jobs, real_table, row_batches
from generator.codegen.rowstats import ROW_STATS, RowStats, builtin_name_set
from generator.codegen.shard import fingerprint, run_shard
from generator.programs.templates import default_families, load_templates
from generator.programs.templates import families as template_families

logger = get_logger(__name__)

_DESCRIPTION = "Warp kernels (Python) paired with the C++ (CPU) and CUDA code Warp generates, forward and backward."
_HOMEPAGE = "https://huggingface.co/datasets/org/warp-ir"
_LICENSE = "apache-2.0"


@dataclass
class WarpIRConfig(datasets.BuilderConfig):
    """What to build.

    Attributes:
        num_samples: Distinct programs to draw (rows = this minus programs Warp rejects).
        seed: Sampling seed; same seed and versions give the same rows.
        families: Template families to draw from (default: every family but the opt-in ones, see
            :data:`generator.programs.templates.OPT_IN_FAMILIES`).
        targets: Code generation targets, any of ``cpu`` and ``cuda``.
        validate: ``codegen``, ``compile``, ``run`` or ``grad``.
        split_ratios: Split name -> fraction, in order; fractions sum to 1.
        shard_size: Programs per shard (the unit of parallelism and of resumption).
        stats_dir: Where per-shard counts and row statistics are written (``warp-ir build`` sets it).
        resume_dir: Where finished shards are kept, so a killed build resumes (``warp-ir build`` sets it).
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
        include_fem: ``real`` configuration: add the kernels warp.fem generates for the Poisson example.
    """

    name: str = "synthetic"
    num_samples: int = 1000
    seed: int = 0
    families: tuple[str, ...] | None = None
    targets: tuple[str, ...] = TARGETS
    validate: str = "codegen"
    split_ratios: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SPLITS))
    shard_size: int = 100
    stats_dir: str | None = None
    resume_dir: str | None = None
    plan_workers: int = 1
    fuzzy_dedup: bool = True
    twin_threshold: float = DEFAULT_TWIN_THRESHOLD
    packages: tuple[str, ...] | None = None
    test_packages: tuple[str, ...] | None = None
    allow_licenses: tuple[str, ...] = ()
    package_timeout: float = DEFAULT_TIMEOUT_S
    include_fem: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        known = template_families()
        if self.num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {self.num_samples}")
        if self.num_samples > MAX_NUM_SAMPLES:  # see generator.planning.plan.MAX_NUM_SAMPLES for why
            shown = f"{self.num_samples:,}" if not isinstance(self.num_samples, int) or self.num_samples < 10**20 else \
                f"a number of about {int(self.num_samples.bit_length() * math.log10(2)) + 1:,} digits"
            raise ValueError(f"num_samples must be at most {MAX_NUM_SAMPLES:,}, got {shown}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be at least 1, got {self.shard_size}")
        if self.families is not None and not self.families:
            raise ValueError("families is empty: name at least one family (or None for all)")
        self.families = tuple(sorted(set(self.families))) if self.families else tuple(default_families())
        unknown = [f for f in self.families if f not in known]
        if unknown:
            raise ValueError(f"unknown families: {', '.join(unknown)} (known: {', '.join(known)})")
        self.targets = tuple(t for t in TARGETS if t in self.targets)
        bad = set(self.targets) ^ set(self.targets) | {t for t in self.targets if t not in TARGETS}
        if not self.targets or bad:
            raise ValueError(f"targets must be a non-empty subset of {', '.join(TARGETS)}")
        if self.validate not in VALIDATION_LEVELS:
            raise ValueError(f"validate must be one of {', '.join(VALIDATION_LEVELS)}, got {self.validate!r}")
        self.packages, self.test_packages = check_real_settings(self.packages, self.test_packages,
                                                                self.allow_licenses, self.package_timeout)
        if not (isinstance(self.twin_threshold, (int, float)) and 0.5 <= self.twin_threshold <= 1.0):
            raise ValueError(f"twin_threshold must be a number in [0.5, 1], got {self.twin_threshold!r}")
        values = list(self.split_ratios.values())
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in values) or \
                abs(sum(values) - 1.0) > 1e-6:
            raise ValueError(f"split ratios must be non-negative and sum to 1, got {self.split_ratios}")


    def fingerprint(self) -> str:
        """A key for what decides the synthetic rows and their shards (templates, versions): names resume folders."""
        return fingerprint({
            "seed": self.seed, "num_samples": self.num_samples, "families": self.families, "targets": self.targets,
            "validate": self.validate, "split_ratios": self.split_ratios, "shard_size": self.shard_size,
            "plan_workers": self.plan_workers, "fuzzy_dedup": self.fuzzy_dedup, "twin_threshold": self.twin_threshold})


class WarpIR(datasets.ArrowBasedBuilder):
    """Renders Jinja kernel templates, compiles each with Warp, and yields one Arrow table per shard."""

    VERSION = datasets.Version(BUILDER_VERSION)
    BUILDER_CONFIG_CLASS = WarpIRConfig
    BUILDER_CONFIGS = [
        WarpIRConfig(name="synthetic", description="Programs rendered from warp-ir's templates."),
        WarpIRConfig(name="real", description="Kernels of real Warp code, train and test held out by package."),
    ]
    DEFAULT_CONFIG_NAME = "synthetic"
    # Rows are ~30 KB of code: Parquet row groups of 100 rows (~3 MB); a shard is one table of at most
    # `shard_size` rows, written as it is (no per-row encoding), so no large write is left for the end.
    DEFAULT_WRITER_BATCH_SIZE = 100

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # `datasets` copies the default config and sets keyword overrides with setattr, which
        # skips __post_init__: run the checks on the config actually used.
        self.config.__post_init__()

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=_DESCRIPTION, features=FEATURES, homepage=_HOMEPAGE, license=_LICENSE,
        )

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        cfg = self.config
        if cfg.name == "real":  # each package mined in a child process of its own; finished ones are kept
            if cfg.resume_dir:
                folder = Path(cfg.resume_dir) / "real"
            else:
                self._scratch = tempfile.TemporaryDirectory(prefix="warp-ir-real-")  # removed with the builder
                folder = Path(self._scratch.name)
            jobs = real_jobs(cfg.packages, cfg.targets, cfg.allow_licenses, cfg.include_fem)
            shards, report = mine_and_plan(jobs, folder, cfg.test_packages, cfg.plan_workers, cfg.package_timeout)
            if cfg.stats_dir:
                write_json_atomic(Path(cfg.stats_dir) / "real_report.json", report)
            return [datasets.SplitGenerator(name=split, gen_kwargs={"shards": s}) for split, s in shards.items()]
        plan = make_plan(cfg.seed, cfg.num_samples, load_templates(), cfg.families, cfg.split_ratios, cfg.shard_size,
                         workers=cfg.plan_workers, twin_threshold=cfg.twin_threshold, fuzzy_dedup=cfg.fuzzy_dedup)
        logger.info("plan: %s", json.dumps(plan.to_json()))
        if cfg.stats_dir:
            write_json_atomic(Path(cfg.stats_dir) / "plan.json", plan.to_json())
            write_signatures(plan, Path(cfg.stats_dir) / PLAN_SIGNATURES)  # the card's near-twin count reuses them
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"shards": shards})
            for split, shards in plan.shards.items()
            if shards
        ]

    def _generate_tables(self, shards: list):
        cfg = self.config
        if cfg.name == "real":
            for i, shard in enumerate(shards):
                for j, batch in enumerate(row_batches(real_table(shard), self.DEFAULT_WRITER_BATCH_SIZE)):
                    yield Key(i, j), batch
            return
        resume = str(Path(cfg.resume_dir) / cfg.fingerprint()) if cfg.resume_dir else None
        names = builtin_name_set() if cfg.stats_dir else set()
        for shard in shards:
            table = run_shard(shard, cfg.targets, cfg.validate, cfg.stats_dir, resume)
            if cfg.stats_dir:  # the card's statistics, gathered here while the rows stream past
                stats = RowStats()
                stats.add_table(shard.split, table, names)
                write_json_atomic(Path(cfg.stats_dir) / ROW_STATS / f"{shard.name}.json", stats.to_json())
            if table.num_rows:
                yield Key(shard.shard_id, 0), table
