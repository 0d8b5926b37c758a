"""Queries of meshes, BVHs, hash grids and volumes, whose ids the kernel takes as ``wp.uint64``.

The conventions are those of the run validator (:mod:`extraction.inputs`), so ``--validate run``
can build every object a program asks for:

* a ``wp.uint64`` argument is given the id of the kind of object whose ``wp.<kind>_*`` query it is
  passed to directly (``wp.mesh_query_point(mesh, ...)``); every resource argument is so passed
  at least once, and its name also holds its kind;
* the mesh is a unit cube of 8 points and 12 triangles, with velocities; the BVH holds 32 random
  boxes; the hash grid holds the points of the first 1-D ``vec3`` array argument (at least 64);
  the volume is a dense 8x8x8 grid of one voxel type, chosen from the calls in the source: one
  volume type per program here (``float32``, ``vec3f`` through ``_v``/``dtype=wp.vec3``, or
  ``int32`` through ``_i``/``dtype=wp.int32``), and generic calls get plain names as arguments,
  so the validator's pattern ``volume_sample([^)]*dtype=...`` sees their type.

Index-space sampling (``volume_sample_index``) reads its values from a local ``wp.zeros`` array of
:data:`VOXELS` ``float32`` entries: one per voxel of the validator's 8x8x8 grid (voxel indices
0..511), whatever the grid's own value type.

Indices into the objects stay in range by construction (``& 7``: fewer than the 8 mesh points,
12 faces, 64 hash grid points, 8 voxels a side); query loops are bounded by the objects' sizes.
Queries are float32 (``vec3f``), whatever the program's float type.
"""

from __future__ import annotations

from collections.abc import Callable

from generator.programs.synth.emit import Emitter, declare
from generator.programs.synth.expressions import expr
from generator.programs.synth.scope import Context, Resource
from generator.programs.synth.types import composite, number, py

KINDS = ("mesh", "bvh", "hash_grid", "volume")
_NAMES = {
    "mesh": ("mesh", "surface_mesh", "collider_mesh", "mesh_id"),
    "bvh": ("bvh", "scene_bvh", "bvh_id", "broadphase_bvh"),
    "hash_grid": ("hash_grid", "particle_hash_grid", "hash_grid_id"),
    "volume": ("volume", "sdf_volume", "density_volume", "field_volume"),
}
VOLUME_VALUES = ("float32", "float32", "vec3f", "int32")
VOXELS = 512  # voxels of the run validator's dense 8x8x8 volume (the length index-space samples need)
# how a volume type is spelled: the suffix of the typed builtins, the ``dtype=`` of the generic ones
_VOLUME_SUFFIX = {"float32": "f", "vec3f": "v", "int32": "i"}
_VOLUME_DTYPE = {"float32": "wp.float32", "vec3f": "wp.vec3", "int32": "wp.int32"}
_POINT_QUERIES = (
    "mesh_query_point", "mesh_query_point_no_sign", "mesh_query_point_sign_normal",
    "mesh_query_point_sign_winding_number", "mesh_query_point_sign_parity", "mesh_query_furthest_point_no_sign",
)

# A body writer: given loop variables ``(name, type)``, write an indented block of statements.
Body = Callable[[list[tuple[str, str]]], None]


def make_resources(ctx: Context, complexity: int) -> list[Resource]:
    """The resource arguments of one kernel: none most of the time, else one or two kinds."""
    rng = ctx.rng
    if rng.random() >= 0.35:
        return []
    kinds = rng.sample(KINDS, 2 if complexity >= 3 and rng.random() < 0.3 else 1)
    return [Resource(ctx.names.pick(_NAMES[k]), k, rng.choice(VOLUME_VALUES) if k == "volume" else "")
            for k in kinds]


def arg_decl(resource: Resource) -> str:
    """The kernel argument: ``mesh: wp.uint64``."""
    return f"{resource.name}: wp.uint64"


