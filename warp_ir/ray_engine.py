"""Run a build's shards as Ray tasks on an existing cluster (or a local Ray instance).

The plan is made here exactly as the ``datasets`` builder makes it, each shard is compiled
by :func:`generator.shard.compile_shard` in a Ray task, and the rows come back in shard
order, so a Ray build writes the same rows as a local one with the same seed. Every node
needs warp-ir installed (``pip install "warp-ir-dataset[ray]"``) with the same versions.
"""

from __future__ import annotations

import logging
from typing import Any

import datasets

from extraction import FEATURES
from generator.pipeline import Counts
from generator.plan import make_plan
from generator.shard import compile_shard
from generator.templates import load_templates
from warp_ir.build import Produced

logger = logging.getLogger(__name__)


def run_ray(address: str | None = None, **config: Any) -> Produced:
    """Compile every shard of ``config`` as a Ray task and gather the rows in order.

    Args:
        address: ``ray://host:10001`` or ``host:6379`` of a running cluster; ``None`` starts a
            local Ray instance on this machine (loopback only).
        **config: :class:`warp_ir_dataset.WarpIRConfig` fields.
    """
    try:
        import ray  # noqa: PLC0415
    except ImportError as exc:
        raise ValueError("the ray engine needs Ray: pip install 'warp-ir-dataset[ray]'") from exc
    from warp_ir_dataset import WarpIRConfig  # noqa: PLC0415

    cfg = WarpIRConfig(**config)
    plan = make_plan(cfg.seed, cfg.num_samples, load_templates(), cfg.families, cfg.split_ratios, cfg.shard_size,
                     workers=cfg.plan_workers, twin_threshold=cfg.twin_threshold, fuzzy_dedup=cfg.fuzzy_dedup)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 **({} if address else {"_node_ip_address": "127.0.0.1"}))
    try:
        task = ray.remote(compile_shard)
        futures = {split: [task.remote(shard, cfg.targets, cfg.validate) for shard in shards]
                   for split, shards in plan.shards.items() if shards}
        counts = Counts()
        splits = {}
        for split, refs in futures.items():
            rows: list[dict] = []
            for shard_rows, shard_counts in ray.get(refs):
                rows.extend(shard_rows)
                counts.merge(Counts.from_json(shard_counts))
            splits[split] = datasets.Dataset.from_list(rows, features=FEATURES, split=split)
            logger.info("ray: %s done, %d rows", split, len(rows))
    finally:
        if started_here:
            ray.shutdown()
    return Produced(splits=splits, config=cfg, counts=counts, plan=plan.to_json())
