"""Tile idioms: a block of tile operations that ends in a value (or array writes) the kernel goes on with.

Synthesized kernels are launched with ``wp.launch`` (no ``tiled`` run hint): on CPU each thread is
a block of one lane, so every tile operation runs and stays in bounds (loads and stores are
bounds-checked; indexed loads and stores use ``tile_arange`` indices below the 64 elements of
every 1-D array). Tiles live at the kernel's top level only (every thread of a block must reach
a tile operation); their shapes are small compile-time constants. Linear solves factor a matrix
made symmetric positive definite by construction (``M M^T + (d + 1) I``).

Block-cooperative idioms keep their arguments valid for every lane: scatters write at
``index % n`` (masked scatters only from the lanes ``0..n-1`` of the first launch axis, one lane a
slot), gathers (``t[idx]``) use ``tile_arange`` indices inside the tile, stack pops are read
through ``wp.where(slot >= 0, value, 0)``, and tiled BVH/mesh queries take literal (block-uniform)
boxes and rays and run until ``tile_query_valid`` reports them exhausted.
"""

from __future__ import annotations

from generator.programs.synth.emit import Emitter, declare
from generator.programs.synth.expressions import compare, expr
from generator.programs.synth.scope import Context
from generator.programs.synth.tile_parts import (
    INPLACE,
    MAPS,
    augment,
    float_arrays,
    float_tile,
    geometry,
    int_tile,
    pick_name,
    scalar,
    vec3_literal,
    wp_call,
)
from generator.programs.synth.types import composite, number, py

_BINARY_MAPS = ("wp.add", "wp.mul", "wp.min", "wp.max", "wp.sub")
_REDUCE_OPS = ("wp.add", "wp.max", "wp.min")


def usable(ctx: Context) -> bool:
    """Whether a tile statement may be written here: in the kernel, outside any block."""
    return bool(ctx.tids) and ctx.depth == 0 and ctx.loop_depth == 0


def statement(ctx: Context, em: Emitter, depth: int) -> None:
    """One tile idiom."""
    forms = ["reduce", "reduce", "scan", "sort", "linalg", "linalg", "thread", "store", "shape", "inplace",
             "inplace", "stack", "scatter", "scatter"]
    if geometry(ctx):
        forms += ["query", "query"]
    form = ctx.rng.choice(forms)
    {"reduce": _reduce, "scan": _scan, "sort": _sort, "linalg": _linalg, "thread": _thread, "store": _store,
     "shape": _shape, "inplace": _inplace, "stack": _stack, "scatter": _scatter, "query": _query}[form](ctx, em, depth)


# --- idioms -------------------------------------------------------------------------------------

def _reduce(ctx: Context, em: Emitter, depth: int) -> None:
    rng = ctx.rng
    n = rng.choice((4, 8, 16))
    tile = float_tile(ctx, em, n, depth)
    red = pick_name(ctx, ("reduced", "total", "peak", "summary"))
    form = rng.choice(("sum", "max", "min", "reduce", "dot", "arg"))
    if form == "reduce":
        em.line(f"{red} = {wp_call(ctx, 'tile_reduce', f'{rng.choice(_REDUCE_OPS)}, {tile}')}")
    elif form == "dot":
        other = float_tile(ctx, em, n, depth)
        if rng.random() < 0.5:
            combined = pick_name(ctx, ("combined", "mixed"))
            em.line(f"{combined} = {wp_call(ctx, 'tile_map', f'{rng.choice(_BINARY_MAPS)}, {tile}, {other}')}")
            other = combined
        em.line(f"{red} = {wp_call(ctx, 'tile_dot', f'{tile}, {other}')}")
    elif form == "arg":
        em.line(f"{red} = {wp_call(ctx, rng.choice(('tile_argmax', 'tile_argmin')), tile)}")
        scalar(ctx, em, red, type_name="int32")
        return
    else:
        em.line(f"{red} = {wp_call(ctx, f'tile_{form}', tile)}")
    scalar(ctx, em, red)


