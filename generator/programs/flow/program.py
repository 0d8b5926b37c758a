"""Whole programs of the flow synthesizer: a domain, arguments, helpers, idioms, and one kernel of stages.

:func:`compose` draws, for one program shape (:data:`SHAPES`), the idioms real Warp code is written with:
generic ``Any`` kernels instantiated by ``wp.overload``, kernel factories capturing values and ``wp.static``
choices, module constants (plain or ``wp.constant``), decorator options, batched launches with a per-world guard,
CSR loops, slot allocation, helpers returning tuples, ``Model``/``State`` structs of arrays, both annotation styles
and docstrings; names come from the program's domain (:mod:`generator.programs.flow.vocab`).
"""

from __future__ import annotations

import random
from typing import Any

from generator.programs.flow.body import Body, Typing
from generator.programs.flow.helpers import HELPERS, Helper, write_helper
from generator.programs.flow.ops import fold, operation
from generator.programs.flow.stages import STAGES, Arg, Shape, add_sources, guard
from generator.programs.flow.vocab import DOMAINS, VERBS, Domain

SHAPES = ("map", "batched", "csr", "scatter", "compaction", "reduction", "iterate", "struct", "multistage", "factory")
_GENERIC_SHAPES = {"map", "batched", "csr", "scatter", "reduction", "iterate"}
_NEIGHBOUR_SHAPES = {"map", "batched", "iterate", "struct", "multistage"}
_BATCHABLE = {"map", "csr", "scatter", "reduction", "iterate"}
_STAGE_OF = {"batched": "map", "struct": "map", "factory": "map"}
_SCALARS = {"f": ("dt", "scale", "alpha", "gain", "step_size"), "i": ("num_iters", "substeps")}
_NEEDS = {"csr": ("offsets", "neighbors"), "compaction": ("count", "ids"), "reduction": ("total",),
          "scatter": ("neighbors",)}


def _annotation(typing: Typing, kind: str, ndim: int, subscript: bool, rng: random.Random) -> str:
    dtype = typing.type_of(kind) if kind != "i" else "wp.int32" if not typing.plain else "int"
    base = "wp.array" if ndim == 1 else f"wp.array{ndim}d"
    if subscript:
        return f"{base}[{dtype}]"
    if ndim > 1 and rng.random() < 0.3:
        return f"wp.array(dtype={dtype}, ndim={ndim})"
    return f"{base}(dtype={dtype})"


def _concrete(typing: Typing, kind: str, f64: bool) -> str:
    if kind == "f":
        return "wp.float64" if f64 else "wp.float32"
    if kind == "v":
        return "wp.vec3d" if f64 else "wp.vec3f"
    return typing.type_of(kind)


def _pick_fields(rng: random.Random, domain: Domain, generic: bool) -> tuple[list[Any], Any, Any]:
    kinds = ("f", "v") if generic else ("f", "v", "m", "q")
    values = [f for f in domain.fields if f.kind in kinds]
    flags = [f for f in domain.fields if f.kind == "i"]
    rng.shuffle(values)
    out = next(f for f in values if f.kind in "fv")
    ins = [f for f in values if f is not out][: rng.randint(2, 4)]
    if generic and out.kind == "v" and not any(f.kind == "v" for f in ins):
        out = next(f for f in values if f.kind == "f")
        ins = [f for f in values if f is not out][: rng.randint(2, 4)]
    return ins, out, flags[0] if flags else None


