"""Build past one machine: Ray tasks write their own Parquet files; the driver holds the plan and counts only.

Every node needs warp-ir installed (``pip install "warp-ir-dataset[ray]"``) with the same versions, and
the output must be reachable from every node (shared storage, or an fsspec URL such as ``s3://``).
"""

from warp_ir.ray_engine.driver import RayTaskFailed, run_ray
from warp_ir.ray_engine.tasks import ROWS_PER_FILE

__all__ = ["ROWS_PER_FILE", "RayTaskFailed", "run_ray"]
