"""The parts every tile idiom is built from: fresh float and ``int32`` tiles, named steps, in-place updates,
and the scalars a kernel takes back out of a tile (:mod:`generator.programs.synth.tiles` writes the idioms).
"""

from __future__ import annotations

from generator.programs.synth.emit import Emitter, declare
from generator.programs.synth.expressions import expr
from generator.programs.synth.scope import ArrayArg, Context, Resource
from generator.programs.synth.types import number, py

MAPS = ("wp.sin", "wp.cos", "wp.tanh", "wp.abs")
# what an augmented assignment to a tile (or to one of its elements) compiles to
INPLACE = {"+=": "tile_add_inplace", "-=": "tile_sub_inplace", "&=": "tile_bit_and_inplace",
           "|=": "tile_bit_or_inplace", "^=": "tile_bit_xor_inplace"}


def wp_call(ctx: Context, name: str, args: str) -> str:
    """``wp.name(args)``, counted in the program's builtin use."""
    ctx.used[name] += 1
    return f"wp.{name}({args})"


def float_arrays(ctx: Context) -> list[ArrayArg]:
    """1-D arrays of the program's float type (tile loads and stores go through them)."""
    return [a for a in ctx.arrays if a.ndim == 1 and a.dtype == ctx.float_type]


def pick_name(ctx: Context, options: tuple[str, ...]) -> str:
    """A fresh variable name built from one of ``options``."""
    return ctx.names.pick(options)


def float_tile(ctx: Context, em: Emitter, n: int, depth: int, float32: bool = False) -> str:
    """A fresh 1-D float tile of ``n`` elements: loaded from an array, or built (cast to float32 if asked)."""
    rng = ctx.rng
    f = py(ctx.float_type)
    arrays = float_arrays(ctx)
    name = pick_name(ctx, ("tile", "block", "values", "chunk", "window"))
    r = rng.random()
    if arrays and r < 0.6:
        src = rng.choice(arrays)
        rhs = wp_call(ctx, "tile_load", f"{src.name}, shape={n}, offset={ctx.tids[0]}")
    elif r < 0.7:
        rhs = wp_call(ctx, "tile_full", f"shape={n}, value={expr(ctx, ctx.float_type, depth)}, dtype={f}")
    elif r < 0.8:
        rhs = wp_call(ctx, "tile_arange", f"{n}, dtype={f}")
    elif r < 0.9:
        rhs = wp_call(ctx, "tile_randf", f"shape={n}, rng=wp.rand_init({ctx.tids[0]})")
        if ctx.float_type != "float32":
            rhs = wp_call(ctx, "tile_astype", f"{rhs}, dtype={f}")
    else:
        rhs = f"{wp_call(ctx, 'tile_ones', f'shape={n}, dtype={f}')} * {expr(ctx, ctx.float_type, depth)}"
    em.line(f"{name} = {rhs}")
    # each step gets a name of its own: a tile's type includes its layout, which steps may change
    if rng.random() < 0.5:
        mapped = pick_name(ctx, ("mapped", "activated", "shaped"))
        em.line(f"{mapped} = {wp_call(ctx, 'tile_map', f'{rng.choice(MAPS)}, {name}')}")
        name = mapped
    if float32 and ctx.float_type != "float32":
        narrow = pick_name(ctx, ("narrow", "as_f32"))
        em.line(f"{narrow} = {wp_call(ctx, 'tile_astype', f'{name}, dtype=wp.float32')}")
        name = narrow
    return name


def geometry(ctx: Context) -> list[Resource]:
    """The BVH and mesh arguments (tiled queries traverse them)."""
    return [r for r in ctx.resources if r.kind in ("bvh", "mesh")]


def augment(ctx: Context, em: Emitter, target: str, op: str, rhs: str) -> None:
    """``target op rhs`` on a tile or one of its elements (``tile_add_inplace`` and co. in the C++)."""
    ctx.used[INPLACE[op]] += 1
    em.line(f"{target} {op} {rhs}")


def scalar(ctx: Context, em: Emitter, tile: str, index: str = "0", type_name: str | None = None) -> str:
    """``x = wp.tile_extract(tile, i)``: a value the rest of the kernel may use."""
    return declare(ctx, em, type_name or ctx.float_type, wp_call(ctx, "tile_extract", f"{tile}, {index}"))

def int_tile(ctx: Context, em: Emitter, n: int, depth: int) -> str:
    """A fresh 1-D ``int32`` tile of ``n`` elements (random bits, a range or a constant)."""
    rng = ctx.rng
    name = pick_name(ctx, ("bits", "flags", "mask_tile", "codes"))
    r = rng.random()
    if r < 0.4:
        rhs = wp_call(ctx, "tile_randi", f"shape={n}, rng=wp.rand_init({ctx.tids[0]} + {rng.randint(1, 99)})")
    elif r < 0.7:
        rhs = wp_call(ctx, "tile_arange", f"{n}, dtype=int")
    else:
        rhs = wp_call(ctx, "tile_full", f"shape={n}, value={expr(ctx, 'int32', depth)}, dtype=int")
    em.line(f"{name} = {rhs}")
    return name

def vec3_literal(ctx: Context, lo: float, hi: float) -> str:
    """A ``wp.vec3f`` literal with components in ``[lo, hi]``."""
    return f"wp.vec3f({', '.join(number(ctx.rng, 'float32', lo, hi) for _ in range(3))})"
