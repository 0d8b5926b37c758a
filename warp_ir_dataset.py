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
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
from datasets.builder import Key
from datasets.utils.logging import get_logger

from common.atomic import write_json_atomic
from extraction import FEATURES
from generator.codegen.pipeline import Counts
from generator.codegen.rowstats import ROW_STATS, RowStats, builtin_name_set, merge_counts, merge_row_stats
from generator.codegen.shard import run_shards
from generator.config import BuildConfig
from generator.planning.plan import PLAN_SIGNATURES, make_plan, read_signatures, write_signatures
from generator.programs.templates import load_templates
from generator.real.config import mine_and_plan, real_jobs, real_table, row_batches
from generator.version import BUILDER_VERSION

logger = get_logger(__name__)

_DESCRIPTION = "Warp kernels (Python) paired with the C++ (CPU) and CUDA code Warp generates, forward and backward."
_HOMEPAGE = "https://huggingface.co/datasets/org/warp-ir"
_LICENSE = "apache-2.0"
PLAN_JSON = "plan.json"  # the plan's summary, in stats_dir
REAL_REPORT = "real_report.json"  # what was mined, in stats_dir


@dataclass
class WarpIRConfig(BuildConfig, datasets.BuilderConfig):
    """A :class:`generator.config.BuildConfig` as ``datasets`` takes it (every setting and check is there).

    Attributes:
        stats_dir: Where per-shard counts and row statistics are written (the local engine sets it).
        resume_dir: Where finished shards are kept, so a killed build resumes (the local engine sets it).
    """

    name: str = "synthetic"
    stats_dir: str | None = None
    resume_dir: str | None = None

    def __post_init__(self) -> None:
        datasets.BuilderConfig.__post_init__(self)
        BuildConfig.__post_init__(self)


@dataclass
class Gathered:
    """What a build's workers counted while the rows streamed past (:meth:`WarpIR.gathered`).

    Attributes:
        counts: Rows kept and programs rejected, by family and reason (merged over the shards).
        row_stats: The rows' statistics, in row order (``None`` for ``real``: its workers gather none).
        plan: The plan's JSON summary (synthetic).
        plan_signatures: The kept programs' row ids and MinHash signatures (synthetic).
        real_report: What was mined, package by package (real).
    """

    counts: Counts
    row_stats: RowStats | None  # None: the workers gathered none (real configuration)
    plan: dict[str, Any] | None = None
    plan_signatures: tuple[Any, Any] | None = None
    real_report: dict[str, Any] | None = None


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

    def gathered(self) -> Gathered:
        """What the builder and its workers wrote under ``stats_dir`` beside the rows, once they are prepared.

        Raises:
            FileNotFoundError: The config has no ``stats_dir``, or the rows were not prepared.
        """
        if not self.config.stats_dir:
            raise FileNotFoundError("the builder gathers its counts only with a stats_dir")
        stats_dir = Path(self.config.stats_dir)
        gathered = Gathered(merge_counts(stats_dir), merge_row_stats(stats_dir / ROW_STATS))
        if self.config.name == "real":
            gathered.real_report = json.loads((stats_dir / REAL_REPORT).read_text())
        else:
            gathered.plan = json.loads((stats_dir / PLAN_JSON).read_text())
            gathered.plan_signatures = read_signatures(stats_dir / PLAN_SIGNATURES)
        return gathered

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
            jobs = real_jobs(cfg.packages, cfg.targets, cfg.allow_licenses, cfg.include_fem,
                             round_trip=cfg.round_trip)
            shards, report = mine_and_plan(jobs, folder, cfg.test_packages, cfg.plan_workers, cfg.package_timeout)
            if cfg.stats_dir:
                write_json_atomic(Path(cfg.stats_dir) / REAL_REPORT, report)
            return [datasets.SplitGenerator(name=split, gen_kwargs={"shards": s}) for split, s in shards.items()]
        plan = make_plan(cfg.seed, cfg.num_samples, load_templates(), cfg.families, cfg.split_ratios, cfg.shard_size,
                         workers=cfg.plan_workers, twin_threshold=cfg.twin_threshold, fuzzy_dedup=cfg.fuzzy_dedup,
                         unseen_templates=cfg.held_out_templates())
        logger.info("plan: %s", json.dumps(plan.to_json()))
        if cfg.stats_dir:
            write_json_atomic(Path(cfg.stats_dir) / PLAN_JSON, plan.to_json())
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
        # keys as datasets' packaged builders give them: the shard's index in this job's list (a worker gets a slice
        # of the split's shards), then the table's; an empty shard yields nothing
        # the next shard compiles while this one's rows are counted and written
        tables = run_shards(shards, cfg.targets, cfg.validate, cfg.stats_dir, resume, cfg.round_trip)
        for i, (shard, table) in enumerate(tables):
            if cfg.stats_dir:  # the card's statistics, gathered here while the rows stream past
                stats = RowStats()
                stats.add_table(shard.split, table, names)
                write_json_atomic(Path(cfg.stats_dir) / ROW_STATS / f"{shard.name}.json", stats.to_json())
            if table.num_rows:
                yield Key(i, 0), table