def statement(ctx: Context, em: Emitter, resource: Resource, depth: int, body: Body | None) -> None:
    """One use of ``resource``: a query (and its loop, whose extra statements ``body`` writes) or a read."""
    ctx.resource_uses[resource.name] += 1
    {"mesh": _mesh, "bvh": _bvh, "hash_grid": _hash_grid, "volume": _volume}[resource.kind](
        ctx, em, resource.name, depth, body, resource)


# --- helpers -----------------------------------------------------------------------------------

def _call(ctx: Context, name: str, args: str) -> str:
    ctx.used[name] += 1
    return f"wp.{name}({args})"


def _point(ctx: Context, em: Emitter, depth: int) -> str:
    """A ``vec3f`` query point in a variable of its own (an existing one now and then)."""
    existing = ctx.variables("vec3f")
    if existing and ctx.rng.random() < 0.4:
        return ctx.rng.choice(existing).name
    return declare(ctx, em, "vec3f", expr(ctx, "vec3f", depth))


def _direction(ctx: Context, em: Emitter, depth: int) -> str:
    """A unit ``vec3f`` (``normalize`` of an expression moved away from zero)."""
    return declare(ctx, em, "vec3f", f"wp.normalize({expr(ctx, 'vec3f', depth)} + wp.vec3f(0.25, 0.125, 0.5))")


def _index(ctx: Context, depth: int, mask: int = 7) -> str:
    """A non-negative index below ``mask + 1``."""
    return f"({expr(ctx, 'int32', depth - 1)} & {mask})"


def _radius(ctx: Context) -> str:
    return number(ctx.rng, "float32", 0.1, 0.8)


def _loop(ctx: Context, em: Emitter, header: str, index: str, per_item: list[str], body: Body | None) -> None:
    """``while <query_next>:`` with its own lines, then (sometimes) generated statements."""
    em.line(header)
    em.indent += 1
    for line in per_item:
        em.line(line)
    em.indent -= 1
    if body is not None and ctx.rng.random() < 0.5:
        body([(index, "int32")])


def _counter(ctx: Context, em: Emitter) -> tuple[str, str]:
    """A hit counter and an accumulator, declared before a query loop."""
    count = declare(ctx, em, "int32", "int(0)", name=ctx.names.pick(("count", "hits", "n_found", "visited")))
    acc = declare(ctx, em, "float32", "wp.float32(0.0)", name=ctx.names.pick(("acc", "total", "weight_sum")))
    return count, acc


def _cap(ctx: Context, count: str) -> list[str]:
    return [f"if {count} >= {ctx.rng.randint(3, 16)}:", "    break"] if ctx.rng.random() < 0.3 else []


# --- meshes -------------------------------------------------------------------------------------

def _mesh(ctx: Context, em: Emitter, mesh: str, depth: int, body: Body | None, _: Resource) -> None:
    form = ctx.rng.choice(("point", "point", "ray", "ray_test", "overlap", "getters", "getters", "bvh"))
    if form == "point":
        _mesh_point(ctx, em, mesh, depth)
    elif form == "ray":
        _mesh_ray(ctx, em, mesh, depth)
    elif form == "ray_test":
        _mesh_ray_test(ctx, em, mesh, depth)
    elif form == "overlap":
        _mesh_overlap(ctx, em, mesh, depth, body)
    elif form == "getters":
        _mesh_getters(ctx, em, mesh, depth)
    else:
        # the mesh's own BVH, over its faces (an id, not a value later statements may change)
        bvh = ctx.names.pick(("mesh_bvh", "face_bvh"))
        em.line(f"{bvh} = {_call(ctx, 'mesh_get_bvh', mesh)}")
        _bvh(ctx, em, bvh, depth, body, None)


