"""Helpers every stage of warp-ir uses, importing nothing else of the project: errors and their first line
(:mod:`common.errors`), files written whole (:mod:`common.atomic`), batches (:mod:`common.batching`), progress
a person can see (:mod:`common.progress`).
"""
