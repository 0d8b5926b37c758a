"""A predictions file: each bad line reported with its number, the rest kept; an unusable file is one error."""

from __future__ import annotations

import json

import pytest

KNOWN = {("a1", "python→cpp_forward"), ("b2", "python→cpp_forward"), ("a1", "cuda_forward→python")}


def _known(row_id, task):
    return (row_id, task.name) in KNOWN


def _read(tmp_path, lines):
    from evaluation.predictions import read_predictions

    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return read_predictions(path, _known, "0.3.1")


def test_good_lines_are_kept_and_bad_lines_named(tmp_path):
    from evaluation.tasks import PROMPT_VERSION

    good = {"id": "a1", "task": "python→cpp_forward", "predictions": ["x", "y"], "prompt_version": PROMPT_VERSION}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"id": "zz", "task": "python→cpp_forward", "predictions": ["x"]}),
        json.dumps({"id": "a1", "task": "python→ptx", "predictions": ["x"]}),
        json.dumps({"id": "b2", "task": "python→cpp_forward"}),
        "",
        json.dumps({"id": "b2", "task": "python-cpp-forward", "predictions": "one answer", "builder_version": "0.2.0"}),
        json.dumps({"id": "a1", "task": "python→cpp_forward", "predictions": ["again"]}),
        json.dumps([1, 2]),
        json.dumps({"id": "b2", "task": "python→cpp_forward", "predictions": []}),
        json.dumps({"id": "a1", "task": "cuda-forward-python", "predictions": "import warp as wp"}),
    ]
    got = _read(tmp_path, lines)
    assert got.lines == 10
    assert [(p.line, p.id, p.task.name, p.texts) for p in got.items] == [
        (1, "a1", "python→cpp_forward", ("x", "y")), (11, "a1", "cuda_forward→python", ("import warp as wp",))]
    reasons = dict(got.skipped)
    assert sorted(reasons) == [2, 3, 4, 5, 7, 8, 9, 10]
    assert reasons[2].startswith("not JSON: ")
    assert reasons[3] == "unknown id 'zz' for python→cpp_forward in this data"
    assert reasons[4].startswith("unknown task 'python→ptx'")
    assert reasons[5] == "missing field 'predictions'"
    assert reasons[7] == "builder_version '0.2.0' is not this dataset's '0.3.1'"
    assert reasons[8] == "a second line for id 'a1' and python→cpp_forward (the first is line 1)"
    assert reasons[9] == "not a JSON object: [1, 2]"
    assert reasons[10] == "predictions must be a string or a non-empty list of strings"


@pytest.mark.parametrize("content, message", [
    (b"", "holds no predictions"),
    (b"\xff\xfe\x00", "not UTF-8 text"),
    (b'{"id": "zz", "task": "python\\u2192cpp_forward", "predictions": ["x"]}\n',
     "none of its 1 line(s) can be scored (line 1: unknown id 'zz'"),
])
def test_an_unusable_file_is_one_error(tmp_path, content, message):
    from evaluation.predictions import PredictionsError, read_predictions

    path = tmp_path / "p.jsonl"
    path.write_bytes(content)
    with pytest.raises(PredictionsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_predictions(path, _known, "0.3.1")
    with pytest.raises(PredictionsError, match="cannot read"):
        read_predictions(tmp_path / "missing.jsonl", _known, "0.3.1")
