"""What the flow synthesizer's programs are about: domains, their arrays, constants and helpers, by name.

A program draws one domain; its kernel, arrays, locals and constants are named from it, so a name says what a
value holds (``velocities`` holds velocities, ``REST_DENSITY`` is a rest density). Value kinds: ``f`` a float
scalar, ``v`` a 3-vector of it, ``i`` an ``int``, ``m`` a 3x3 matrix, ``q`` a quaternion.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    """An array a domain's kernels read or write: its name, the local a read is kept in, and its kind."""

    name: str
    local: str
    kind: str


@dataclass(frozen=True, slots=True)
class Domain:
    """One subject: the arrays its kernels use, named constants, and the structs that hold its state."""

    name: str
    fields: tuple[Field, ...]
    constants: tuple[tuple[str, float], ...]
    model: str
    state: str


def _f(spec: str) -> tuple[Field, ...]:
    out = []
    for item in spec.split():
        name, local, kind = item.split(":")
        out.append(Field(name, local, kind))
    return tuple(out)


DOMAINS: tuple[Domain, ...] = (
    Domain("particles", _f(
        "positions:pos:v velocities:vel:v forces:force:v particle_mass:mass:f inv_mass:inv_m:f radius:r:f "
        "particle_flags:flag:i accelerations:acc:v densities:rho:f pressures:p:f"),
        (("GRAVITY", 9.81), ("DAMPING", 0.98), ("EPSILON", 1.0e-6), ("MAX_SPEED", 10.0), ("RESTITUTION", 0.5)),
        "ParticleModel", "ParticleState"),
    Domain("cloth", _f(
        "vertex_q:x:v vertex_qd:v:v vertex_f:f:v rest_length:rest:f stiffness:ke:f damping:kd:f "
        "edge_flags:flag:i vertex_mass:mass:f normals:n:v strain:eps:f"),
        (("STRETCH_LIMIT", 1.1), ("BEND_STIFFNESS", 0.05), ("EPSILON", 1.0e-6), ("MIN_LENGTH", 1.0e-4)),
        "ClothModel", "ClothState"),
    Domain("fluid", _f(
        "density:rho:f pressure:p:f velocity:u:v divergence:div:f viscosity:mu:f temperature:temp:f "
        "cell_flags:flag:i vorticity:omega:v buoyancy:b:f phi:phi:f"),
        (("REST_DENSITY", 1000.0), ("SMOOTHING_RADIUS", 0.1), ("GAS_CONSTANT", 2.0), ("EPSILON", 1.0e-6)),
        "FluidModel", "FluidState"),
    Domain("rigid", _f(
        "body_pos:com:v body_vel:lin_vel:v body_omega:ang_vel:v body_mass:mass:f body_inertia:inertia:m "
        "body_rot:rot:q body_torque:torque:v contact_depth:depth:f body_flags:flag:i friction:mu:f"),
        (("GRAVITY", 9.81), ("CONTACT_STIFFNESS", 1.0e4), ("EPSILON", 1.0e-6), ("ANGULAR_DAMPING", 0.05)),
        "BodyModel", "BodyState"),
    Domain("heat", _f(
        "temperature:t:f conductivity:k:f heat_flux:q:v source_term:s:f capacity:c:f cell_center:x:v "
        "boundary_flags:flag:i emissivity:em:f"),
        (("AMBIENT", 293.15), ("STEFAN_BOLTZMANN", 5.67e-8), ("EPSILON", 1.0e-6), ("MAX_STEP", 0.25)),
        "ThermalModel", "ThermalState"),
    Domain("render", _f(
        "ray_origin:origin:v ray_dir:dir:v hit_normal:n:v radiance:color:v depth:t:f albedo:albedo:f "
        "pixel_flags:flag:i roughness:alpha:f light_dir:l:v"),
        (("INV_PI", 0.3183), ("EPSILON", 1.0e-4), ("MAX_DEPTH", 100.0), ("AMBIENT", 0.05)),
        "SceneModel", "FrameState"),
    Domain("neural", _f(
        "activations:a:f weights:w:f bias:b:f grads:g:f features:x:v logits:z:f labels:y:i scores:s:f"),
        (("LEAK", 0.01), ("EPSILON", 1.0e-6), ("CLIP", 5.0), ("MOMENTUM", 0.9)),
        "LayerModel", "LayerState"),
    Domain("mesh", _f(
        "vertices:p:v vertex_normals:n:v face_area:area:f edge_length:edge_len:f vertex_weight:w:f "
        "vertex_flags:flag:i curvature:h:f displacement:d:v"),
        (("SMOOTHING", 0.5), ("EPSILON", 1.0e-6), ("MIN_AREA", 1.0e-8), ("FEATURE_ANGLE", 0.5)),
        "SurfaceModel", "SurfaceState"),
)

# kernel-name verbs by program shape
VERBS: dict[str, tuple[str, ...]] = {
    "map": ("update", "compute", "apply", "evaluate", "integrate"),
    "batched": ("update", "step", "evaluate", "apply"),
    "csr": ("gather", "accumulate", "sum_neighbor", "smooth"),
    "scatter": ("scatter", "accumulate", "splat", "distribute"),
    "compaction": ("compact", "collect", "select", "find"),
    "reduction": ("reduce", "sum", "measure", "accumulate"),
    "iterate": ("relax", "solve", "refine", "iterate"),
    "struct": ("step", "update", "advance", "integrate"),
    "multistage": ("simulate", "process", "advance", "step"),
    "factory": ("make", "build", "create"),
}

# round or meaningful literals (issue 26: no arbitrary three-decimal constants)
LITERALS: tuple[float, ...] = (0.5, 1.0, 2.0, 0.25, 0.1, 1.0e-6, 1.0e-3, 0.01, 3.0, 4.0, 0.75, 1.5, 10.0, 0.05, 0.2)
