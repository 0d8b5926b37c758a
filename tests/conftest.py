"""Shared fixtures: Warp's kernel cache and the Hugging Face caches live in a temp dir per session."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="warp-ir-tests-"))
os.environ["HF_HOME"] = str(_TMP / "hf")
os.environ["HF_DATASETS_CACHE"] = str(_TMP / "hf" / "datasets")
os.environ["HF_HUB_OFFLINE"] = "1"
# `warp-ir build` from the command line scores no retrieval baseline in the tests (it would add about a minute to
# every such build); the tests that check it ask for it (tests/conftest.py small_build, tests/warp_ir/test_card.py)
os.environ["WARP_IR_BASELINE_ROWS"] = "0"
os.environ["WARP_IR_TEST_TMP"] = str(_TMP)
os.environ["WARP_CACHE_PATH"] = str(_TMP / "warp-cache")  # child processes (extract) use it too
os.environ["WARP_IR_CACHE_DIR"] = str(_TMP / "warp-ir-cache")  # generator.programs.envcache: never the user's

import warp as wp  # noqa: E402  (after the environment above)

wp.config.kernel_cache_dir = str(_TMP / "warp-cache")
wp.config.log_level = 30  # warnings only

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def prototype_records():
    """Records of tests/fixtures/prototype_kernels.py, by kernel name."""
    from extraction import extract_target

    return {r.kernel_name: r for r in extract_target(str(FIXTURES / "prototype_kernels.py"))}


@pytest.fixture(scope="session")
def small_build(tmp_path_factory):
    """A 60-program build over all families, written in the Hub layout, shared by the tests that read it (its card
    with a retrieval baseline of 2 rows a held-out split)."""
    from warp_ir.build import build

    out = tmp_path_factory.mktemp("build") / "warp-ir-data"
    return build(out, num_samples=60, seed=7, baseline_rows=2,
                 command="warp-ir build --out warp-ir-data --num-samples 60 --seed 7 --baseline-rows 2")


@pytest.fixture(scope="session")
def test_tokenizer(tmp_path_factory) -> Path:
    """A small word-level tokenizer built here (no network): one token per word and per run of punctuation."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "wp": 1, "def": 2, "var": 3, "adj": 4, "float32": 5, "(": 6, ")": 7, "::": 8}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()  # \w+ and runs of other non-space characters
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    tok.save(str(path))
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A site folder of small installed distributions (tests/fixtures/real_packages.py), on ``sys.path`` and on
    the children's ``PYTHONPATH``: mined as real packages are. Module-scoped: gone when the module's tests end."""
    import importlib
    import sys

    from tests.fixtures.real_packages import (
        FACTORY,
        FACTORY_CRASH,
        FACTORY_EXAMPLE,
        FACTORY_FAILS,
        KERNELS,
        NO_BACKWARD,
        OWN,
        RENAMED,
        WHOLE_KERNELS,
        WHOLE_SHAPES,
        make_distribution,
    )

    site = tmp_path_factory.mktemp("site")
    make_distribution(site, "wirt-alpha", {"kernels.py": KERNELS, "tests/__init__.py": "",
                                           "tests/test_alpha.py": "raise RuntimeError('tests are not mined')"})
    make_distribution(site, "wirt-beta", {"renamed.py": RENAMED, "own.py": OWN,
                                          "needs_torch.py": "import torch_is_not_here\n"},
                      license_expression=None, license_field="Apache Software License 2.0")
    make_distribution(site, "wirt-gpl", {"kernels.py": OWN}, license_expression="GPL-3.0-only")
    make_distribution(site, "wirt-noadj", {"kernels.py": NO_BACKWARD})
    make_distribution(site, "wirt-whole", {"shapes.py": WHOLE_SHAPES, "kernels.py": WHOLE_KERNELS})
    make_distribution(site, "wirt-factory", {"factories.py": FACTORY, "examples/example_gain.py": FACTORY_EXAMPLE,
                                             "examples/example_fails.py": FACTORY_FAILS,
                                             "examples/example_crash.py": FACTORY_CRASH})
    make_distribution(site, "wirt-nolicense", {"kernels.py": OWN}, license_expression=None)
    make_distribution(site, "wirt-crash", {"kernels.py": "import os\nos.abort()\n"})
    make_distribution(site, "wirt-hang", {"kernels.py": "import time\nwhile True:\n    time.sleep(0.01)\n"})
    make_distribution(site, "wirt-hog", {"kernels.py": "BIG = bytearray(2 * 1024**3)\nimport time\ntime.sleep(60)\n"})
    make_distribution(site, "wirt-unrelated", {"kernels.py": OWN}, requires=("numpy",))
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(site))
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p))
        importlib.invalidate_caches()
        yield site
    for name in [m for m in sys.modules if m.startswith("wirt_")]:
        del sys.modules[name]


@pytest.fixture()
def progress_lines(monkeypatch):
    """Collect the progress logger's INFO lines (as ``warp-ir`` shows them); call with ``bars`` to allow tqdm bars."""
    import logging

    import common.progress as progress_module

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    log, handler = logging.getLogger(progress_module.LOGGER), Collect()
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    def collect(bars: bool) -> list[str]:
        monkeypatch.setattr(progress_module, "_bars_allowed", bars)
        return lines

    yield collect
    log.removeHandler(handler)
    log.setLevel(level)
