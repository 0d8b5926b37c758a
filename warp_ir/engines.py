"""The engines behind one contract: each takes the configuration and hands back a :class:`Produced`."""

from __future__ import annotations

from pathlib import Path

from generator.codegen.rowstats import CONFIG_PREFIX
from warp_ir.local_engine import run_local
from warp_ir.produced import Produced
from warp_ir.ray_engine.tasks import ROWS_PER_FILE  # Ray itself is imported only when the engine runs
from warp_ir.request import BuildRequest


def run_engine(request: BuildRequest, work: Path | str) -> Produced:
    """Run ``request``'s engine, its working files under ``work`` (the output's cache folder, or a URL there).

    Raises:
        warp_ir.ray_engine.RayTaskFailed: A Ray task failed.
    """
    if request.engine == "ray":
        from warp_ir.ray_engine import run_ray  # noqa: PLC0415 - ray is an optional extra

        return run_ray(str(work).rstrip("/") + "/ray", request.config, CONFIG_PREFIX[request.config.name],
                       request.address, request.rows_per_file or ROWS_PER_FILE, request.max_in_flight)
    return run_local(Path(work), request.config, request.num_proc)
