"""The stages a kernel is made of, each ending in what gives its values a use: a store, an atomic, or a guard.

A stage reads what it needs (locals named after the arrays they come from), computes through
:meth:`~generator.programs.flow.body.Body.value`, and writes an output; :func:`write_stage` dispatches on the
program shape. Every local a stage creates is read before the stage ends (:meth:`Body.drain`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from generator.programs.flow.body import Body, wrap
from generator.programs.flow.ops import operation
from generator.programs.flow.vocab import Field


@dataclass(slots=True)
class Arg:
    """A kernel argument: an array (``ndim`` > 0) or a scalar, with the field it holds and its role."""

    name: str
    kind: str
    ndim: int
    role: str  # "in", "out", "offsets", "neighbors", "count", "flag", "scalar", "total", "active"
    local: str = ""


@dataclass(slots=True)
class Shape:
    """What the kernel's stages may use: its arguments, thread indices, and how an element is indexed."""

    args: list[Arg] = field(default_factory=list)
    tids: list[str] = field(default_factory=list)
    struct_prefix: dict[str, str] = field(default_factory=dict)  # argument name -> "model." / "state." (structs)

    def ref(self, arg: Arg) -> str:
        """The argument as the kernel body names it (a struct field is ``model.mass``)."""
        return self.struct_prefix.get(arg.name, "") + arg.name

    def index(self, arg: Arg, i: str | None = None) -> str:
        """``arg[...]`` at the thread (a batched launch indexes two-dimensional arrays by ``world, i``)."""
        i = i or self.tids[-1]
        if arg.ndim == 2:
            return f"{self.ref(arg)}[{self.tids[0]}, {i}]"
        return f"{self.ref(arg)}[{i}]"

    def of_role(self, *roles: str) -> list[Arg]:
        """Arguments with one of ``roles``."""
        return [a for a in self.args if a.role in roles]


def read_inputs(body: Body, shape: Shape, count: int) -> None:
    """Read ``count`` input arrays into locals named after them (each must be read later)."""
    inputs = shape.of_role("in")
    for arg in body.rng.sample(inputs, min(count, len(inputs))):
        if arg.local in body.taken:
            continue
        name = body.name(arg.local)
        body.bind(name, arg.kind, body.mark_read(shape.index(arg)))


_TEMP_HINTS = {"f": ("scale_factor", "weight", "energy", "rate", "term", "residual", "factor"),
               "v": ("offset", "direction", "delta", "momentum", "correction"), "i": ("index", "cell")}