def _mesh_point(ctx: Context, em: Emitter, mesh: str, depth: int) -> None:
    rng = ctx.rng
    fn = rng.choice(_POINT_QUERIES)
    point = _point(ctx, em, depth)
    extra = ""
    if fn == "mesh_query_point_sign_normal" and rng.random() < 0.5:
        extra = ", 1e-3"
    elif fn == "mesh_query_point_sign_winding_number" and rng.random() < 0.5:
        extra = ", 2.0, 0.5"
    elif fn == "mesh_query_point_sign_parity" and rng.random() < 0.5:
        extra = f", {rng.randint(1, 3)}, 0.1"
    dist = "0.0" if fn == "mesh_query_furthest_point_no_sign" else number(rng, "float32", 0.5, 4.0)
    query = ctx.names.pick(("query", "nearest", "surface_query"))
    em.line(f"{query} = {_call(ctx, fn, f'{mesh}, {point}, {dist}{extra}')}")
    closest = declare(ctx, em, "vec3f", point, name=ctx.names.pick(("closest", "surface_point", "proj")))
    outs = [("mesh_eval_position", closest)]
    if rng.random() < 0.5:
        outs.append(("mesh_eval_velocity", declare(ctx, em, "vec3f", "wp.vec3f(0.0)",
                                                    name=ctx.names.pick(("surface_vel", "mesh_vel")))))
    if rng.random() < 0.4:
        outs.append(("mesh_eval_face_normal", declare(ctx, em, "vec3f", "wp.vec3f(0.0, 1.0, 0.0)",
                                                       name=ctx.names.pick(("face_normal", "surface_normal")))))
    em.line(f"if {query}.result:")
    for fn_eval, var in outs:
        args = f"{mesh}, {query}.face" + ("" if fn_eval == "mesh_eval_face_normal" else f", {query}.u, {query}.v")
        em.line(f"    {var} = {_call(ctx, fn_eval, args)}")
    if rng.random() < 0.6:
        sign = f" * {query}.sign" if fn != "mesh_query_furthest_point_no_sign" else ""
        declare(ctx, em, "float32", f"wp.length({point} - {closest}){sign}",
                name=ctx.names.pick(("dist", "sdf", "signed_dist")))


def _root(ctx: Context, mesh_or_bvh: str, kind: str) -> str:
    """An optional root argument: the subtree of group 0 (every item: the objects have no groups)."""
    if ctx.rng.random() < 0.25:
        return f", {_call(ctx, f'{kind}_get_group_root', f'{mesh_or_bvh}, 0')}"
    return ""


def _mesh_ray(ctx: Context, em: Emitter, mesh: str, depth: int) -> None:
    rng = ctx.rng
    origin, direction = _point(ctx, em, depth), _direction(ctx, em, depth)
    max_t = number(rng, "float32", 1.0, 8.0)
    hit = ctx.names.pick(("hit", "ray_hit", "trace"))
    root = _root(ctx, mesh, "mesh")
    em.line(f"{hit} = {_call(ctx, 'mesh_query_ray', f'{mesh}, {origin}, {direction}, {max_t}{root}')}")
    t = declare(ctx, em, "float32", f"wp.float32({max_t})", name=ctx.names.pick(("t_hit", "depth_t", "ray_t")))
    normal = declare(ctx, em, "vec3f", "wp.vec3f(0.0)", name=ctx.names.pick(("hit_normal", "normal")))
    em.line(f"if {hit}.result:")
    em.line(f"    {t} = {hit}.t")
    if rng.random() < 0.5:
        em.line(f"    {normal} = {hit}.normal * {hit}.sign")
    else:
        em.line(f"    {normal} = {_call(ctx, 'mesh_eval_face_normal', f'{mesh}, {hit}.face')}")
    if rng.random() < 0.5:
        declare(ctx, em, "vec3f", f"{origin} + {direction} * {t}", name=ctx.names.pick(("hit_point", "p_hit")))


