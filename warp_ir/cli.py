"""The ``warp-ir`` command line: build, extract, stats, views, eval, publish, check-templates."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from common.progress import LOGGER, allow_bars
from extraction.record import TARGETS, VALIDATION_LEVELS
from generator.planning.splits import DEFAULT_UNSEEN_TEMPLATES
from warp_ir.cli_types import (
    count_type,
    folder_type,
    integer_type,
    ks_type,
    names_type,
    num_samples_type,
    output_type,
    positive_type,
    ratios_type,
    seconds_type,
    shown,
    targets_type,
    twin_threshold_type,
    unseen_templates_type,
    views_type,
)
from warp_ir.commands import (
    cmd_build,
    cmd_check_templates,
    cmd_eval,
    cmd_extract,
    cmd_publish,
    cmd_stats,
    cmd_views,
)
from warp_ir.crash import mistake_in, report_crash


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (``warp-ir build: error: ...``) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print one line naming the command and the mistake, then exit with status 2.

        A word of the message longer than 100 characters (a value argparse quotes whole, such as an
        invalid choice) is shown short, as the option types show theirs.
        """
        message = re.sub(r"\S{101,}", lambda m: shown(m.group(0).strip("'\"")), message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``warp-ir``."""
    p = _Parser(prog="warp-ir", description="Build the warp-ir dataset: Warp kernels paired "
                                "with the C++/CUDA code Warp generates for them.")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log every rejection and shard (progress as log lines, no bars)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="show no progress (bars on a terminal, a line every few seconds otherwise): warnings only")
    p.add_argument("--debug", action="store_true",
                   help="let an error escape with its full traceback (no crash log), a mistake of yours too")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the dataset into a Hub-ready folder")
    b.add_argument("--out", required=True, type=output_type,
                   help="output folder: new, empty, or made by an earlier warp-ir build (see --overwrite); with "
                   "--engine ray also an fsspec URL every node can write to (s3://bucket/warp-ir, file:///shared/x)")
    b.add_argument("--overwrite", action="store_true",
                   help="build into a folder that holds other files too: README.md, build_info.json and same-named "
                   "data files and figures are replaced (yours are moved to OUT/warp-ir-backup-<time>/), nothing else "
                   "is touched; never a project checkout (.git, pyproject.toml)")
    b.add_argument("--config", choices=("synthetic", "real"), default="synthetic",
                   help="synthetic: programs from the templates (data/); real: kernels mined from real Warp code "
                   "(real/)")
    b.add_argument("--packages", type=names_type, default=None,
                   help="real config: installed distributions to mine (default: warp-lang and every installed "
                   "distribution that depends on it)")
    b.add_argument("--test-packages", type=names_type, default=None,
                   help="real config: packages whose rows form the test split, the rest is train (default "
                        "mujoco-warp, mink-warp, nvalchemi-toolkit-ops)")
    b.add_argument("--fem-rows", action="store_true",
                   help="real config: also add the kernels warp.fem generates for warp-ir's Poisson example (family "
                        "fem): not whole problems (a row's text is the integrand; its code depends on the fields it "
                        "is integrated against), so off by default")
    b.add_argument("--allow-license", type=names_type, action="extend", default=None, metavar="SPDX",
                   help="real config: also mine code under these SPDX licenses (default: permissive ones only)")
    b.add_argument("--package-timeout", type=seconds_type, default=None,
                   help="real config: seconds one package may take to mine (default 1800)")
    b.add_argument("--num-samples", type=num_samples_type, default=1000,
                   help="distinct programs to draw (default 1000; at most 1,000,000,000)")
    b.add_argument("--seed", type=integer_type, default=0)
    b.add_argument("--families", type=names_type, default=None,
                   help="comma-separated families (default: every template family and 'synthesized', the "
                   "type-directed synthesizer)")
    b.add_argument("--targets", type=targets_type, default=list(TARGETS), help="cpu,cuda (default both)")
    b.add_argument("--validate", choices=VALIDATION_LEVELS, default="codegen")
    b.add_argument("--num-proc", type=positive_type, default=1, help="worker processes")
    b.add_argument("--shard-size", type=positive_type, default=100, help="programs per shard")
    b.add_argument("--split-ratios", type=ratios_type, default=None,
                   help="train,validation,test (default 0.9,0.05,0.05)")
    b.add_argument("--fuzzy-dedup", action=argparse.BooleanOptionalAction, default=True,
                   help="drop a program whose near-twin is already kept (default: on)")
    b.add_argument("--round-trip", action=argparse.BooleanOptionalAction, default=True,
                   help="check that every row's Python text alone, saved as a file, regenerates its code, in a "
                   "fresh process (recorded in validation.round_trip; default: on)")
    b.add_argument("--twin-threshold", type=twin_threshold_type, default=None,
                   help="estimated Jaccard of normalised 5-token shingles from which programs are near-twins "
                   "(kept in one split; default 0.85)")
    b.add_argument("--unseen-templates", type=unseen_templates_type, default=None,
                   help="templates (family/name, or synthesized/<shape>) whose rows form the split test_unseen and "
                   "no other: structural generalisation (default: " + ",".join(DEFAULT_UNSEEN_TEMPLATES)
                   + " where their families are built; 'none' for no such split)")
    b.add_argument("--keep-cache", action="store_true", help="keep the cache and finished shards in OUT/.warp-ir-cache")
    b.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: datasets' builder with --num-proc processes; ray: Ray tasks, each writing one Parquet "
                   "file of the same rows (see --rows-per-file)")
    b.add_argument("--address", default=None, help="ray engine: address of a running Ray cluster "
                   "(default: start a local Ray instance)")
    b.add_argument("--rows-per-file", type=positive_type, default=None,
                   help="ray engine: programs per Parquet file, each written by one task (default 2000)")
    b.add_argument("--max-in-flight", type=positive_type, default=None,
                   help="ray engine: file tasks submitted at once (default: two per CPU of the cluster)")
    b.add_argument("--views", type=views_type, default=None,
                   help="also write chat views, one configuration per evaluation task (chat/; synthetic config)")
    b.add_argument("--baseline-rows", type=count_type, default=None,
                   help="the card's retrieval baseline: held-out rows a split answered by their nearest train row's "
                   "code, for every task, and scored (default 20 for a folder, or $WARP_IR_BASELINE_ROWS; 0 for a "
                   "URL; 0: none)")
    _add_length_options(b)

    w = sub.add_parser("views", help="write (or rewrite) the chat views of a built folder: chat/, card, build_info")
    w.add_argument("folder", type=folder_type)
    _add_length_options(w)

    e = sub.add_parser("extract", help="extract the generated code of the kernels in a file or module; "
                       "imports (runs) the target's top-level code, in a child process with a time limit")
    e.add_argument("target", help="a .py file or an importable module name")
    e.add_argument("--targets", type=targets_type, default=list(TARGETS))
    e.add_argument("--out", type=Path, default=None, help="JSONL file (default: standard output)")
    e.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists")
    e.add_argument("--timeout", type=seconds_type, default=120.0,
                   help="seconds the target's import and extraction may take (default 120)")

    s = sub.add_parser("stats", help="statistics of a built folder")
    s.add_argument("folder", type=Path)
    s.add_argument("--config", choices=("synthetic", "real"), default="synthetic")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--diversity", action="store_true",
                   help="also count near-twins (MinHash of normalised programs; seconds per 10,000 rows)")
    s.add_argument("--tokenizer", default=None, help="also count tokens per code column with this Hugging Face "
                   "tokenizer (a Hub name, or a local tokenizer.json or folder holding one)")

    v = sub.add_parser("eval", help="score a model's predictions (a JSON-lines file) against a built folder")
    v.add_argument("predictions", type=Path, help="one JSON object a line: id, task, predictions (a list of answers)")
    v.add_argument("--data", type=folder_type, required=True, help="a folder warp-ir build wrote")
    v.add_argument("--config", choices=("synthetic", "real"), default="synthetic")
    v.add_argument("--split", default="test")
    v.add_argument("--k", type=ks_type, default=None, help="pass@k for these k (default: 1,5,10)")
    v.add_argument("--num-proc", type=positive_type, default=1, help="processes scoring at once")
    v.add_argument("--seed", type=integer_type, default=None,
                   help="seed of the inputs kernels are launched on (default: a fresh random one, recorded in the "
                        "report and the results; pass it again to reproduce a run)")
    v.add_argument("--isolation", choices=("namespaces", "process"), default="namespaces",
                   help="how answers are boxed: Linux namespaces through bubblewrap (default; the run stops when "
                        "they cannot be made), or plain processes (only for answers you trust)")
    v.add_argument("--out", type=Path, default=None, help="write one JSON line per prediction here (a new file)")
    v.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    v.add_argument("--json", action="store_true", help="print the report as JSON")

    u = sub.add_parser("publish", help="upload a built folder's own files (those build_info.json lists) to the "
                                       "Hugging Face Hub")
    u.add_argument("folder", type=Path)
    u.add_argument("--repo", required=True, help="ORG/NAME")
    u.add_argument("--private", action="store_true")
    u.add_argument("--dry-run", action="store_true",
                   help="check the folder and the name, list what would be uploaded and what is left behind; "
                        "send nothing (no token needed)")

    c = sub.add_parser("check-templates", help="render and compile programs of each template")
    c.add_argument("--families", type=names_type, default=None)
    c.add_argument("-n", type=positive_type, default=50, help="programs per template")
    return p


def _add_length_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokenizer", default=None, help="count tokens with this Hugging Face tokenizer (a Hub name, or "
                   "a local tokenizer.json or folder holding one): the card shows their percentiles")
    p.add_argument("--max-chars", type=positive_type, default=None,
                   help="chat views: leave out (and count) chats longer than this many characters")
    p.add_argument("--max-tokens", type=positive_type, default=None,
                   help="chat views: leave out (and count) chats longer than this many tokens (needs --tokenizer)")


COMMANDS = {"build": cmd_build, "extract": cmd_extract, "stats": cmd_stats, "publish": cmd_publish,
            "check-templates": cmd_check_templates, "views": cmd_views, "eval": cmd_eval}
# Commands that never publish: the secrets of the environment (HF_TOKEN, *_KEY, cloud credentials) are
# removed before they start, so no code they run (kernels, a user's file, mined packages, a model's answers) sees them.
NO_SECRETS_COMMANDS = frozenset({"build", "extract", "eval", "views", "stats", "check-templates"})


def drop_secrets(args: argparse.Namespace) -> list[str]:
    """Remove the secrets from this process's environment before a command that needs none (not ``publish``).

    Kept: every secret for a ``build`` into a URL other than ``file://`` (its storage needs its
    credentials, which may be any; only warp-ir's own templates run there), and the Hugging Face
    token variables when ``--tokenizer`` names a Hub repository (a gated one needs the token).

    Returns:
        The names removed (see :func:`extraction.environ.drop_secrets_from_process`).
    """
    from extraction.environ import HF_TOKEN_NAMES, drop_secrets_from_process  # noqa: PLC0415

    if args.command not in NO_SECRETS_COMMANDS:
        return []
    if args.command == "build" and isinstance(args.out, str) and not args.out.startswith("file://"):
        logging.getLogger(__name__).info("keeping the environment's credentials: --out %s is storage that needs them",
                                         args.out)
        return []
    tokenizer = getattr(args, "tokenizer", None)
    removed = drop_secrets_from_process(HF_TOKEN_NAMES if tokenizer and not Path(tokenizer).exists() else ())
    if removed:
        logging.getLogger(__name__).info("removed from the environment (the command needs none): %s",
                                         ", ".join(removed))
    return removed


PROGRESS_LOGGER = LOGGER  # what a person waits on (planning, compiling, mining, scoring): shown without -v


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each line (a test may have replaced it)."""

    @property
    def stream(self):  # a property where logging has an attribute
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _show_progress(verbose: bool, quiet: bool = False) -> None:
    """Show the ``warp_ir.progress`` logger's INFO lines on standard error, plain, when the rest logs at WARNING.

    With ``-v`` everything at INFO is shown already: the lines go through the root's handler, like the others,
    and :mod:`common.progress` draws no bars among them. With ``--quiet`` no progress is shown at all.
    """
    progress = logging.getLogger(PROGRESS_LOGGER)
    for handler in [h for h in progress.handlers if isinstance(h, _StderrHandler)]:
        progress.removeHandler(handler)  # main() called again in one process: one handler, not two
    allow_bars(not verbose)
    progress.setLevel(logging.WARNING if quiet else logging.NOTSET if verbose else logging.INFO)
    progress.propagate = verbose  # not through the root's handler as well, whose lines are for warnings
    if not verbose:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        progress.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``warp-ir`` console script; returns the exit status.

    0: done. 2: a mistake of the user's (an option, a file, a folder: :class:`common.errors.WarpIRError`), said
    in one line. 1: anything else, a failure of warp-ir or a library under it: one line naming it, its traceback
    in a crash log (:func:`write_crash_log`), and how to report it; ``--debug`` lets it escape instead. 130:
    interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its one-line error (or the help)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    _show_progress(args.verbose, args.quiet)
    drop_secrets(args)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("warp-ir: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        mistake = mistake_in(exc)
        if mistake is not None:
            print(f"warp-ir: error: {mistake}", file=sys.stderr)
            return 2
        return report_crash(exc, argv)


if __name__ == "__main__":
    sys.exit(main())