def _scan(ctx: Context, em: Emitter, depth: int) -> None:
    rng = ctx.rng
    n = rng.choice((4, 8, 16))
    tile = float_tile(ctx, em, n, depth, float32=True)  # scans and sorts take float32, not float64
    fn = rng.choice(("tile_scan_inclusive", "tile_scan_exclusive", "tile_scan_max_inclusive",
                     "tile_scan_min_inclusive"))
    scan = pick_name(ctx, ("prefix", "running", "cumulative"))
    em.line(f"{scan} = {wp_call(ctx, fn, tile)}")
    arrays = [a for a in ctx.arrays if a.ndim == 1 and a.dtype == "float32"]
    if arrays and rng.random() < 0.4:
        em.line(wp_call(ctx, "tile_store", f"{rng.choice(arrays).name}, {scan}, offset={ctx.tids[0]}"))
    else:
        scalar(ctx, em, scan, str(rng.randrange(n)), "float32")


def _sort(ctx: Context, em: Emitter, depth: int) -> None:
    rng = ctx.rng
    n = rng.choice((4, 8, 16))
    keys = float_tile(ctx, em, n, depth, float32=True)
    order = pick_name(ctx, ("order", "perm", "ranks"))
    em.line(f"{order} = {wp_call(ctx, 'tile_arange', f'{n}, dtype=int')}")
    em.line(wp_call(ctx, "tile_sort", f"{keys}, {order}"))
    if rng.random() < 0.5:
        scalar(ctx, em, order, str(n - 1), "int32")
    else:
        scalar(ctx, em, keys, str(rng.randrange(n)), "float32")


def _linalg(ctx: Context, em: Emitter, depth: int) -> None:
    """Factor and solve ``(M M^T + (d + 1) I) z = y`` (symmetric positive definite by construction)."""
    rng = ctx.rng
    f = py(ctx.float_type)
    d = rng.choice((2, 4))
    flat = float_tile(ctx, em, d * d, depth)
    m = pick_name(ctx, ("mat_tile", "m_tile", "a_tile"))
    em.line(f"{m} = {wp_call(ctx, 'tile_reshape', f'{flat}, shape=({d}, {d})')}")
    spd = pick_name(ctx, ("spd", "gram", "system"))
    shift = wp_call(ctx, "tile_full", f"shape={d}, value={f}({d + 1}.0), dtype={f}")
    if rng.random() < 0.5:
        em.line(f"{spd} = {wp_call(ctx, 'tile_zeros', f'shape=({d}, {d}), dtype={f}')}")
        em.line(wp_call(ctx, "tile_matmul", f"{m}, {wp_call(ctx, 'tile_transpose', m)}, {spd}"))
        em.line(f"{spd} = {wp_call(ctx, 'tile_diag_add', f'{spd}, {shift}')}")
    else:
        product = wp_call(ctx, "tile_matmul", f"{m}, {wp_call(ctx, 'tile_transpose', m)}")
        em.line(f"{spd} = {wp_call(ctx, 'tile_diag_add', f'{product}, {shift}')}")
    rhs = float_tile(ctx, em, d, depth)
    form = rng.choice(("solve", "triangular", "inplace", "inplace_triangular"))
    if form in ("solve", "triangular"):
        factor = pick_name(ctx, ("chol", "factor", "lower"))
        em.line(f"{factor} = {wp_call(ctx, 'tile_cholesky', spd)}")
        sol = pick_name(ctx, ("solution", "z_tile", "x_tile"))
        if form == "solve":
            em.line(f"{sol} = {wp_call(ctx, 'tile_cholesky_solve', f'{factor}, {rhs}')}")
        else:
            half = pick_name(ctx, ("forward", "w_tile"))
            em.line(f"{half} = {wp_call(ctx, 'tile_lower_solve', f'{factor}, {rhs}')}")
            upper = wp_call(ctx, "tile_transpose", factor)
            em.line(f"{sol} = {wp_call(ctx, 'tile_upper_solve', f'{upper}, {half}')}")
        scalar(ctx, em, sol, str(rng.randrange(d)))
        return
    em.line(wp_call(ctx, "tile_cholesky_inplace", spd))
    if form == "inplace":
        em.line(wp_call(ctx, "tile_cholesky_solve_inplace", f"{spd}, {rhs}"))
    else:
        em.line(wp_call(ctx, "tile_lower_solve_inplace", f"{spd}, {rhs}"))
        upper = pick_name(ctx, ("upper", "u_tile"))
        em.line(f"{upper} = {wp_call(ctx, 'tile_transpose', spd)}")
        em.line(wp_call(ctx, "tile_upper_solve_inplace", f"{upper}, {rhs}"))
    scalar(ctx, em, rhs, str(rng.randrange(d)))


