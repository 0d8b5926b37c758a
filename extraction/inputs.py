"""Launch inputs for a kernel, generated from its signature.

Arrays get random values (floats in [-1, 1], integers in [0, 4) so they are safe as
indices; an array the program reads one past an index, ``offsets[i + 1]``, has one element
more, as CSR offsets do), scalars about 1.0, structs random fields; ``uint64`` arguments are given
the id of a mesh, BVH, hash grid or volume, chosen by the query functions the
program passes them to. Everything is drawn from one seeded generator, so the same
program always gets the same inputs. Input sets of other magnitudes and signs (``scale``) scale the floats and
draw the integers of arguments that only hold values (:mod:`extraction.value_ints`) over a wide range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import warp as wp
import warp.types as wt

from extraction.value_ints import marks, value_arguments
from extraction.warp_objects import kernel_arg_types, kernel_python_function

LAUNCH_SHAPES = {1: (64,), 2: (8, 8), 3: (4, 4, 4), 4: (3, 3, 3, 3)}
# input sets of other magnitudes and signs: each set's floating-point inputs times one of these (make_inputs' scale):
# an additive constant that is lost beside inputs of magnitude 1 shows beside small ones, a dropped normalisation on
# the non-unit quaternions of the scaled sets, and a kernel that does not depend on its inputs writes the same for all
INPUT_SCALES = (1.0, 0.01, -10.0)
# integers of the arguments that hold values (extraction.value_ints) in those other sets: in [-span, span] (within
# their type), the span by the set's scale (below 1: the first, above: the second; a product of two stays in int32)
WIDE_INT_SPANS = (1_000, 40_000)
_QUERY_KIND = (("mesh", "mesh"), ("bvh", "bvh"), ("hash_grid", "hash_grid"), ("volume", "volume"))


class InputError(Exception):
    """A kernel argument of a kind the input generator cannot build."""


@dataclass(slots=True)
class LaunchInputs:
    """Arguments for one launch, as NumPy values that can be turned into fresh Warp arrays any time."""

    names: list[str]
    types: list[Any]
    values: list[Any]  # np.ndarray for arrays, Python/Warp values otherwise
    shape: tuple[int, ...]
    keep_alive: list[Any] = field(default_factory=list)  # meshes, grids, volumes referenced by id

    def build(self, requires_grad: bool = False) -> list[Any]:
        """Fresh launch arguments (new arrays each call, so launches never see each other's writes).

        Indexed arrays view a fresh array through a fixed permutation of each axis.
        """
        args: list[Any] = []
        for t, v in zip(self.types, self.values):
            if isinstance(t, wp.indexedarray):
                data: Any = wp.array(v, dtype=t.dtype, device="cpu")
                perms: list[Any] = [wp.array(np.random.default_rng(d).permutation(n).astype(np.int32), dtype=wp.int32,
                                             device="cpu") for d, n in enumerate(data.shape)]
                args.append(wp.indexedarray(data, perms))
            elif wt.is_array(t):
                grad = requires_grad and is_float_dtype(t.dtype)
                args.append(wp.array(v, dtype=t.dtype, device="cpu", requires_grad=grad))
            else:
                args.append(v)
        return args


def scalar_of(dtype: Any) -> Any:
    """The scalar type of a Warp dtype (``float32`` for ``vec3``; the dtype itself for scalars)."""
    return getattr(dtype, "_wp_scalar_type_", dtype)


def is_float_dtype(dtype: Any) -> bool:
    """Whether a Warp dtype is made of float16/32/64."""
    return scalar_of(dtype) in (wp.float16, wp.float32, wp.float64)


def _random_scalars(dtype: Any, shape: tuple[int, ...], rng: np.random.Generator, lo: float = -1.0) -> np.ndarray:
    scalar = scalar_of(dtype)
    if scalar in (wp.float16, wp.float32, wp.float64, float):
        return rng.uniform(lo, 1.0, size=shape)
    if scalar is wp.bool or scalar is bool:
        return rng.integers(0, 2, size=shape).astype(bool)
    return rng.integers(0, 4, size=shape)


def _dtype_shape(dtype: Any) -> tuple[int, ...]:
    return tuple(getattr(dtype, "_shape_", ()))


def _value(t: Any, rng: np.random.Generator, launch: tuple[int, ...] = LAUNCH_SHAPES[1], source: str = "") -> Any:
    """A random non-array value of Warp type ``t`` (a struct's arrays sized for a launch of shape ``launch``, one more
    where ``source`` reads past an index: :func:`_reads_next`)."""
    if wt.type_is_struct(t):
        return _struct_value(t, rng, launch, source)
    if hasattr(t, "_wp_generic_type_str_") or _dtype_shape(t):
        flat = _random_scalars(t, (int(np.prod(_dtype_shape(t))),), rng, lo=0.5)
        if wt.type_is_quaternion(t) or wt.type_is_transformation(t):
            flat = _unit_rotations(t, flat)
        return t(*[scalar_of(t)(float(x)) if is_float_dtype(t) else int(x) for x in flat])
    if t in (float, wp.float16, wp.float32, wp.float64):
        return t(float(rng.uniform(0.5, 1.5)))
    if t in (bool, wp.bool):
        return True
    return t(int(rng.integers(1, 4)))


def _unit_rotations(t: Any, flat: np.ndarray) -> np.ndarray:
    q = flat[-4:] if wt.type_is_quaternion(t) else flat[3:7]
    q = q / max(np.linalg.norm(q), 1e-6)
    if wt.type_is_quaternion(t):
        return q
    return np.concatenate([flat[:3], q])


def _reads_next(name: str, source: str) -> bool:
    """Whether the program reads array ``name`` one past an index (``offsets[i + 1]``, ``model.start[i + 1]``): a
    CSR offsets array, which holds one element more than the rows it describes."""
    return re.search(rf"(?<![\w]){re.escape(name)}\[[^\[\]]*\+ 1\]", source) is not None


def _struct_value(t: Any, rng: np.random.Generator, launch: tuple[int, ...], source: str = "") -> Any:
    """A struct with random fields; a 1-d array in it has one element per thread of the launch.

    (Those were 16 long: a kernel indexing them by thread id read past their end, and its outputs
    depended on whatever memory followed. Arrays of more dimensions stay 16 a side.)
    """
    instance = t()
    for name, var in t.vars.items():
        vt = var.type
        if wt.is_array(vt):
            member = (int(np.prod(launch)),) if vt.ndim == 1 else (16,) * vt.ndim
            if source and _reads_next(name, source):
                member = tuple(n + 1 for n in member)
            values = _array_values(vt, member, rng, launch)
            setattr(instance, name, wp.array(values, dtype=vt.dtype, device="cpu"))
        else:
            setattr(instance, name, _value(vt, rng, launch))
    return instance


def _array_values(t: Any, shape: tuple[int, ...], rng: np.random.Generator, launch: tuple[int, ...],
                  source: str = "") -> Any:
    dtype = t.dtype
    if wt.type_is_struct(dtype):
        return [_struct_value(dtype, rng, launch, source) for _ in range(int(np.prod(shape)))]
    values = _random_scalars(dtype, shape + _dtype_shape(dtype), rng)
    if wt.type_is_quaternion(dtype) or wt.type_is_transformation(dtype):
        values = np.apply_along_axis(lambda f: _unit_rotations(dtype, f), -1, values)
    return values


def _array_shape(ndim: int, launch: tuple[int, ...]) -> tuple[int, ...]:
    if ndim == len(launch):
        return launch
    if ndim == 1:
        return (int(np.prod(launch)),)
    side = max(launch)
    return (side,) * ndim


def _geometry_kind(arg: str, source: str) -> str | None:
    """Which geometry a ``uint64`` argument is the id of: the query it is passed to, else its name."""
    for prefix, kind in _QUERY_KIND:
        if re.search(rf"\bwp\.(tile_)?{prefix}\w*\(\s*{re.escape(arg)}\b", source):
            return kind
    for prefix, kind in _QUERY_KIND:
        if prefix.split("_")[0] in arg.lower() and re.search(rf"\bwp\.(tile_)?{prefix}\w*\(", source):
            return kind
    return None


def _geometry(kind: str, source: str, rng: np.random.Generator, points: np.ndarray | None) -> Any:
    if kind == "mesh":
        verts = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)], dtype=float)
        faces = [0, 2, 1, 1, 2, 3, 4, 5, 6, 5, 7, 6, 0, 1, 4, 1, 5, 4, 2, 6, 3, 3, 6, 7, 0, 4, 2, 2, 4, 6, 1, 3, 5,
                 3, 7, 5]
        return wp.Mesh(points=wp.array(verts, dtype=wp.vec3, device="cpu"),
                       velocities=wp.array(rng.uniform(-1, 1, (8, 3)), dtype=wp.vec3, device="cpu"),
                       indices=wp.array(faces, dtype=int, device="cpu"))
    if kind == "bvh":
        lo = rng.uniform(-1, 1, (32, 3))
        return wp.Bvh(wp.array(lo, dtype=wp.vec3, device="cpu"),
                      wp.array(lo + rng.uniform(0.05, 0.3, (32, 3)), dtype=wp.vec3, device="cpu"))
    if kind == "hash_grid":
        grid = wp.HashGrid(16, 16, 16, device="cpu")
        pts = points if points is not None else rng.uniform(-1, 1, (64, 3))
        grid.build(wp.array(pts, dtype=wp.vec3, device="cpu"), 0.25)
        return grid
    if kind == "volume":
        call = r"volume_(?:sample|lookup|sample_grad|store)"
        bg: float | tuple[float, float, float]
        if re.search(rf"{call}_v\b|{call}\([^)]*dtype=wp\.vec3", source):
            data, bg = rng.uniform(-1, 1, (8, 8, 8, 3)).astype(np.float32), (0.0, 0.0, 0.0)
        elif re.search(rf"{call}_i\b|{call}\([^)]*dtype=wp\.int32", source):
            data, bg = rng.integers(0, 4, (8, 8, 8)).astype(np.int32), 0
        else:
            data, bg = rng.uniform(-1, 1, (8, 8, 8)).astype(np.float32), 0.0
        return wp.Volume.load_from_numpy(data, min_world=(-1.0, -1.0, -1.0), voxel_size=0.25, bg_value=bg)
    raise InputError(f"no geometry of kind {kind}")


_HINTS = (
    re.compile(r"(?<![\w])\w+\[[^\[\]]*\+ 1\]"),  # what _reads_next looks for
    re.compile(r"\bwp\.(?:tile_)?(?:mesh|bvh|hash_grid|volume)\w*\(\s*\w*"),  # what _geometry_kind looks for
    re.compile(r"volume_(?:sample|lookup|sample_grad|store)(?:_[vi]\b|\([^)]*dtype=wp\.(?:vec3|int32))"),  # _geometry
)


def input_hints(source: str) -> str:
    """The parts of a program's source that :func:`make_inputs` reads, and nothing else.

    ``make_inputs(kernel, input_hints(source), ...)`` draws the same inputs as ``make_inputs(kernel, source, ...)``:
    a process that launches a model's answer gets these instead of the row's program (for the decompile task,
    the row's program is the reference answer).
    """
    found = {m[0] for rule in _HINTS for m in rule.finditer(source)}
    # ")" ends each hint: no pattern's "[^)]*" runs from one into the next
    return ")\n".join(sorted(found)) + "\n" + marks(source)


def _is_int_dtype(dtype: Any) -> bool:
    scalar = scalar_of(dtype)
    return wt.type_is_int(scalar) and scalar is not wp.uint64  # (uint64: ids and handles)


def _wide_ints(t: Any, value: Any, scale: float, rng: np.random.Generator) -> Any:
    """``value`` (integers of Warp type ``t``, or an array of them) drawn again over a wide range of both signs."""
    dtype = t.dtype if wt.is_array(t) else t
    scalar = scalar_of(dtype)
    info = np.iinfo(np.int32 if scalar is int else wp.dtype_to_numpy(scalar))
    span = WIDE_INT_SPANS[0] if abs(scale) < 1 else WIDE_INT_SPANS[1]
    lo, hi = max(-span, int(info.min)), min(span, int(info.max))
    drawn = rng.integers(lo, hi + 1, size=np.shape(value) if wt.is_array(t) else _dtype_shape(t))
    if wt.is_array(t):
        return drawn
    return t(*[int(x) for x in drawn]) if _dtype_shape(t) else t(int(drawn))


def _scaled(t: Any, value: Any, scale: float) -> Any:
    """``value`` (of Warp type ``t``) with its floating-point parts times ``scale`` (indices, counts, flags and
    geometry ids unchanged; quaternions and transforms then no longer unit)."""
    if wt.is_array(t):
        if wt.type_is_struct(t.dtype) or not is_float_dtype(t.dtype):
            return value
        return np.asarray(value) * scale
    if wt.type_is_struct(t) or not is_float_dtype(t):
        return value
    if _dtype_shape(t):
        return t(*[scalar_of(t)(float(x) * scale) for x in np.asarray(value, dtype=np.float64).reshape(-1)])
    return t(float(value) * scale)


def make_inputs(kernel: Any, source: str, launch_dim: int | None, seed: int = 0, scale: float = 1.0) -> LaunchInputs:
    """Inputs for one launch of ``kernel`` over a small grid of ``launch_dim`` dimensions.

    ``scale`` multiplies every floating-point input (arrays, scalars, vectors, quaternions: see :func:`_scaled`),
    so that input sets of other magnitudes and signs can be drawn from one seed; at a scale other than 1 the integers
    of arguments that only hold values (:mod:`extraction.value_ints`) are drawn over a wide range of both signs.

    Raises:
        InputError: An argument type the generator does not handle.
    """
    rng = np.random.default_rng(seed)
    shape = LAUNCH_SHAPES[launch_dim or 1]
    names: list[str] = []
    types: list[Any] = []
    values: list[Any] = []
    keep: list[Any] = []
    points = None
    wide = value_arguments(source, kernel_python_function(kernel).__name__) if scale != 1.0 else ()
    for position, (name, t) in enumerate(kernel_arg_types(kernel)):
        if wt.is_array(t):
            array_shape = _array_shape(t.ndim, shape)
            if _reads_next(name, source):  # CSR offsets: one more than the rows
                array_shape = tuple(n + 1 for n in array_shape)
            value = _array_values(t, array_shape, rng, shape, source)
            if points is None and getattr(t.dtype, "_shape_", None) == (3,) and t.ndim == 1:
                points = np.asarray(value)
        elif t is wp.uint64 and (kind := _geometry_kind(name, source)) is not None:
            geo = _geometry(kind, source, rng, points)
            keep.append(geo)
            value = geo.id
        else:
            value = _value(t, rng, shape, source)
        names.append(name)
        types.append(t)
        if position in wide and _is_int_dtype(t.dtype if wt.is_array(t) else t):
            value = _wide_ints(t, value, scale, np.random.default_rng([seed, position]))
        values.append(value if scale == 1.0 else _scaled(t, value, scale))
    return LaunchInputs(names, types, values, shape, keep)