def _mesh_ray_test(ctx: Context, em: Emitter, mesh: str, depth: int) -> None:
    origin, direction = _point(ctx, em, depth), _direction(ctx, em, depth)
    root = _root(ctx, mesh, "mesh")
    if ctx.rng.random() < 0.5:
        max_t = number(ctx.rng, "float32", 1.0, 8.0)
        declare(ctx, em, "bool", _call(ctx, "mesh_query_ray_anyhit", f"{mesh}, {origin}, {direction}, {max_t}{root}"),
                name=ctx.names.pick(("blocked", "occluded", "shadowed")))
    else:
        declare(ctx, em, "int32",
                _call(ctx, "mesh_query_ray_count_intersections", f"{mesh}, {origin}, {direction}{root}"),
                name=ctx.names.pick(("crossings", "n_cross")))


def _mesh_overlap(ctx: Context, em: Emitter, mesh: str, depth: int, body: Body | None) -> None:
    rng = ctx.rng
    center, r = _point(ctx, em, depth), _radius(ctx)
    query = ctx.names.pick(("query", "overlaps", "face_query"))
    if rng.random() < 0.5:
        bounds = f"{mesh}, {center} - wp.vec3f({r}), {center} + wp.vec3f({r})"
        em.line(f"{query} = {_call(ctx, 'mesh_query_aabb', bounds)}")
    else:
        em.line(f"{query} = {_call(ctx, 'mesh_query_sphere', f'{mesh}, {center}, {r}')}")
    face = ctx.names.pick(("face", "tri", "face_index"))
    em.line(f"{face} = int(0)")
    count, acc = _counter(ctx, em)
    next_fn = rng.choice(("mesh_query_aabb_next", "mesh_query_next"))
    per_item = [f"{count} += 1",
                f"{acc} += wp.dot({_call(ctx, 'mesh_eval_face_normal', f'{mesh}, {face}')}, {center})",
                *_cap(ctx, count)]
    _loop(ctx, em, f"while {_call(ctx, next_fn, f'{query}, {face}')}:", face, per_item, body)


def _mesh_getters(ctx: Context, em: Emitter, mesh: str, depth: int) -> None:
    rng = ctx.rng
    form = rng.choice(("point", "velocity", "index", "eval", "struct"))
    if form in ("point", "velocity"):
        declare(ctx, em, "vec3f", _call(ctx, f"mesh_get_{form}", f"{mesh}, {_index(ctx, depth)}"))
    elif form == "index":
        declare(ctx, em, "int32", _call(ctx, "mesh_get_index", f"{mesh}, {_index(ctx, depth)}"))
    elif form == "eval":
        u = round(rng.uniform(0.0, 0.6), 3)
        v = round(rng.uniform(0.0, 1.0 - u), 3)
        fn = rng.choice(("mesh_eval_position", "mesh_eval_velocity"))
        declare(ctx, em, "vec3f", _call(ctx, fn, f"{mesh}, {_index(ctx, depth)}, {u!r}, {v!r}"))
    else:
        m = ctx.names.pick(("mesh_data", "geom"))
        em.line(f"{m} = {_call(ctx, 'mesh_get', mesh)}")
        field = rng.choice(("points", "velocities"))
        declare(ctx, em, "vec3f", f"{m}.{field}[{m}.indices[{_index(ctx, depth)}]]")


# --- BVHs ---------------------------------------------------------------------------------------

