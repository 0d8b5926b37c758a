"""Split names and the templates held out whole (constants only: the command line imports this at start-up).

``test_unseen`` holds the rows of whole templates (and synthesizer shapes) that no other split has a row of: it
measures structural generalisation, apart from the in-distribution held-out splits (``validation``, ``test``), whose
rows come from the same templates as train but have no near-twin there by either of the two structural measures.
"""

from __future__ import annotations

DEFAULT_SPLITS: dict[str, float] = {"train": 0.9, "validation": 0.05, "test": 0.05}
UNSEEN_SPLIT = "test_unseen"
# Templates held out by default: one per family that keeps others in train, and one synthesizer shape.
DEFAULT_UNSEEN_TEMPLATES: tuple[str, ...] = (
    "atomics/bitmask", "control_flow/where_select", "linalg/frames", "noise/curl", "physics/sph",
    "synthesized/scatter",
)
# Near-twins at this estimated Jaccard or above, by either measure (the token MinHash and the syntax-tree paths of
# generator.planning.astpaths), never sit in two splits: the card reports held-out leakage at this threshold.
SPLIT_TWIN_THRESHOLD = 0.8
