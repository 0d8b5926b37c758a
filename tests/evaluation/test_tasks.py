"""Tasks and prompts: each prompt names what a correct answer must contain, and the answer is the reference."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest


@pytest.fixture(scope="module")
def rows(small_build) -> list[dict]:
    paths = sorted((small_build.out_dir / "data").glob("*.parquet"))
    return [r for p in paths for r in pq.read_table(p).to_pylist()]


def test_every_task_pairs_a_given_column_with_the_reference(rows):
    from evaluation.tasks import PROMPT_VERSION, TASKS, answer_code, messages, without_source_comments

    assert set(TASKS) == {"python→cpp_forward", "python→cuda_forward", "python→cpp_backward",
                          "python→cuda_backward", "cuda_forward→python"}
    assert PROMPT_VERSION
    for task in TASKS.values():
        for row in rows:
            chat = messages(task, row)
            if not row[task.target]:  # no backward code (``enable_backward=False``): no such question
                assert chat is None and task.backward
                continue
            assert chat is not None and [m["role"] for m in chat] == ["system", "user", "assistant"]
            system, user, answer = (m["content"] for m in chat)
            assert row["warp_version"] in system and f"Warp version: {row['warp_version']}" in user
            given = without_source_comments(row[task.given]) if task.decompile else row[task.given]
            assert given.rstrip("\n") in user  # the whole given code (the decompile task's without source comments)
            assert answer_code(answer) == row[task.target].rstrip("\n")
            assert answer.startswith(f"```{task.language}\n")


def test_codegen_prompts_name_the_entry_point_struct_and_helpers(rows):
    from evaluation.tasks import TASKS, entry_point, messages

    with_helper = next(r for r in rows if r["helper_functions"])
    for name in ("python→cpp_forward", "python→cuda_forward", "python→cpp_backward", "python→cuda_backward"):
        task = TASKS[name]
        for row in (rows[0], with_helper):
            user = messages(task, row)[1]["content"]
            symbol, kernel, suffix = entry_point(row[task.target], task.device, task.backward)
            assert kernel == row["kernel_name"]
            # the exact name the reference defines, for this device and pass
            device = "cpu" if "cpp" in name else "cuda"
            pass_ = "backward" if "backward" in name else "forward"
            assert symbol == f"{kernel}_{suffix}_{device}_kernel_{pass_}" and f"`{symbol}`" in user
            assert f"`{symbol}`" in row[task.target] or f" {symbol}(" in row[task.target]
            assert ("`wp_args_" in user) == (name == "python→cpp_forward")
            types = ", ".join(f"{a['name']}: {a['type']}" for a in row["arguments"])
            assert f"Arguments, with the concrete types this code is generated for: `{types}`" in user
            for helper in row["helper_functions"]:
                assert f"`{helper}`" in user
            named = "Program file name in Warp's line comments: `" in user
            assert named == ("// program_" in row[task.target]) == bool(row["helper_functions"])
            if named:
                file_comment = user.split("Program file name in Warp's line comments: `", 1)[1].split("`", 1)[0]
                assert f"// {file_comment}:" in row[task.target]


def test_decompile_prompt_names_the_kernel_and_its_arguments(rows):
    from evaluation.tasks import TASKS, messages, without_source_comments

    for row in rows:
        user = messages(TASKS["cuda_forward→python"], row)[1]["content"]
        args = ", ".join(f"{a['name']}: {a['type']}" for a in row["arguments"])
        assert f"def {row['kernel_name']}({args})" in user
        shown = without_source_comments(row["cuda_forward"])
        assert "```cuda\n" + shown.rstrip("\n") + "\n```" in user
        assert row["python_source"].strip() not in user  # the answer is not in the question
        # nor any line of it: Warp's comments copy each statement (`// out[i] = ...   <L 12>`) and the file name
        assert "<L " not in shown and "// program_" not in shown
        code = user.split("```cuda\n", 1)[1]
        statements = [ln.strip() for ln in row["python_source"].splitlines()
                      if ln.strip().startswith(("def ", "return ")) or " = " in ln]
        assert statements and not any(f"// {s}" in code for s in statements)
        assert "// forward" in shown  # Warp's own structure comments stay


def test_a_row_without_the_code_gets_no_chat(rows):
    from evaluation.tasks import TASKS, messages

    row = dict(rows[0], cuda_forward="", cpp_backward=None)
    assert messages(TASKS["python→cuda_forward"], row) is None
    assert messages(TASKS["cuda_forward→python"], row) is None
    assert messages(TASKS["python→cpp_backward"], row) is None
    assert messages(TASKS["python→cpp_forward"], row) is not None
    # code without the entry point the task asks for
    assert messages(TASKS["python→cpp_forward"], dict(rows[0], cpp_forward="int x;")) is None


def test_answer_code_takes_the_first_fenced_block():
    from evaluation.tasks import answer_code, task_named

    assert answer_code("Here:\n```cpp\nint a;\n```\nand ```cpp\nint b;\n```") == "int a;"
    assert answer_code("```\nx\n```") == "x"
    assert answer_code("no fence at all") == "no fence at all"
    assert answer_code("```python\nunterminated") == "unterminated"
    assert task_named("python-cpp-forward") is task_named("python→cpp_forward")
    with pytest.raises(KeyError, match="unknown task 'python→ptx'"):
        task_named("python→ptx")