def compose(rng: random.Random, complexity: int, shape_name: str) -> tuple[str, dict[str, Any]]:
    """Write one program of ``shape_name`` (one of :data:`SHAPES`).

    Args:
        rng: The program's random stream; the same seed gives the same bytes.
        complexity: 1-4: more inputs, stages and helpers.
        shape_name: The program shape.

    Returns:
        The program source and a JSON-able dict of what shaped it.
    """
    domain = rng.choice(DOMAINS)
    generic = shape_name in _GENERIC_SHAPES and rng.random() < 0.75
    precision = "any" if generic else ("f64" if rng.random() < 0.15 and shape_name != "factory" else "f32")
    typing = Typing(precision, plain=precision == "any" or rng.random() < 0.65)
    subscript = rng.random() < 0.8
    docstrings = rng.random() < 0.6
    comments = rng.random() < 0.7
    ins, out_field, flag = _pick_fields(rng, domain, generic)
    batched = shape_name == "batched" or shape_name in _BATCHABLE and rng.random() < 0.5
    ndim = 2 if batched else 1
    shape = Shape(tids=["world", "i"] if batched and rng.random() < 0.6 else ["env", "tid"] if batched
                  else [rng.choice(("i", "tid", "i"))])
    shape.args = [Arg(f.name, f.kind, ndim, "in", f.local) for f in ins]
    if flag is not None and rng.random() < 0.6:
        shape.args.append(Arg(flag.name, "i", ndim, "flag", flag.local))
    if batched:
        shape.args.append(Arg(rng.choice(("world_active", "env_mask", "active")), "i", 1, "active"))
    # a neighbour loop (CSR) in kernels of other shapes too: real code walks ranges read from arrays often
    neighbours = shape_name in _NEIGHBOUR_SHAPES and rng.random() < 0.35
    for role in (*_NEEDS.get(shape_name, ()), *(("offsets", "neighbors") if neighbours else ())):
        name = {"offsets": "neighbor_offsets", "neighbors": "neighbor_ids", "count": "num_selected",
                "ids": "selected_ids", "total": f"total_{out_field.name}"}[role]
        shape.args.append(Arg(name, "f" if role == "total" else "i", 1, role))
    scalars = [Arg(rng.choice(_SCALARS["f"]), "f", 0, "scalar")]
    if shape_name == "iterate" or (complexity >= 3 and rng.random() < 0.3):
        scalars.append(Arg(rng.choice(_SCALARS["i"]), "i", 0, "scalar"))
    outputs = [Arg(out_field.name, out_field.kind, ndim, "out", out_field.local)]
    extra_kinds = "f" if generic and not any(f.kind == "v" for f in ins) else "fv"
    extra = [f for f in domain.fields if f.kind in extra_kinds and f not in ins and f is not out_field]
    for f in extra[: _extra_outputs(rng, shape_name, complexity)]:  # a kernel of several stages
        outputs.append(Arg(f.name, f.kind, 1, "out", f.local))
    shape.args += scalars + outputs
    typing.anchor = scalars[0].name

    body = Body(rng, typing, complexity, operate=operation, folder=fold)
    for a in shape.args:
        body.taken.add(a.name)
    lines: list[str] = ["from typing import Any", "", "import warp as wp", ""] if generic else ["import warp as wp", ""]

    # module constants
    constants = rng.sample(domain.constants, rng.randint(1, 2)) if rng.random() < 0.55 else []
    if constants:
        lines.append("")
        as_wp = rng.random() < 0.3
        for name, value in constants:
            text = Typing("f32").lit(value)
            lines.append(f"{name} = wp.constant({text})" if as_wp else f"{name} = {text}")
            spelled = {"f32": name, "f64": f"wp.float64({name})", "any": f"type({typing.anchor})({name})"}[precision]
            body.constants.setdefault("f", []).append(spelled)
            body.inputs_unread.setdefault("f", []).append(spelled)
            body.taken.add(name)

    # helpers
    usable = [h for h in HELPERS if all(any(a.kind == k and a.role == "in" for a in shape.args) for _, k in h.args)]
    count = rng.choice((0, 0, 1)) + (complexity == 4 and rng.random() < 0.3)
    helpers: list[Helper] = rng.sample(usable, min(len(usable), count))
    for h in helpers:
        lines += ["", ""] + write_helper(h, typing, docstrings)
        body.taken.add(h.name)
        if len(h.results) == 1:
            body.helpers.append((h.name, tuple(k for _, k in h.args), h.results[0]))

    # structs of arrays
    struct = shape_name == "struct"
    if struct:
        lines += _structs(rng, domain, shape, typing, subscript)

    # the kernel
    verb = rng.choice(VERBS[shape_name])
    kernel_name = f"{verb}_{domain.name}" if shape_name == "multistage" else f"{verb}_{out_field.name}"
    if shape_name == "factory":
        kernel_name = f"{rng.choice(VERBS['map'])}_{out_field.name}"
    sig_args = []
    if struct:
        sig_args = [f"model: {domain.model}", f"state: {domain.state}"] + [
            f"{a.name}: {typing.type_of(a.kind) if a.kind == 'f' else 'int'}" for a in scalars]
    else:
        for a in shape.args:
            sig_args.append(f"{a.name}: {_annotation(typing, a.kind, a.ndim, subscript, rng)}" if a.ndim
                            else f"{a.name}: {typing.type_of(a.kind)}")
    options = ""
    if rng.random() < 0.15 or shape_name == "factory" and rng.random() < 0.5:
        options = '(enable_backward=False)' if shape_name == "compaction" or rng.random() < 0.3 else '(module="unique")'
    if shape_name == "compaction":  # slot = wp.atomic_add(...) runs again in the adjoint: real code turns it off
        options = "(enable_backward=False)"
    indent = "    " if shape_name == "factory" else ""
    body.indent = 2 if shape_name == "factory" else 1
    factory_lines: list[str] = []
    static_flag = ""
    if shape_name == "factory":
        static_flag = rng.choice(("use_clamp", "normalize_output", "with_damping"))
        body.constants.setdefault("f", []).append("limit")
        body.taken.update({"limit", static_flag})
        factory_lines = ["", "", f"def make_{kernel_name}(limit: float, {static_flag}: bool):"]
    if generic:
        options = ""  # Warp finds no overload of a generic kernel in a module of its own
    header = [f"@wp.kernel{options}", *signature(kernel_name, sig_args, len(indent))]
    if docstrings:
        header.append(f'    """{_describe(shape_name, out_field.name, domain.name)}"""')

    tids = shape.tids
    body.line(f"{', '.join(tids)} = wp.tid()")
    for t in tids:
        body.declare(t, "i", read=True)
    add_sources(body, shape)
    if batched or rng.random() < 0.2 or shape.of_role("flag") and rng.random() < 0.3:
        guard(body, shape, domain.fields)
    for a in shape.args:
        if a.ndim == 0:
            body.declare(a.name, a.kind, read=True)
            body.inputs_unread.setdefault(a.kind, []).append(a.name)
    for h in helpers:  # every helper is called; its results (a tuple helper's both) are read later
        names = [body.name(n) for n in h.result_names]
        operands: list[str] = []
        for _, k in h.args:
            operands.append(body.leaf(k, avoid=operands[-1] if operands else ""))
        body.line(f"{', '.join(names)} = {h.name}({', '.join(operands)})")
        for n, k in zip(names, h.results, strict=True):
            body.declare(n, k)

    stages = [shape_name if shape_name in STAGES else _STAGE_OF.get(shape_name, "map")]
    if shape_name == "multistage":
        stages = [rng.choice(("map", "iterate", "map"))]
    stages += [rng.choice(("map", "iterate", "map")) for _ in outputs[1:]]
    if neighbours:  # one of the stages sums over the neighbours
        stages[rng.randrange(len(stages))] = "csr"
    for stage, out in zip(stages, outputs, strict=True):
        if comments:
            body.line(f"# {stage_comment(stage, out.name)}")
        if static_flag:
            _static_stage(body, shape, out, static_flag)
        else:
            STAGES[stage](body, shape, out)

    kernel = [indent + line for line in header] + body.lines
    lines += factory_lines if factory_lines else ["", ""]
    lines += kernel
    if shape_name == "factory":
        lines += [f"    return {kernel_name}", "", "",
                  f"{kernel_name} = make_{kernel_name}({typing.lit(rng.choice((0.5, 1.0, 2.0, 10.0)))}, "
                  f"{rng.choice(('True', 'False'))})"]
    if generic:
        lines += _overload(rng, kernel_name, shape, typing, subscript)
    source = "\n".join(lines).rstrip() + "\n"
    params = {"shape": shape_name, "domain": domain.name, "precision": precision, "generic": generic,
              "helpers": [h.name for h in helpers], "constants": [c for c, _ in constants], "options": options,
              "subscript_annotations": subscript, "complexity": complexity}
    return source, params


