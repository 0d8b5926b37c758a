"""The evaluation tasks and their prompts: one prompt template per task, versioned, in this one module.

A task names what a model is given (a column of a row) and what it must write (another column):

==========================  ==================  ==================  ===================================
task                        given               writes              answer
==========================  ==================  ==================  ===================================
``python→cpp_forward``      ``python_source``   ``cpp_forward``     Warp's CPU forward kernel (C++)
``python→cuda_forward``     ``python_source``   ``cuda_forward``    Warp's CUDA forward kernel
``python→cpp_backward``     ``python_source``   ``cpp_backward``    Warp's CPU adjoint kernel (C++)
``python→cuda_backward``    ``python_source``   ``cuda_backward``   Warp's CUDA adjoint kernel
``cuda_forward→python``     ``cuda_forward``    ``python_source``   a Warp program generating the same
==========================  ==================  ==================  ===================================

A prompt says which Warp version generated the reference, the kernel's arguments with the concrete
types the code is generated for (one overload of a generic kernel), and which names the answer must
use (the kernel's entry point with its module-hash suffix, the argument struct, the helpers, the
program's file name in Warp's line comments), so that an exactly correct answer is possible.
The answer is one fenced code block. The decompile task's CUDA is shown without Warp's comments that copy the
Python program (:func:`without_source_comments`). Every row, prediction and result that uses a prompt
records :data:`PROMPT_VERSION`; a change to any template below bumps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PROMPT_VERSION = "warp-ir-prompts-3"  # 3: the decompile task's CUDA without Warp's source-line comments

_ENTRY = re.compile(r"\b(?P<kernel>\w+?)_(?P<hash>[0-9a-f]{8})_(?P<device>cpu|cuda)"
                    r"_kernel_(?P<pass>forward|backward)\b")
_FILE = re.compile(r"^\s*// (program_[0-9a-f]{16}\.py|<[^>\n]+>):\d+\s*$", re.MULTILINE)
# Warp's comments that repeat the Python program: each statement (``// out[i] = a[i] * k   <L 12>``) and the file
# marker (``// program_0123456789abcdef.py:4``)
_SOURCE_LINE = re.compile(r"^[ \t]*//.*<L \d+>[ \t]*\n?", re.MULTILINE)
_FILE_LINE = re.compile(r"^[ \t]*// (?:\S+\.py|<[^>\n]+>):\d+[ \t]*\n?", re.MULTILINE)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)(?:\n```|\Z)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Task:
    """One evaluation task.

    Attributes:
        name: Its name, ``given→writes`` (``python→cpp_forward``).
        slug: Its name in file and configuration names (``python-cpp-forward``).
        given: The row column shown to the model.
        target: The row column the model must write (the reference answer).
        language: The answer's code-fence language (``cpp``, ``cuda``, ``python``).
    """

    name: str
    slug: str
    given: str
    target: str
    language: str

    @property
    def device(self) -> str:
        """``cpu`` or ``cuda``: where the generated code (given or written) runs."""
        return "cpu" if "cpp" in (self.given + self.target) else "cuda"

    @property
    def backward(self) -> bool:
        """Whether the code to write is the adjoint (backward) kernel."""
        return self.target.endswith("_backward")

    @property
    def decompile(self) -> bool:
        """Whether the model writes Python from generated code."""
        return self.target == "python_source"


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("python→cpp_forward", "python-cpp-forward", "python_source", "cpp_forward", "cpp"),
    Task("python→cuda_forward", "python-cuda-forward", "python_source", "cuda_forward", "cuda"),
    Task("python→cpp_backward", "python-cpp-backward", "python_source", "cpp_backward", "cpp"),
    Task("python→cuda_backward", "python-cuda-backward", "python_source", "cuda_backward", "cuda"),
    Task("cuda_forward→python", "cuda-forward-python", "cuda_forward", "python_source", "python"),
)}
BY_SLUG: dict[str, Task] = {t.slug: t for t in TASKS.values()}


def task_named(name: str) -> Task:
    """The task called ``name`` (or by its slug); ``KeyError`` with the known names otherwise."""
    task = TASKS.get(name) or BY_SLUG.get(name)
    if task is None:
        raise KeyError(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    return task


def entry_point(code: str, device: str, backward: bool) -> tuple[str, str, str] | None:
    """``(symbol, kernel key, module-hash suffix)`` of the kernel entry point defined in generated ``code``."""
    wanted = ("cpu" if device == "cpu" else "cuda", "backward" if backward else "forward")
    for m in _ENTRY.finditer(code):
        if (m["device"], m["pass"]) == wanted:
            return m[0], m["kernel"], m["hash"]
    return None


def without_source_comments(code: str) -> str:
    """Generated code without the comments in which Warp copies the Python program (its statements, line by line,
    and its file name): given to a model that must write that program, they would be the answer."""
    return _FILE_LINE.sub("", _SOURCE_LINE.sub("", code))


def file_name(code: str) -> str:
    """The program's file name as Warp's line comments in generated ``code`` give it (``""`` if none)."""
    m = _FILE.search(code)
    return m[1] if m else ""


_SYSTEM_CODEGEN = (
    "You are the code generator of NVIDIA Warp {warp_version}. Given a Warp Python program, you write exactly "
    "the {language_name} code Warp {warp_version} generates for one of its kernels, as Warp prints it: the same "
    "names, temporaries, line comments and layout."
)
_USER_CODEGEN = """\
Warp version: {warp_version}
Target: {target_name}, {pass_name}
Kernel: `{kernel}`; entry point to write: `{symbol}` (module hash suffix `{hash}`)
Arguments, with the concrete types this code is generated for: {arguments}
{parts}{file}
Reply with the code only, in one ```{language} block.

```python
{given}
```"""
_SYSTEM_DECOMPILE = (
    "You write NVIDIA Warp Python programs. Given the CUDA code that Warp {warp_version} generated for a kernel, "
    "you write a Warp program whose kernel Warp compiles to code that computes the same."
)
_USER_DECOMPILE = """\
Warp version: {warp_version}
Write a Warp Python program: `import warp as wp`, any `@wp.func` helpers and structs it needs, and
`@wp.kernel def {kernel}({arguments})`, with these arguments in this order, launched over {launch_dim} dimension(s).
Its generated CUDA forward kernel must compute the same as this one.
Reply with the code only, in one ```python block.