def _thread(ctx: Context, em: Emitter, depth: int) -> None:
    """A per-thread value through a tile of the block's values and back (``wp.tile``/``wp.untile``)."""
    rng = ctx.rng
    f = ctx.float_type
    block = pick_name(ctx, ("lane_tile", "block_values", "shared_vals"))
    value = declare(ctx, em, f, expr(ctx, f, depth))  # a value, not a reference into an array
    em.line(f"{block} = {wp_call(ctx, 'tile', value)}")
    if rng.random() < 0.5:
        mapped = pick_name(ctx, ("mapped_lanes", "lane_map"))
        em.line(f"{mapped} = {wp_call(ctx, 'tile_map', f'{rng.choice(MAPS)}, {block}')}")
        block = mapped
    declare(ctx, em, f, wp_call(ctx, "untile", block))


def _store(ctx: Context, em: Emitter, depth: int) -> None:
    """Write a tile back: a plain, atomic or indexed store into a 1-D array."""
    rng = ctx.rng
    arrays = float_arrays(ctx)
    n = rng.choice((4, 8, 16))
    tile = float_tile(ctx, em, n, depth)
    if not arrays:
        scalar(ctx, em, tile, str(rng.randrange(n)))
        return
    dst = rng.choice(arrays).name
    form = rng.choice(("store", "atomic", "indexed", "indexed_atomic", "indexed_load"))
    if form in ("store", "atomic"):
        fn = "tile_store" if form == "store" else "tile_atomic_add"
        em.line(wp_call(ctx, fn, f"{dst}, {tile}, offset={ctx.tids[0]}"))
        return
    idx = pick_name(ctx, ("idx", "indices", "slots"))
    em.line(f"{idx} = {wp_call(ctx, 'tile_arange', f'{n}, dtype=int')}")
    if form == "indexed":
        em.line(wp_call(ctx, "tile_store_indexed", f"{dst}, {idx}, {tile}"))
    elif form == "indexed_atomic":
        em.line(wp_call(ctx, "tile_atomic_add_indexed", f"{dst}, {idx}, {tile}"))
    else:
        gathered = pick_name(ctx, ("gathered", "picked"))
        em.line(f"{gathered} = {wp_call(ctx, 'tile_load_indexed', f'{dst}, {idx}, shape=({n},)')}")
        scalar(ctx, em, wp_call(ctx, "tile_sum", f"{gathered} + {tile}"))


def _shape(ctx: Context, em: Emitter, depth: int) -> None:
    """Views, broadcasts, reshapes, casts and in-place updates of one tile."""
    rng = ctx.rng
    f = py(ctx.float_type)
    n = rng.choice((4, 8))
    tile = float_tile(ctx, em, n, depth)
    out = pick_name(ctx, ("reshaped", "grid_tile", "expanded"))
    form = rng.choice(("broadcast", "squeeze", "view", "astype", "assign", "axpy", "bits", "from_thread"))
    if form == "broadcast":
        rows = rng.choice((2, 3))
        row = wp_call(ctx, "tile_reshape", f"{tile}, shape=(1, {n})")
        em.line(f"{out} = {wp_call(ctx, 'tile_broadcast', f'{row}, shape=({rows}, {n})')}")
        scalar(ctx, em, wp_call(ctx, "tile_sum", out))
    elif form == "squeeze":
        em.line(f"{out} = {wp_call(ctx, 'tile_squeeze', wp_call(ctx, 'tile_reshape', f'{tile}, shape=({n}, 1)'))}")
        scalar(ctx, em, out, str(rng.randrange(n)))
    elif form == "view":
        k = rng.randrange(1, n)
        em.line(f"{out} = {wp_call(ctx, 'tile_view', f'{tile}, offset=({k},), shape=({n - k},)')}")
        scalar(ctx, em, out, "0")
    elif form == "astype":
        em.line(f"{out} = {wp_call(ctx, 'tile_astype', f'{tile} * {f}(4.0), dtype=int')}")
        scalar(ctx, em, wp_call(ctx, "tile_sum", out), type_name="int32")
    elif form == "assign":
        em.line(f"{out} = {wp_call(ctx, 'tile_empty', f'shape=({2 * n},), dtype={f}')}")
        em.line(wp_call(ctx, "tile_assign", f"{out}, {tile}, offset=(0,)"))
        em.line(wp_call(ctx, "tile_assign", f"{out}, {tile}, offset=({n},)"))
        scalar(ctx, em, out, str(rng.randrange(2 * n)))
    elif form == "bits":
        em.line(f"{out} = {wp_call(ctx, 'tile_randi', f'shape={n}, rng=wp.rand_init({ctx.tids[0]} + 7)')}")
        augment(ctx, em, out, rng.choice(("&=", "|=", "^=")), wp_call(ctx, "tile_arange", f"{n}, dtype=int"))
        scalar(ctx, em, out, str(rng.randrange(n)), "int32")
    elif form == "from_thread":
        value = declare(ctx, em, ctx.float_type, expr(ctx, ctx.float_type, depth))
        em.line(f"{out} = {wp_call(ctx, 'tile_from_thread', f'shape=({n},), value={value}, thread_idx=0')} + {tile}")
        scalar(ctx, em, out, str(rng.randrange(n)))
    else:
        em.line(f"{out} = {wp_call(ctx, 'tile_zeros', f'shape={n}, dtype={f}')}")
        em.line(wp_call(ctx, "tile_axpy", f"{expr(ctx, ctx.float_type, depth)}, {tile}, {out}"))
        augment(ctx, em, out, rng.choice(("+=", "-=")), tile)
        scalar(ctx, em, out, str(rng.randrange(n)))