def _extra_outputs(rng: random.Random, shape: str, complexity: int) -> int:
    """How many more outputs (each with a stage of its own) a kernel gets: long kernels do several things."""
    if shape == "multistage":
        return rng.randint(2, 4)
    if shape in ("factory", "compaction"):
        return 0
    if complexity == 4:
        return rng.randint(2, 4)
    if complexity == 3:
        return rng.randint(2, 3)
    if complexity == 2:
        return int(rng.random() < 0.5)
    return 0


def signature(name: str, args: list[str], indent: int) -> list[str]:
    """``def name(args):``, one argument per line where one line would pass 100 characters."""
    line = f"def {name}({', '.join(args)}):"
    if indent + len(line) <= 100:
        return [line]
    return [f"def {name}(", *(f"    {a}," for a in args), "):"]


def _static_stage(body: Body, shape: Shape, out: Arg, flag: str) -> None:
    """A factory's stage: the result, a ``wp.static`` choice the factory's argument makes, the store."""
    from generator.programs.flow.stages import read_inputs  # noqa: PLC0415

    read_inputs(body, shape, body.rng.randint(1, 3))
    kind = out.kind
    result = body.assign("result", kind, body.drain(kind, body.value(kind, 2, out.local)))
    body.open(f"if wp.static({flag}):")
    if kind == "f":
        body.line(f"{result} = wp.clamp({result}, -limit, limit)")
    else:
        body.line(f"{result} = wp.normalize({result}) * limit")
    body.close()
    body.line(f"{shape.index(out)} = {result}")


