"""A type-directed random program synthesizer over Warp's builtin registry (Csmith-style).

Instead of rendering templates, :func:`synthesize` builds a well-typed program from Warp's own
type rules: every builtin call is an overload Warp resolves (:mod:`generator.programs.synth.registry`,
from :func:`extraction.signatures.builtin_signatures`), arguments are generated for their exact types
(:mod:`generator.programs.synth.expressions`), statements and bounded control flow keep Warp's typing
rules (:mod:`generator.programs.synth.statements`), and :mod:`generator.programs.synth.program` assembles helpers
and one kernel. Modules:

* :mod:`~generator.programs.synth.types`: the value types, their Python spelling and literals.
* :mod:`~generator.programs.synth.registry`: the builtin signatures the synthesizer may call.
* :mod:`~generator.programs.synth.scope`: variables, arrays, helpers in scope.
* :mod:`~generator.programs.synth.expressions`: typed, domain-guarded expressions.
* :mod:`~generator.programs.synth.emit`: the line writer and local declarations.
* :mod:`~generator.programs.synth.statements`: statements and blocks.
* :mod:`~generator.programs.synth.resources`: mesh, BVH, hash grid and volume queries (ids as ``wp.uint64``).
* :mod:`~generator.programs.synth.tiles`: tile idioms (loads, maps, reductions, scans, sorts, solves, stores).
* :mod:`~generator.programs.synth.program`: helpers, the kernel, :func:`synthesize`.
"""