def _inplace(ctx: Context, em: Emitter, depth: int) -> None:
    """In-place updates of one tile: whole tiles (``a += b``) and single elements (``a[k] -= x``).

    Float tiles take ``+=``/``-=``; ``int32`` tiles also ``&=``, ``|=`` and ``^=``.
    """
    rng = ctx.rng
    n = rng.choice((4, 8, 16))
    floats = rng.random() < 0.6
    tile = float_tile(ctx, em, n, depth) if floats else int_tile(ctx, em, n, depth)
    type_name = ctx.float_type if floats else "int32"
    ops = ("+=", "-=") if floats else tuple(INPLACE)
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(ops)
        if rng.random() < 0.5:
            other = float_tile(ctx, em, n, depth) if floats else int_tile(ctx, em, n, depth)
            augment(ctx, em, tile, op, other)
        else:
            augment(ctx, em, f"{tile}[{rng.randrange(n)}]", op, expr(ctx, type_name, depth))
    if rng.random() < 0.5:
        scalar(ctx, em, tile, str(rng.randrange(n)), type_name)
    else:
        scalar(ctx, em, wp_call(ctx, "tile_sum", tile), type_name=type_name)


def _stack(ctx: Context, em: Emitter, depth: int) -> None:
    """A block-shared stack: a few pushes, its count, a guarded pop, sometimes a clear first."""
    rng = ctx.rng
    f = ctx.float_type
    dtype = rng.choice((f, f, "int32", composite("vec", f, 3)))
    stack = pick_name(ctx, ("stack", "work_stack", "pending", "frontier"))
    em.line(f"{stack} = {wp_call(ctx, 'tile_stack', f'capacity={rng.choice((4, 8, 16))}, dtype={py(dtype)}')}")
    for k in range(rng.randint(1, 3)):
        flag = "True" if rng.random() < 0.4 else compare(ctx, 1)
        push = wp_call(ctx, "tile_stack_push", f"{stack}, {expr(ctx, dtype, depth)}, {flag}")
        if rng.random() < 0.5:
            declare(ctx, em, "int32", push, name=ctx.names.pick(("slot", "pushed_slot")))
        else:
            em.line(push)
        if k == 0 and rng.random() < 0.2:
            em.line(wp_call(ctx, "tile_stack_clear", stack))
    if rng.random() < 0.6:
        declare(ctx, em, "int32", wp_call(ctx, "tile_stack_count", stack), name=ctx.names.pick(("n_pending", "depth")))
    popped, slot = pick_name(ctx, ("popped", "top")), pick_name(ctx, ("pop_slot", "taken"))
    em.line(f"{popped}, {slot} = {wp_call(ctx, 'tile_stack_pop', stack)}")
    ctx.declare(slot, "int32")
    zero = f"{py(dtype)}(0)" if dtype == "int32" else f"{py(dtype)}(0.0)"
    declare(ctx, em, dtype, f"wp.where({slot} >= 0, {popped}, {zero})")
    if rng.random() < 0.3:
        em.line(wp_call(ctx, "tile_stack_clear", stack))


