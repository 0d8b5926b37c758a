"""Discover and parse warp-ir's Jinja kernel templates (``templates/**/*.py.j2``).

Every template opens with a Jinja comment holding a YAML header::

    {#- warp-ir
    family: arithmetic
    complexity: [1, 2]
    builtins: [sin, cos]
    params:
      dtype: [float32, float64]
      n_terms: {int: [1, 4]}
      gain: {float: [0.1, 10.0]}
    -#}

``family`` names the family it belongs to; ``complexity`` lists the levels it can
produce (one is sampled per program and passed to the template as
``complexity``); ``builtins`` lists the Warp builtins every program of this
template is expected to use (checked by the tests); ``params`` declares the
parameters sampled per program: a list is a uniform choice, ``{int: [lo, hi]}``
an inclusive integer range, ``{float: [lo, hi]}`` a uniform float rounded to two
significant digits, ``{bool: p}`` true with probability ``p``. Any other key (for example
``run: {tiled: 64}`` or ``run: {needs: [mesh]}``) is kept in :attr:`Template.meta`
for the runtime validator.

A template whose header cannot be parsed does not stop a build: :func:`load_templates` keeps it
as a broken :class:`Template` (family taken from its folder, :attr:`Template.error` set), and every
program drawn from it is rejected with that reason, so only builds that select its family see it.

``WARP_IR_TEMPLATES`` names another template folder to use instead of the shipped one (a template
author's working copy).

Beside the template files, the ``synthesized`` family holds one pseudo-template whose programs
come from :mod:`generator.programs.synth` (a type-directed synthesizer over Warp's builtin registry) rather
than from Jinja; its ``source`` is the synthesizer's own code, so a change to it changes
:func:`templates_digest` as a change to a template would. Families in :data:`OPT_IN_FAMILIES`
are drawn from only when a build names them (none today).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from common.errors import WarpIRError
from generator.programs import envcache
from generator.programs.flow.program import SHAPES as FLOW_SHAPES  # one pseudo-template each

TEMPLATES_DIR = Path(os.environ.get("WARP_IR_TEMPLATES") or Path(__file__).resolve().parents[2] / "templates")
SYNTH_DIR = Path(__file__).resolve().parent / "synth"
FLOW_DIR = Path(__file__).resolve().parent / "flow"
SYNTH_FAMILY = "synthesized"
# Families drawn from only when a build names them (none today: the synthesizer is in the default
# mix, with the share of draws set in generator.programs.sampler.SYNTHESIZED_SHARE).
OPT_IN_FAMILIES: tuple[str, ...] = ()
_HEADER_RE = re.compile(r"\A\{#-?\s*warp-ir\s*\n(?P<yaml>.*?)\n\s*-?#\}", re.DOTALL)


class TemplateError(WarpIRError, ValueError):
    """A template file has a missing or malformed header."""


@dataclass(frozen=True, slots=True)
class Template:
    """One kernel template and what it declares.

    Attributes:
        name: ``<family dir>/<file stem>`` (e.g. ``math/trig_chain``), stable across machines.
        family: The family it belongs to.
        path: Where the template file lives.
        complexity: Complexity levels it can produce (1–4).
        builtins: Warp builtins every program it renders is expected to call.
        params: Declared parameter specs (see the module docstring).
        source: The template text (header included; Jinja drops the comment).
        meta: Any other header keys (e.g. ``run:`` hints for the runtime validator).
        error: Why the template is broken (its header failed to parse); ``""`` for a sound one.
    """

    name: str
    family: str
    path: Path
    complexity: tuple[int, ...]
    builtins: tuple[str, ...]
    params: dict[str, Any] = field(hash=False, compare=False)
    source: str = field(repr=False, hash=False, compare=False)
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    error: str = field(default="", hash=False, compare=False)


def parse_template(path: Path, root: Path = TEMPLATES_DIR, headers: dict[str, Any] | None = None) -> Template:
    """Parse one template file's header.

    Args:
        path: The template file.
        root: The template folder (names are relative to it).
        headers: Parsed YAML headers by the SHA-256 of their text (:func:`load_templates` keeps them in the
            environment's cache, :mod:`generator.programs.envcache`): used when there, added to when parsed.

    Raises:
        TemplateError: The header is missing, is not valid YAML, or lacks ``family``.
    """
    text = path.read_text(encoding="utf-8")
    match = _HEADER_RE.match(text)
    if match is None:
        raise TemplateError(f"{path}: no '{{#- warp-ir ... -#}}' header at the top")
    digest = hashlib.sha256(match["yaml"].encode()).hexdigest()
    header = headers.get(digest) if headers is not None else None
    if header is None:
        try:
            header = yaml.safe_load(match["yaml"]) or {}
        except yaml.YAMLError as exc:
            raise TemplateError(f"{path}: bad YAML header: {exc}".splitlines()[0]) from exc
        if headers is not None and isinstance(header, dict):
            headers[digest] = header
    if not isinstance(header, dict) or not header.get("family"):
        raise TemplateError(f"{path}: header must declare 'family'")
    complexity = tuple(int(c) for c in header.get("complexity", [1]))
    if not complexity or any(c not in (1, 2, 3, 4) for c in complexity):
        raise TemplateError(f"{path}: complexity must be a list of levels 1-4")
    params = header.get("params") or {}
    for pname, spec in params.items():
        _check_param_spec(path, pname, spec)
    rel = path.relative_to(root).as_posix()
    return Template(
        name=rel.removesuffix(".py.j2"),
        family=str(header["family"]),
        path=path,
        complexity=complexity,
        builtins=tuple(header.get("builtins") or ()),
        params=params,
        source=text,
        meta={k: v for k, v in header.items() if k not in ("family", "complexity", "builtins", "params")},
    )


def _check_param_spec(path: Path, name: str, spec: Any) -> None:
    if isinstance(spec, list) and spec:
        return
    if isinstance(spec, dict) and len(spec) == 1:
        kind, value = next(iter(spec.items()))
        if kind in ("int", "float") and isinstance(value, list) and len(value) == 2:
            return
        if kind == "bool" and isinstance(value, (int, float)) and 0 <= value <= 1:
            return
    raise TemplateError(f"{path}: param '{name}' must be a non-empty list, {{int: [lo, hi]}}, "
                        "{float: [lo, hi]} or {bool: p}")


@cache
def load_templates(root: Path = TEMPLATES_DIR) -> tuple[Template, ...]:
    """All templates under ``root``, sorted by name (so sampling is stable across file systems).

    A template that fails to parse is kept as a broken one (see the module docstring).
    """
    paths = sorted(root.rglob("*.py.j2"), key=lambda p: p.relative_to(root).as_posix())
    # the YAML headers, parsed once per environment (pure-Python YAML: about 60 ms for the shipped templates)
    key = {"yaml": yaml.__version__, "code": envcache.file_digest(Path(__file__))}
    cached = envcache.load("template-headers", key, _valid_headers) or {}
    headers = dict(cached)
    templates = (*(_load(p, root, headers) for p in paths), *_synthesized())
    in_use = {digest: headers[digest] for digest in map(_header_digest, templates) if digest in headers}
    if in_use.keys() != cached.keys():  # new headers parsed, or headers no longer used: written again
        envcache.store("template-headers", key, in_use)
    return templates


def _header_digest(template: Template) -> str:
    match = _HEADER_RE.match(template.source)
    return hashlib.sha256(match["yaml"].encode()).hexdigest() if match else ""


def _valid_headers(data: Any) -> bool:
    return isinstance(data, dict) and all(isinstance(k, str) and isinstance(v, dict) for k, v in data.items())


def _synthesized() -> tuple[Template, ...]:
    """The pseudo-templates of the ``synthesized`` family: one per program shape of the flow synthesizer
    (:mod:`generator.programs.flow`), and ``synthesized/registry`` (:mod:`generator.programs.synth`, Warp's builtin
    registry explored by type: the rare builtins). Each one's ``source`` is its synthesizer's code."""
    def code(folder: Path) -> str:
        return "".join(f"# {p.name}\n{p.read_text(encoding='utf-8')}" for p in sorted(folder.glob("*.py")))

    flow = code(FLOW_DIR)
    shapes = tuple(Template(name=f"{SYNTH_FAMILY}/{shape}", family=SYNTH_FAMILY, path=FLOW_DIR, complexity=(1, 2, 3, 4),
                            builtins=(), params={}, source=flow, meta={"synthesizer": "flow", "shape": shape})
                   for shape in FLOW_SHAPES)
    registry = Template(name=f"{SYNTH_FAMILY}/registry", family=SYNTH_FAMILY, path=SYNTH_DIR, complexity=(1, 2, 3, 4),
                        builtins=(), params={}, source=code(SYNTH_DIR), meta={"synthesizer": "registry"})
    return (*shapes, registry)


def _load(path: Path, root: Path, headers: dict[str, Any] | None = None) -> Template:
    try:
        return parse_template(path, root, headers)
    except (TemplateError, OSError, UnicodeDecodeError) as exc:
        rel = path.relative_to(root)
        reason = (str(exc).removeprefix(f"{path}: ") if isinstance(exc, TemplateError)
                  else f"{type(exc).__name__}: {exc}")
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        return Template(name=rel.as_posix().removesuffix(".py.j2"), family=rel.parts[0] if len(rel.parts) > 1 else "",
                        path=path, complexity=(1,), builtins=(), params={}, source=text,
                        error=f"bad template header: {reason}")


def templates_digest(templates: tuple[Template, ...]) -> str:
    """SHA-256 (16 hex digits) over the names and texts of ``templates``: what a plan was made from."""
    h = hashlib.sha256()
    for t in templates:
        h.update(t.name.encode() + b"\0" + t.source.encode() + b"\0")
    return h.hexdigest()[:16]


def families(templates: tuple[Template, ...] | None = None) -> list[str]:
    """Sorted family names present in ``templates`` (default: all shipped templates and the synthesizer)."""
    return sorted({t.family for t in (templates if templates is not None else load_templates())})


def default_families(templates: tuple[Template, ...] | None = None) -> list[str]:
    """The families a build draws from when it names none: all but :data:`OPT_IN_FAMILIES`."""
    return [f for f in families(templates) if f not in OPT_IN_FAMILIES]
