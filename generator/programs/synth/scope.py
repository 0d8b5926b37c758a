"""What a program being synthesized has in scope: variables, arrays, helpers, thread indices."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from generator.programs.rng import TemplateRng


@dataclass(frozen=True, slots=True)
class Var:
    """A named value: a local, a parameter or a loop counter.

    Attributes:
        name: Its identifier.
        type: Its type name.
        mutable: Whether statements may assign it (parameters and loop counters may not).
    """

    name: str
    type: str
    mutable: bool = True


@dataclass(frozen=True, slots=True)
class ArrayArg:
    """A kernel array argument: ``name: wp.array(dtype=dtype, ndim=ndim)``."""

    name: str
    dtype: str
    ndim: int


@dataclass(frozen=True, slots=True)
class Resource:
    """A ``wp.uint64`` kernel argument holding the id of a mesh, BVH, hash grid or volume.

    Attributes:
        name: The argument's name (it contains its kind, as ``extraction.inputs`` also reads names).
        kind: ``mesh``, ``bvh``, ``hash_grid`` or ``volume``.
        value: For volumes, the voxel type: ``float32``, ``vec3f`` or ``int32`` (one per program:
            the run validator builds one volume type from the calls it sees in the source).
    """

    name: str
    kind: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class Helper:
    """A ``@wp.func`` the program defines: callable like a builtin (never recursively)."""

    name: str
    arg_types: tuple[str, ...]
    return_type: str


@dataclass(slots=True)
class Context:
    """Mutable state of one synthesis: the random stream, names, and what is in scope.

    Attributes:
        rng: The program's random stream (every draw goes through it).
        names: Fresh identifiers (vocabulary names, unique per program).
        allowed: Types expressions may have (the program's float type, ints, bool, composites).
        float_type: The program's main float type (``float32`` or ``float64``).
        frames: Variables by block: the innermost last; a block's variables die with it.
        arrays: Array arguments readable here (none in helpers).
        tids: Thread index names of the kernel (empty in helpers).
        resources: Mesh/BVH/hash grid/volume ids the kernel takes (none in helpers).
        tiles: Whether the kernel uses tiles (tile statements at its top level).
        helpers: Helpers callable from here (those defined earlier).
        used: How often each builtin was called (``wp.<name>(`` and operators, by builtin name).
        helper_calls: How often each helper was called (Warp only builds helpers that are called).
        resource_uses: How often each resource was queried (each one is, at least once).
        loop_depth: How many loops enclose the current statement.
        depth: How many blocks (``if``/loop bodies) enclose the current statement.
    """

    rng: random.Random
    names: TemplateRng
    allowed: tuple[str, ...]
    float_type: str
    frames: list[list[Var]] = field(default_factory=lambda: [[]])
    arrays: list[ArrayArg] = field(default_factory=list)
    tids: list[str] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    tiles: bool = False
    helpers: list[Helper] = field(default_factory=list)
    used: Counter = field(default_factory=Counter)
    helper_calls: Counter = field(default_factory=Counter)
    resource_uses: Counter = field(default_factory=Counter)
    loop_depth: int = 0
    depth: int = 0

    def variables(self, type_name: str | None = None, mutable: bool = False) -> list[Var]:
        """Variables in scope (of one type, and/or assignable), outermost first."""
        return [v for frame in self.frames for v in frame
                if (type_name is None or v.type == type_name) and (v.mutable or not mutable)]

    def declare(self, name: str, type_name: str, mutable: bool = True) -> Var:
        """Bring a variable into the innermost block."""
        var = Var(name, type_name, mutable)
        self.frames[-1].append(var)
        return var

    def weighted(self, options: list[tuple[float, str]]) -> str:
        """One label of ``options`` (``(weight, label)`` pairs), drawn in proportion to its weight."""
        r = self.rng.random() * sum(w for w, _ in options)
        for w, label in options:
            r -= w
            if r <= 0:
                return label
        return options[-1][1]

    def push(self) -> None:
        """Enter a block."""
        self.frames.append([])
        self.depth += 1

    def pop(self) -> None:
        """Leave a block, forgetting what it declared."""
        self.frames.pop()
        self.depth -= 1