def _structs(rng: random.Random, domain: Domain, shape: Shape, typing: Typing, subscript: bool) -> list[str]:
    """``Model`` (what the kernel reads) and ``State`` (what it writes) structs of 6-14 fields together."""
    model_args = [a for a in shape.args if a.ndim and a.role != "out"]
    state_args = [a for a in shape.args if a.role == "out"]
    extra = [f for f in domain.fields if f.name not in {a.name for a in shape.args}]
    for f in extra[: max(0, rng.randint(6, 10) - len(model_args) - len(state_args))]:
        model_args.append(Arg(f.name, f.kind, 1, "unused", f.local))
    out = []
    for cls, members in ((domain.model, model_args), (domain.state, state_args)):
        out += ["", "", "@wp.struct", f"class {cls}:"]
        for a in members:
            out.append(f"    {a.name}: {_annotation(typing, a.kind, 1, subscript, rng)}")
    for a in model_args:
        shape.struct_prefix[a.name] = "model."
    for a in state_args:
        shape.struct_prefix[a.name] = "state."
    return out


def _overload(rng: random.Random, kernel: str, shape: Shape, typing: Typing, subscript: bool) -> list[str]:
    """One concrete instantiation of a generic kernel, as ``wp.overload(kernel, {...})`` or ``@wp.overload``."""
    f64 = rng.random() < 0.5
    concrete = Typing("f64" if f64 else "f32", plain=False)
    generic_args = [a for a in shape.args if a.kind in "fv"]

    def spelled(a: Arg) -> str:
        dtype = _concrete(typing, a.kind, f64)
        if not a.ndim:
            return dtype
        base = "wp.array" if a.ndim == 1 else f"wp.array{a.ndim}d"
        return f"{base}[{dtype}]" if subscript else f"{base}(dtype={dtype})"

    if rng.random() < 0.5:
        items = [f'"{a.name}": {spelled(a)}' for a in generic_args]
        line = f"wp.overload({kernel}, {{{', '.join(items)}}})"
        if len(line) <= 100:
            return ["", "", line]
        return ["", "", "wp.overload(", f"    {kernel},", "    {", *(f"        {i}," for i in items), "    },", ")"]
    args = [f"{a.name}: {spelled(a)}" if a.kind in "fv" else
            f"{a.name}: {_annotation(concrete, a.kind, a.ndim, subscript, rng) if a.ndim else typing.type_of(a.kind)}"
            for a in shape.args]
    return ["", "", "@wp.overload", *signature(kernel, args, 0), "    ..."]


_COMMENTS = {"map": "per-element update of {out}", "csr": "sum over neighbours into {out}",
             "scatter": "scatter contributions into {out}", "compaction": "collect the selected elements",
             "reduction": "accumulate the total of {out}", "iterate": "fixed-point iterations for {out}"}


def stage_comment(stage: str, out: str) -> str:
    """A one-line comment naming what a stage computes."""
    return _COMMENTS.get(stage, "update {out}").format(out=out.replace("_", " "))


def _describe(shape: str, out: str, domain: str) -> str:
    what = out.replace("_", " ")
    return {"map": f"Updates {what} per element.", "batched": f"Updates {what} for every active world.",
            "csr": f"Accumulates {what} over each element's neighbours.",
            "scatter": f"Scatters contributions to {what}.", "compaction": f"Collects elements by {what}.",
            "reduction": f"Accumulates the total of {what}.", "iterate": f"Iteratively refines {what}.",
            "struct": f"Advances the {domain} state: {what}.", "multistage": f"One step of the {domain} system.",
            "factory": f"Updates {what}, limited by the factory's arguments."}[shape]
