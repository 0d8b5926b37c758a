"""The seeded random stream templates and the synthesizer draw from: names, literals, choices."""

from __future__ import annotations

import random
from typing import Any

from generator.programs import vocab


class TemplateRng:
    """The seeded random stream a template may draw from while rendering.

    Wraps :class:`random.Random` with helpers for realistic names and literals; every
    draw is deterministic given the program's seed.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    # plain draws ---------------------------------------------------------------
    def choice(self, seq: Any) -> Any:
        """One element of ``seq``."""
        return self._rng.choice(list(seq))

    def sample(self, seq: Any, k: int) -> list:
        """``k`` distinct elements of ``seq``."""
        return self._rng.sample(list(seq), k)

    def randint(self, lo: int, hi: int) -> int:
        """Integer in ``[lo, hi]``."""
        return self._rng.randint(lo, hi)

    def uniform(self, lo: float, hi: float, digits: int | None = None) -> float:
        """Float in ``[lo, hi]`` rounded to ``digits`` decimals, by default to two significant digits (a value people
        write: 0.35, not 0.382)."""
        value = self._rng.uniform(lo, hi)
        return round(value, digits) if digits is not None else float(f"{value:.2g}")

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self._rng.random() < p

    def shuffled(self, seq: Any) -> list:
        """A shuffled copy of ``seq``."""
        items = list(seq)
        self._rng.shuffle(items)
        return items

    # names ---------------------------------------------------------------------
    def name(self, kind: str = "local") -> str:
        """A fresh identifier of a kind (``scalar``, ``vector``, ``matrix``, ``param``, ``local``).

        Names are unique within one program; a numeric suffix is added when a vocabulary runs out.
        """
        pool = {
            "scalar": vocab.SCALAR_FIELDS, "vector": vocab.VECTOR_FIELDS, "matrix": vocab.MATRIX_FIELDS,
            "param": vocab.SCALAR_PARAMS, "local": vocab.LOCALS,
        }[kind]
        free = [n for n in pool if n not in self._used]
        name = self._rng.choice(free) if free else f"{self._rng.choice(pool)}_{len(self._used)}"
        self._used.add(name)
        return name

    def pick(self, options: Any) -> str:
        """A name from ``options`` that this program has not used yet, reserved from now on.

        For fixed vocabularies written in a template, so they never clash with :meth:`name`.
        """
        free = [o for o in options if o not in self._used] or [f"{o}_{len(self._used)}" for o in options]
        name = self._rng.choice(free)
        self._used.add(name)
        return name

    def names(self, kind: str, k: int) -> list[str]:
        """``k`` fresh identifiers of one kind."""
        return [self.name(kind) for _ in range(k)]

    def kernel_name(self) -> str:
        """A verb_noun kernel name such as ``integrate_particles``."""
        return f"{self._rng.choice(vocab.KERNEL_VERBS)}_{self._rng.choice(vocab.KERNEL_NOUNS)}"

    # literals ------------------------------------------------------------------
    def literal(self, dtype: str = "float32", lo: float = 0.1, hi: float = 4.0) -> str:
        """A literal of ``dtype`` as Warp source, e.g. ``wp.float64(1.25)`` or ``1.25``."""
        if dtype in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "int"):
            value = str(self._rng.randint(max(int(lo), 1), max(int(hi), 2)))
            return value if dtype in ("int32", "int") else f"wp.{dtype}({value})"
        value = repr(float(f"{self._rng.uniform(lo, hi):.2g}"))  # two significant digits, as people write them
        return value if dtype in ("float32", "float") else f"wp.{dtype}({value})"
