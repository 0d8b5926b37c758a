"""Physics and graphics vocabulary for realistic identifiers in generated programs."""

from __future__ import annotations

# Names for arrays of scalars / vectors / matrices, by role.
SCALAR_FIELDS = (
    "density", "pressure", "temperature", "mass", "inv_mass", "energy", "phi", "potential", "charge",
    "viscosity", "stiffness", "damping", "heat", "signed_dist", "weight", "radius", "age", "concentration",
    "speed", "height", "depth", "alpha", "residual", "error", "strain", "volume", "area", "cost",
)
VECTOR_FIELDS = (
    "positions", "velocities", "forces", "normals", "accelerations", "displacements", "momentum",
    "points", "offsets", "directions", "gradients", "colors", "impulses", "torques", "targets", "centers",
)
MATRIX_FIELDS = ("rotations", "stresses", "deformation", "inertia", "jacobians", "covariances", "transforms_m")
SCALAR_PARAMS = (
    "dt", "gravity", "scale", "gain", "k_spring", "k_damp", "epsilon", "threshold", "restitution", "friction",
    "time", "omega", "frequency", "amplitude", "cutoff", "smoothing", "alpha", "beta", "relax",
)
LOCALS = (
    "x", "y", "z", "value", "acc", "total", "tmp", "delta", "diff", "ratio", "s", "t", "u", "w", "r", "d",
    "dist", "mag", "proj", "term", "corr", "blend", "rel", "num", "den",
)
KERNEL_VERBS = (
    "compute", "update", "apply", "integrate", "accumulate", "evaluate", "scatter", "gather", "project",
    "advect", "relax", "solve", "blend", "smooth", "normalize", "clamp", "transform", "reduce", "sample",
)
KERNEL_NOUNS = (
    "forces", "velocities", "positions", "density", "pressure", "energy", "field", "particles", "springs",
    "contacts", "grid", "weights", "heat", "stress", "normals", "colors", "impulses", "residual", "flux",
)