def _bvh(ctx: Context, em: Emitter, bvh: str, depth: int, body: Body | None, _: Resource | None) -> None:
    rng = ctx.rng
    form = rng.choice(("aabb", "ray", "sphere", "capsule"))
    query = ctx.names.pick(("query", "bvh_query", "candidates"))
    root = _root(ctx, bvh, "bvh")
    center = _point(ctx, em, depth)
    if form == "aabb":
        r = _radius(ctx)
        args = f"{bvh}, {center} - wp.vec3f({r}), {center} + wp.vec3f({r}){root}"
    elif form == "ray":
        args = f"{bvh}, {center}, {_direction(ctx, em, depth)}{root}"
    elif form == "sphere":
        args = f"{bvh}, {center}, {_radius(ctx)}{root}"
    else:
        args = f"{bvh}, {center}, {_direction(ctx, em, depth)}, {_radius(ctx)}{root}"
    em.line(f"{query} = {_call(ctx, f'bvh_query_{form}', args)}")
    item = ctx.names.pick(("item", "box", "leaf"))
    em.line(f"{item} = int(0)")
    count, acc = _counter(ctx, em)
    max_dist = f", {number(rng, 'float32', 1.0, 4.0)}" if rng.random() < 0.3 else ""
    per_item = [f"{count} += 1", f"{acc} += wp.float32({item}) * {number(rng, 'float32', 0.01, 0.2)}",
                *_cap(ctx, count)]
    _loop(ctx, em, f"while {_call(ctx, 'bvh_query_next', f'{query}, {item}{max_dist}')}:", item, per_item, body)


# --- hash grids ---------------------------------------------------------------------------------

def _hash_grid(ctx: Context, em: Emitter, grid: str, depth: int, body: Body | None, _: Resource) -> None:
    rng = ctx.rng
    if rng.random() < 0.3:
        declare(ctx, em, "int32", _call(ctx, "hash_grid_point_id", f"{grid}, {_index(ctx, depth, 31)}"),
                name=ctx.names.pick(("sorted_id", "cell_order", "point_id")))
        return
    center = _point(ctx, em, depth)
    query = ctx.names.pick(("query", "neighbors", "grid_query"))
    em.line(f"{query} = {_call(ctx, 'hash_grid_query', f'{grid}, {center}, {_radius(ctx)}')}")
    other = ctx.names.pick(("neighbor", "other", "j_point"))
    em.line(f"{other} = int(0)")
    count, acc = _counter(ctx, em)
    per_item = [f"{count} += 1", f"{acc} += wp.float32({other} % 4)", *_cap(ctx, count)]
    _loop(ctx, em, f"while {_call(ctx, 'hash_grid_query_next', f'{query}, {other}')}:", other, per_item, body)


# --- volumes ------------------------------------------------------------------------------------

