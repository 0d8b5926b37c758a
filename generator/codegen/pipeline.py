"""Turn sampled programs into dataset rows: load from memory, generate code, cut, validate.

Each stage either passes a program on or drops it with a reason; every drop is
counted in a :class:`Counts`, so a build can say exactly what it lost and why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata

from extraction import ExtractionError, KernelRecord, Source, extract_module, loaded_source
from generator.programs.sampler import Program

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Counts:
    """What happened to every program of a shard (or a whole build, once merged)."""

    rows: int = 0
    by_family: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)  # "family: reason" -> count
    examples: dict[str, str] = field(default_factory=dict)  # reason -> one module that hit it

    def keep(self, family: str) -> None:
        """Count one row that made it to the dataset."""
        self.rows += 1
        self.by_family[family] += 1

    def reject(self, family: str, reason: str, module_name: str) -> None:
        """Count one dropped program."""
        key = f"{family}: {reason}"
        self.rejected[key] += 1
        self.examples.setdefault(key, module_name)
        logger.info("rejected %s (%s): %s", module_name, family, reason)

    def merge(self, other: Counts) -> None:
        """Add ``other`` into this."""
        self.rows += other.rows
        self.by_family.update(other.by_family)
        self.rejected.update(other.rejected)
        for k, v in other.examples.items():
            self.examples.setdefault(k, v)

    def to_json(self) -> dict:
        """Plain JSON form."""
        return {"rows": self.rows, "by_family": dict(self.by_family), "rejected": dict(self.rejected),
                "examples": self.examples}

    @classmethod
    def from_json(cls, data: dict) -> Counts:
        """Inverse of :meth:`to_json`."""
        return cls(rows=data["rows"], by_family=Counter(data["by_family"]), rejected=Counter(data["rejected"]),
                   examples=dict(data["examples"]))


@cache
def package_version(dist: str) -> str:
    """Installed version of a distribution ("" when it is not installed)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


# names that differ per program: in-memory file names (program_HASH.py, with the line) and module names
_PER_PROGRAM_RE = re.compile(r"\bprogram_[0-9a-f]{16}\.py(?:, line \d+)?|\bwarp_ir_(?:check_)?\d+(?:_\d+)?\b")


def reason_of(exc: BaseException) -> str:
    """A short, stable reason for a rejection: the exception type and its first line, without ids."""
    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r' \(in function "[^"]*"\)', "", first)  # the kernel name differs per program
    first = _PER_PROGRAM_RE.sub(lambda m: "<program>" if m.group(0).startswith("program_") else "<module>", first)
    return f"{type(exc).__name__}: {first}"[:200]


def record_id(source: str) -> str:
    """Stable row id: the first 16 hex digits of the SHA-256 of the program source."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def compile_program(program: Program, targets: Sequence[str]) -> KernelRecord:
    """Load one program from memory, generate its code for ``targets`` and cut its record.

    Raises:
        ExtractionError: Warp rejected the program, or it did not define exactly one kernel.
        Exception: Anything the program raised at import time.
    """
    with loaded_source(program.source, program.module_name) as module:
        records = extract_module(module, targets, program_source=program.source)
    if len(records) != 1:
        raise ExtractionError(f"expected one kernel, found {len(records)}")
    rec = records[0]
    rec.id = record_id(program.source)
    rec.family = program.template.family
    rec.template = program.template.name
    rec.complexity = program.rendered.complexity
    rec.params = json.dumps(program.rendered.params, sort_keys=True)
    rec.run_hints = dict(program.template.meta.get("run") or {})
    rec.source = Source(kind="generated", package="warp-ir", package_version=package_version("warp-ir-dataset"),
                        path=f"templates/{program.template.name}.py.j2")
    rec.module_name = ""  # module names carry the sample index: not part of the data
    return rec


def records_for(programs: Sequence[Program], targets: Sequence[str], counts: Counts) -> Iterator[KernelRecord]:
    """Compile ``programs`` in order, yielding records and counting every rejection in ``counts``.

    Rows are not counted here: later stages may still reject a record (see :meth:`Counts.keep`).
    """
    for program in programs:
        try:
            rec = compile_program(program, targets)
        except Exception as exc:  # a program Warp rejects is data about Warp, never fatal
            counts.reject(program.template.family, reason_of(exc), program.module_name)
            continue
        yield rec