def _scatter(ctx: Context, em: Emitter, depth: int) -> None:
    """Per-lane values scattered into a shared tile, then read back (sometimes through a gather ``t[idx]``)."""
    rng = ctx.rng
    f = py(ctx.float_type)
    n = rng.choice((4, 8, 16))
    tids = ctx.tids
    if rng.random() < 0.5:
        tile = pick_name(ctx, ("bins", "histogram", "slots"))
        em.line(f"{tile} = {wp_call(ctx, 'tile_zeros', f'shape={n}, dtype={f}')}")
    else:
        tile = float_tile(ctx, em, n, depth)
    for _ in range(rng.randint(1, 2)):
        value = expr(ctx, ctx.float_type, depth)
        if rng.random() < 0.5:
            if rng.random() < 0.5:
                index = f"({tids[0]} + {rng.randrange(n)}) % {n}"
            else:
                index = f"({expr(ctx, 'int32', depth - 1)}) & {n - 1}"
            flag = "True" if rng.random() < 0.5 else compare(ctx, 1)
            em.line(wp_call(ctx, "tile_scatter_add", f"{tile}, {index}, {value}, {flag}"))
        else:
            # one lane a slot: the lanes 0..n-1 of the first axis (index 0 on the others)
            mask = " and ".join([f"{tids[0]} < {n}", *(f"{t} == 0" for t in tids[1:])])
            em.line(wp_call(ctx, "tile_scatter_masked", f"{tile}, wp.min({tids[0]}, {n - 1}), {value}, {mask}"))
    if rng.random() < 0.5:
        scalar(ctx, em, tile, str(rng.randrange(n)))
        return
    start, stop, step = rng.choice(((0, rng.randint(1, n), 1), (n - 1, -1, -1), (0, n, 2), (-1, -n - 1, -1)))
    idx = pick_name(ctx, ("picks", "order_idx", "gather_idx"))
    em.line(f"{idx} = {wp_call(ctx, 'tile_arange', f'{start}, {stop}, {step}, dtype=int')}")
    gathered = pick_name(ctx, ("gathered", "subset"))
    ctx.used["tile_slice_indexed"] += 1  # (a direct ``wp.tile_slice_indexed(t, (idx,))`` fails in Warp 1.19 codegen)
    em.line(f"{gathered} = {tile}[{idx}]")
    scalar(ctx, em, gathered, str(rng.randrange(len(range(start, stop, step)))))


def _query(ctx: Context, em: Emitter, depth: int) -> None:
    """A BVH or mesh traversed by the whole block: ``while wp.tile_query_valid(q)`` over result tiles.

    Boxes and rays are literals (the same for every lane); the deprecated ``*_tiled`` aliases are
    written now and then.
    """
    rng = ctx.rng
    res = rng.choice(geometry(ctx))
    ctx.resource_uses[res.name] += 1
    alias = rng.random() < 0.25
    center, r = vec3_literal(ctx, -0.5, 0.5), number(rng, "float32", 0.2, 0.8)
    box = f"{res.name}, {center} - wp.vec3f({r}), {center} + wp.vec3f({r})"
    if res.kind == "mesh":
        make, advance = ("mesh_query_aabb_tiled", "mesh_query_aabb_next_tiled") if alias else (
            "tile_mesh_query_aabb", "tile_mesh_query_aabb_next")
        args = box
    else:
        advance = "bvh_query_next_tiled" if alias else "tile_bvh_query_next"
        if rng.random() < 0.5:
            make, args = ("bvh_query_aabb_tiled" if alias else "tile_bvh_query_aabb"), box
        else:
            start = vec3_literal(ctx, -2.0, -1.0)
            make = "bvh_query_ray_tiled" if alias else "tile_bvh_query_ray"
            args = f"{res.name}, {start}, {vec3_literal(ctx, 0.5, 1.0)}"
    count = declare(ctx, em, "int32", "int(0)", name=ctx.names.pick(("hits", "n_found", "overlaps")))
    query = pick_name(ctx, ("tile_query", "block_query", "cooperative_query"))
    em.line(f"{query} = {wp_call(ctx, make, args)}")
    em.line(f"while {wp_call(ctx, 'tile_query_valid', query)}:")
    em.indent += 1
    item = pick_name(ctx, ("result", "found", "hit_index"))
    em.line(f"{item} = {wp_call(ctx, 'untile', wp_call(ctx, advance, query))}")
    em.line(f"if {item} >= 0:")
    em.line(f"    {count} += 1")
    em.indent -= 1