```cuda
{given}
```"""


def _parts(task: Task, row: dict[str, Any], kernel: str, suffix: str) -> str:
    helpers = list(row.get("helper_functions") or [])
    parts = []
    if helpers:
        pre = "adjoints of the " if task.backward else ""
        parts.append(f"{pre}`@wp.func` helpers it calls ({', '.join(f'`{h}`' for h in helpers)}), as Warp names them")
    if task.device == "cpu" and not task.backward:
        parts.append(f"the argument struct `wp_args_{kernel}_{suffix}`")
    parts.append("the entry point")
    return "Write, in this order: " + "; ".join(parts) + "."


def messages(task: Task, row: dict[str, Any]) -> list[dict[str, str]] | None:
    """The chat of one row for ``task``: system, user, and the reference as the assistant's answer.

    Returns ``None`` when the row lacks what the task needs (an empty column, no entry point).
    """
    given, target = row.get(task.given) or "", row.get(task.target) or ""
    if not given.strip() or not target.strip():
        return None
    version = row.get("warp_version") or ""
    arguments = ", ".join(f"{a['name']}: {a['type']}" for a in row.get("arguments") or [])
    if task.decompile:
        system = _SYSTEM_DECOMPILE.format(warp_version=version)
        user = _USER_DECOMPILE.format(warp_version=version, kernel=row["kernel_name"], arguments=arguments,
                                      launch_dim=row.get("launch_dim") or 1,
                                      given=without_source_comments(given).rstrip("\n"))
    else:
        found = entry_point(target, task.device, task.backward)
        if found is None:
            return None
        symbol, kernel, suffix = found
        cpu = task.device == "cpu"
        system = _SYSTEM_CODEGEN.format(warp_version=version, language_name="C++ (CPU)" if cpu else "CUDA")
        user = _USER_CODEGEN.format(
            warp_version=version, target_name="CPU (C++)" if cpu else "CUDA",
            pass_name="backward (adjoint) kernel" if task.backward else "forward kernel", kernel=kernel,
            symbol=symbol, hash=suffix, arguments=f"`{arguments}`" if arguments else "none",
            parts=_parts(task, row, kernel, suffix),
            file=f"\nProgram file name in Warp's line comments: `{name}`" if (name := file_name(target)) else "",
            language=task.language, given=given.rstrip("\n"))
    answer = f"```{task.language}\n{target.rstrip(chr(10))}\n```"
    return [{"role": "system", "content": system}, {"role": "user", "content": user},
            {"role": "assistant", "content": answer}]


def answer_code(text: str) -> str:
    """The code of a model's answer: the first fenced block's body, or the whole text when it has none."""
    m = _FENCE.search(text or "")
    return m[2] if m else (text or "")
