"""Scoring models on warp-ir: the tasks and their prompts (:mod:`evaluation.tasks`), generated code compared
once normalised (:mod:`evaluation.normalize`), predictions files (:mod:`evaluation.predictions`) and pass@k
(:mod:`evaluation.passk`)."""