def enrich(body: Body) -> None:
    """Intermediate values a stage works through (more at higher complexity): named temporaries, each read later,
    and a refinement under a condition (``if speed > MAX_SPEED: vel = vel * ...``)."""
    rng = body.rng
    for _ in range(rng.randint(body.complexity // 2, body.complexity)):
        kind = rng.choice(("f", "f", "v")) if body.has("v") else "f"
        name = body.name(rng.choice(_TEMP_HINTS[kind]))
        value = body.value(kind, 2, name)
        if value.isidentifier():  # a copy of a local says nothing: compute something (that local still to be read)
            for local in body.locals():
                if local.name == value:
                    local.read = False
            value = operation(body, kind, 2, name)
        body.bind(name, kind, value)
    candidates = [v for v in body.unread() if v.kind in "fv"]
    if candidates and rng.random() < 0.25 * body.complexity:
        local = rng.choice(candidates)
        cond = body.value("b", 1, "check")
        body.open(f"if {cond}:")
        other = body.value(local.kind, 1, local.name) if local.kind == "f" else body.value("f", 1, local.name)
        op = rng.choice(("*", "+", "-")) if local.kind == "f" else "*"
        if other == local.name:
            other = body.literal("f")
        body.line(f"{local.name} = {local.name} {op} {wrap(other)}")
        body.close()
        local.read = False  # still to be used by what comes next


def add_sources(body: Body, shape: Shape) -> None:
    """Let expressions read any input array's element at the thread."""
    for arg in shape.of_role("in", "flag"):
        body.sources.setdefault(arg.kind, []).append(partial(shape.index, arg))
        if arg.ndim == len(shape.tids) or arg.ndim == 1:
            body.inputs_unread.setdefault(arg.kind, []).append(shape.index(arg))


def store(body: Body, shape: Shape, out: Arg, hint: str) -> None:
    """``out[i] = value`` (or ``+=``), the value taking up every unread local."""
    value = body.drain(out.kind, body.value(out.kind, 2, hint))
    op = "+=" if body.rng.random() < 0.2 and out.kind in "fv" else "="
    body.line(f"{shape.index(out)} {op} {value}")


def guard(body: Body, shape: Shape, fields: tuple[Field, ...]) -> None:
    """An early return people write: out of range, inactive world, flagged element."""
    rng = body.rng
    flags = shape.of_role("flag")
    active = shape.of_role("active")
    if active and len(shape.tids) > 1:
        a = active[0]
        body.open(f"if {shape.ref(a)}[{shape.tids[0]}] == 0:" if rng.random() < 0.5
                  else f"if not {shape.ref(a)}[{shape.tids[0]}]:")
    elif flags and rng.random() < 0.6:
        body.open(f"if {body.mark_read(shape.index(flags[0]))} {rng.choice(('!=', '=='))} 0:")
    else:
        outs = shape.of_role("out")
        body.open(f"if {shape.tids[-1]} >= {shape.ref(outs[0])}.shape[{len(shape.tids) - 1}]:")
    body.line("return")
    body.close()


def map_stage(body: Body, shape: Shape, out: Arg) -> None:
    """Read, compute, store."""
    read_inputs(body, shape, body.rng.randint(1, 3))
    enrich(body)
    if body.rng.random() < 0.3:
        cond = body.value("b", 1, "inside")
        body.open(f"if {cond}:")
        store(body, shape, out, out.local)
        body.close()
        if body.rng.random() < 0.5:
            body.open("else:")
            body.line(f"{shape.index(out)} = {body.value(out.kind, 1, out.local)}")
            body.close()
    else:
        store(body, shape, out, out.local)


def csr_stage(body: Body, shape: Shape, out: Arg) -> None:
    """Sum over a row's neighbours ``range(offsets[i], offsets[i + 1])``, then store."""
    offsets = shape.of_role("offsets")[0]
    neighbors = shape.of_role("neighbors")[0]
    i = shape.tids[-1]
    read_inputs(body, shape, 1)
    enrich(body)
    acc = body.name(f"{out.local}_sum" if out.kind != "i" else "hits")
    body.line(f"{acc} = {body.zero(out.kind if out.kind in 'fvi' else 'f')}")
    acc_kind = out.kind if out.kind in "fvi" else "f"
    start, end = f"{shape.ref(offsets)}[{i}]", f"{shape.ref(offsets)}[{i} + 1]"
    if body.rng.random() < 0.5:
        start_name, end_name = body.name("start"), body.name("end")
        body.line(f"{start_name} = {start}")
        body.line(f"{end_name} = {end}")
        start, end = start_name, end_name
    k = body.name("k")
    body.open(f"for {k} in range({start}, {end}):")
    j = body.name("j")
    body.line(f"{j} = {shape.ref(neighbors)}[{k}]")
    j_local = body.declare(j, "i")
    ins = shape.of_role("in")
    if ins:
        arg = body.rng.choice(ins)
        name = body.name(f"{arg.local}_j")
        body.use(j_local)
        body.bind(name, arg.kind, shape.index(arg, j))
    term = body.drain(acc_kind, body.value(acc_kind, 2, "contribution"))
    body.line(f"{acc} += {term}")
    body.close()
    body.declare(acc, acc_kind)
    store(body, shape, out, out.local)


def scatter_stage(body: Body, shape: Shape, out: Arg) -> None:
    """Compute a contribution and add it to another element (and take it from this one)."""
    neighbors = shape.of_role("neighbors")
    read_inputs(body, shape, body.rng.randint(1, 2))
    enrich(body)
    kind = out.kind if out.kind in "fv" else "f"
    value = body.drain(kind, body.value(kind, 2, "contribution"))
    name = body.assign(f"{out.local}_delta", kind, value)
    target = f"{shape.ref(neighbors[0])}[{shape.tids[-1]}]" if neighbors else f"{shape.tids[-1]}"
    if neighbors and body.rng.random() < 0.5:
        target = body.assign("target", "i", target)
    lead = f"{shape.tids[0]}, " if out.ndim == 2 else ""  # a batched launch: the world's row
    body.line(f"wp.atomic_add({shape.ref(out)}, {lead}{target}, {name})")
    if body.rng.random() < 0.5:
        body.line(f"wp.atomic_sub({shape.ref(out)}, {lead}{shape.tids[-1]}, {name})")


def compaction_stage(body: Body, shape: Shape, out: Arg) -> None:
    """Elements that pass a test get a slot from ``wp.atomic_add(count, 0, 1)`` and write themselves there."""
    count = shape.of_role("count")[0]
    ids = shape.of_role("ids")[0]
    read_inputs(body, shape, body.rng.randint(1, 2))
    cond = body.value("b", 2, "selected")
    body.open(f"if {cond}:")
    slot = body.name("slot")
    body.line(f"{slot} = wp.atomic_add({shape.ref(count)}, 0, 1)")
    body.open(f"if {slot} < {shape.ref(ids)}.shape[0]:")
    body.line(f"{shape.ref(ids)}[{slot}] = {shape.tids[-1]}")
    value = body.drain(out.kind, body.value(out.kind, 1, out.local))
    body.line(f"{shape.ref(out)}[{slot}] = {value}")
    body.close()
    body.close()


def reduction_stage(body: Body, shape: Shape, out: Arg) -> None:
    """Add (or take the max of) a per-element value into a one-element total."""
    total = shape.of_role("total")[0]
    read_inputs(body, shape, body.rng.randint(1, 3))
    enrich(body)
    value = body.drain("f", body.value("f", 2, "energy"))
    name = body.assign("contribution", "f", value) if len(value) > 24 else value
    op = body.rng.choice(("atomic_add", "atomic_add", "atomic_max", "atomic_min"))
    body.line(f"wp.{op}({shape.ref(total)}, 0, {name})")
    if out.role == "out":
        body.line(f"{shape.index(out)} = {body.drain(out.kind, body.value(out.kind, 1, out.local))}")


def iterate_stage(body: Body, shape: Shape, out: Arg) -> None:
    """A value refined over a fixed or scalar number of iterations, then stored."""
    rng = body.rng
    read_inputs(body, shape, rng.randint(1, 2))
    enrich(body)
    kind = out.kind if out.kind in "fv" else "f"
    state = body.name(out.local if out.local not in body.taken else "x")
    init = body.value(kind, 1, "start")
    if not any(v.name in init for v in body.locals()) and not any(shape.ref(a) in init for a in shape.args):
        init = body.zero(kind)  # a constant would stay constant in the loop (Warp refuses to change it)
    body.line(f"{state} = {init}")
    iters = [a for a in shape.args if a.role == "scalar" and a.kind == "i"]
    bound = iters[0].name if iters and rng.random() < 0.6 else str(rng.choice((2, 3, 4, 8)))
    loop = body.name("it")
    body.open(f"for {loop} in range({bound}):")
    body.declare(state, kind, read=True)
    step = body.drain(kind, body.value(kind, 2, "update"))
    body.line(f"{state} = {state} + {wrap(step)} * {body.typing.lit(rng.choice((0.5, 0.25, 0.1)))}")
    if rng.random() < 0.3:
        body.open(f"if wp.abs({state if kind == 'f' else f'wp.length({state})'}) > {body.typing.lit(10.0)}:")
        body.line("break")
        body.close()
    body.close()
    body.declare(state, kind)
    store(body, shape, out, out.local)


STAGES = {"map": map_stage, "csr": csr_stage, "scatter": scatter_stage, "compaction": compaction_stage,
          "reduction": reduction_stage, "iterate": iterate_stage}
