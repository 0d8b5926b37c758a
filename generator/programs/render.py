"""Render one program from a template and a seeded random stream."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.sandbox

from generator.programs.flow.program import compose
from generator.programs.rng import TemplateRng
from generator.programs.synth.program import synthesize
from generator.programs.synth.prune import prune_dead_stores
from generator.programs.templates import Template
from generator.realism.measures import read_program

# Templates are code from a folder a user may point at (WARP_IR_TEMPLATES): they are rendered in Jinja's
# sandbox, so an unsafe access (``lipsum.__globals__``, ``rng._rng``, ``().__class__``) raises
# jinja2.exceptions.SecurityError, counted as a render failure like any other. Not the immutable sandbox:
# templates build lists with ``list.append``.
_ENV = jinja2.sandbox.SandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)

FLOAT_DTYPES = ("float16", "float32", "float64")


class RenderError(Exception):
    """A template failed to render (its Jinja error message is kept).

    Attributes:
        template: The template that failed.
        reason: Why, without the template's name (the same for every program of the template
            that fails the same way, so failures group).
    """

    def __init__(self, template: Template, reason: str) -> None:
        super().__init__(f"{template.name}: {reason}")
        self.template = template
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered program and the values that produced it."""

    source: str
    params: dict[str, Any]
    complexity: int


def sample_params(template: Template, rng: random.Random) -> dict[str, Any]:
    """Draw every declared parameter of ``template`` (in declaration order) from ``rng``."""
    params: dict[str, Any] = {}
    for name, spec in template.params.items():
        if isinstance(spec, list):
            params[name] = rng.choice(spec)
        else:
            kind, value = next(iter(spec.items()))
            if kind == "int":
                params[name] = rng.randint(int(value[0]), int(value[1]))
            elif kind == "float":
                params[name] = float(f"{rng.uniform(float(value[0]), float(value[1])):.2g}")
            else:
                params[name] = rng.random() < float(value)
    return params


def render(template: Template, rng: random.Random) -> Rendered:
    """Sample a complexity level and the declared params, then render ``template``.

    Raises:
        RenderError: The template raised while rendering.
    """
    if template.error:
        raise RenderError(template, template.error)
    if template.meta.get("synthesizer"):
        return _synthesize(template, rng)
    complexity = rng.choice(template.complexity)
    params = sample_params(template, rng)
    context = dict(params, complexity=complexity, rng=TemplateRng(rng), FLOAT_DTYPES=FLOAT_DTYPES)
    compiled = _compiled(template)
    if isinstance(compiled, str):
        raise RenderError(template, compiled)
    try:
        source = compiled.render(context)
    except Exception as exc:  # a Jinja error, an unsafe access, a bug in an expression: counted, not fatal
        raise RenderError(template, f"{type(exc).__name__}: {exc}") from exc
    if rng.random() < SUBSCRIPT_SHARE:
        source = subscript_annotations(source)
    return Rendered(source=_tidy(source), params=params, complexity=complexity)


# Share of template programs whose array annotations are written ``wp.array[float]`` (the style of most real Warp
# code today) rather than ``wp.array(dtype=float)``; both mean the same to Warp.
SUBSCRIPT_SHARE = 0.5
_ARRAY_ANNOTATION_RE = re.compile(r"\bwp\.(array|array[1-4]d)\(dtype=([\w.]+)\)")


def subscript_annotations(source: str) -> str:
    """``wp.array(dtype=X)`` and ``wp.arrayNd(dtype=X)`` written as ``wp.array[X]`` and ``wp.arrayNd[X]``."""
    return _ARRAY_ANNOTATION_RE.sub(lambda m: f"wp.{m[1]}[{m[2]}]", source)


# (template name, text) -> the compiled template, or why it does not compile
_CACHE: dict[tuple[str, str], jinja2.Template | str] = {}


def _synthesize(template: Template, rng: random.Random) -> Rendered:
    """A program of the ``synthesized`` family: built by :mod:`generator.programs.synth`, not rendered from Jinja."""
    complexity = rng.choice(template.complexity)
    try:
        if template.meta.get("synthesizer") == "flow":
            source, params = compose(rng, complexity, str(template.meta["shape"]))
        else:
            source, params = _registry_program(rng, complexity)
    except Exception as exc:  # a synthesizer bug is counted like a template bug, never fatal
        raise RenderError(template, f"{type(exc).__name__}: {exc}") from exc
    return Rendered(source=_tidy(source), params=params, complexity=complexity)


_REGISTRY_TRIES = 12


def _registry_program(rng: random.Random, complexity: int) -> tuple[str, dict[str, Any]]:
    """A registry program without dead stores and, where one of :data:`_REGISTRY_TRIES` draws has none, without a
    degenerate operation (``x - x``, a constant condition: the registry synthesizer may still write one)."""
    for _ in range(_REGISTRY_TRIES):
        source, params = synthesize(rng, complexity)
        source = prune_dead_stores(source)
        if read_program(source).degenerate == 0:
            break
    return source, params


def compile_templates(templates: Sequence[Template]) -> None:
    """Compile ``templates`` now (Jinja compiles on first use; about 15 ms each).

    A process that compiles before it forks hands its compiled templates to every child. A
    template that does not compile is remembered as such: its draws are rejected, nothing raises.
    """
    for template in templates:
        if not template.error and not template.meta.get("synthesizer"):
            _compiled(template)


def _compiled(template: Template) -> jinja2.Template | str:
    key = (template.name, template.source)
    compiled = _CACHE.get(key)
    if compiled is None:
        try:
            compiled = _ENV.from_string(template.source)
        except jinja2.TemplateSyntaxError as exc:
            compiled = f"Jinja syntax error: {exc.message} (line {exc.lineno})"
        _CACHE[key] = compiled
    return compiled


def python_error(source: str) -> str:
    """Why ``source`` is not valid Python (``""`` when it is), without line numbers, so failures group.

    Compiling to bytecode is the cheapest full check Python offers (about 0.1 ms for a program here).
    """
    try:
        compile(source, "<warp-ir>", "exec", dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError included
        return f"renders invalid Python: {type(exc).__name__}: {exc.msg}"
    except ValueError as exc:  # null bytes
        return f"renders invalid Python: {exc}"
    return ""


def _tidy(source: str) -> str:
    """Collapse runs of blank lines to at most two and end with exactly one newline."""
    lines = [line.rstrip() for line in source.strip("\n").splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and len(out) >= 2 and not out[-1] and not out[-2]:
            continue
        out.append(line)
    return "\n".join(out) + "\n"