def _volume(ctx: Context, em: Emitter, vol: str, depth: int, body: Body | None, res: Resource) -> None:
    rng = ctx.rng
    value = res.value
    suffix, dtype = _VOLUME_SUFFIX[value], _VOLUME_DTYPE[value]
    generic = rng.random() < 0.4
    forms = ["sample", "sample", "lookup", "store", "transform", "count", "index"]
    forms += ["grad"] * 2 if value != "int32" else []
    form = rng.choice(forms)
    if form == "index":
        _volume_index(ctx, em, vol, depth)
        return
    if form in ("sample", "grad"):
        to_index = rng.choice(("volume_world_to_index", "volume_world_to_index", "volume_world_to_index_dir"))
        uvw = declare(ctx, em, "vec3f", _call(ctx, to_index, f"{vol}, {expr(ctx, 'vec3f', depth)}"),
                      name=ctx.names.pick(("uvw", "index_pos", "coord")))
        mode = "wp.Volume.CLOSEST" if value == "int32" or rng.random() < 0.3 else "wp.Volume.LINEAR"
        if form == "sample":
            if generic:
                rhs = _call(ctx, "volume_sample", f"{vol}, {uvw}, {mode}, dtype={dtype}")
            elif value == "int32":
                rhs = _call(ctx, "volume_sample_i", f"{vol}, {uvw}")
            else:
                rhs = _call(ctx, f"volume_sample_{suffix}", f"{vol}, {uvw}, {mode}")
            declare(ctx, em, value, rhs, name=ctx.names.pick(("sampled", "phi", "density", "field_value")))
            return
        grad_type = "vec3f" if value == "float32" else "mat33f"
        grad = declare(ctx, em, grad_type, f"{py(grad_type)}(0.0)", name=ctx.names.pick(("grad", "jac", "gradient")))
        if generic or value != "float32":
            rhs = _call(ctx, "volume_sample_grad", f"{vol}, {uvw}, {mode}, {grad}, dtype={dtype}")
        else:
            rhs = _call(ctx, "volume_sample_grad_f", f"{vol}, {uvw}, {mode}, {grad}")
        declare(ctx, em, value, rhs, name=ctx.names.pick(("sampled", "phi", "density", "field_value")))
        if value == "float32" and rng.random() < 0.6:
            declare(ctx, em, "vec3f", _call(ctx, "volume_index_to_world_dir", f"{vol}, {grad}"),
                    name=ctx.names.pick(("world_grad", "normal_dir")))
        return
    if form in ("lookup", "store"):
        ijk = [declare(ctx, em, "int32", _index(ctx, depth), name=ctx.names.pick(names))
               for names in (("vi", "ix", "ci"), ("vj", "iy", "cj"), ("vk", "iz", "ck"))]
        coords = ", ".join(ijk)
        if form == "store":
            fn = "volume_store" if generic else f"volume_store_{suffix}"
            em.line(_call(ctx, fn, f"{vol}, {coords}, {expr(ctx, value, depth)}"))
        elif rng.random() < 0.2:
            declare(ctx, em, "int32", _call(ctx, "volume_lookup_index", f"{vol}, {coords}"))
        elif generic:
            declare(ctx, em, value, _call(ctx, "volume_lookup", f"{vol}, {coords}, dtype={dtype}"))
        else:
            declare(ctx, em, value, _call(ctx, f"volume_lookup_{suffix}", f"{vol}, {coords}"))
        return
    if form == "transform":
        vec = rng.choice(("vec3f", composite("vec", ctx.float_type, 3)))
        fn = rng.choice(("volume_index_to_world", "volume_index_to_world_dir", "volume_world_to_index",
                         "volume_world_to_index_dir"))
        declare(ctx, em, vec, _call(ctx, fn, f"{vol}, {expr(ctx, vec, depth)}"))
        return
    declare(ctx, em, "int32", _call(ctx, "volume_voxel_count", vol), name=ctx.names.pick(("n_voxels", "voxel_count")))


def _volume_index(ctx: Context, em: Emitter, vol: str, depth: int) -> None:
    """``wp.volume_sample_index``/``_grad_index``: the volume's topology over values of a local array."""
    rng = ctx.rng
    data = ctx.names.pick(("voxel_data", "voxel_values", "field_data"))
    ctx.used["zeros"] += 1
    em.line(f"{data} = wp.zeros(shape={VOXELS}, dtype=wp.float32)")
    for k in sorted(rng.sample(range(VOXELS), rng.randint(1, 3))):
        em.line(f"{data}[{k}] = {expr(ctx, 'float32', depth - 1)}")
    uvw = declare(ctx, em, "vec3f", _call(ctx, "volume_world_to_index", f"{vol}, {expr(ctx, 'vec3f', depth)}"),
                  name=ctx.names.pick(("uvw", "index_pos", "coord")))
    mode = "wp.Volume.CLOSEST" if rng.random() < 0.3 else "wp.Volume.LINEAR"
    background = f"wp.float32({number(rng, 'float32', -1.0, 1.0)})"
    name = ctx.names.pick(("sampled", "phi", "density", "field_value"))
    if rng.random() < 0.5:
        declare(ctx, em, "float32", _call(ctx, "volume_sample_index", f"{vol}, {uvw}, {mode}, {data}, {background}"),
                name=name)
        return
    grad = declare(ctx, em, "vec3f", "wp.vec3f(0.0)", name=ctx.names.pick(("grad", "gradient")))
    declare(ctx, em, "float32",
            _call(ctx, "volume_sample_grad_index", f"{vol}, {uvw}, {mode}, {data}, {background}, {grad}"), name=name)
