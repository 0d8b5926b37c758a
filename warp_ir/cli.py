"""The ``warp-ir`` command line: build, extract, stats, views, eval, publish, check-templates."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from extraction.record import TARGETS, VALIDATION_LEVELS

if TYPE_CHECKING:
    from warp_ir.views import ViewOptions


class UsageError(Exception):
    """A user mistake: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (``warp-ir build: error: ...``) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print one line naming the command and the mistake, then exit with status 2.

        A word of the message longer than 100 characters (a value argparse quotes whole, such as an
        invalid choice) is shown short, as the option types show theirs.
        """
        message = re.sub(r"\S{101,}", lambda m: _shown(m.group(0).strip("'\"")), message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _names(value: str) -> list[str]:
    names = _csv(value)
    if not names:
        raise argparse.ArgumentTypeError(f"needs at least one name, got {_shown(value)}")
    return names


def _targets(value: str) -> list[str]:
    targets = _csv(value)
    bad = [t for t in targets if t not in TARGETS]
    if bad or not targets:
        raise argparse.ArgumentTypeError(f"targets must be among {','.join(TARGETS)}, got {_shown(value)}")
    return targets


MAX_SHOWN = 40  # characters of a value an error message shows; a longer one is described ("a 5,001-digit number")
MAX_DIGITS = 20  # digits of a whole-number option (seeds included: 20 digits hold any 64-bit seed)


def _shown(value: str) -> str:
    """``value`` as an error message shows it: quoted when short, described when long (never echoed whole)."""
    if len(value) <= MAX_SHOWN:
        return repr(value)
    digits = value.strip().lstrip("+-").replace("_", "")
    if digits.isdigit():
        return f"a {len(digits):,}-digit number"
    return f"{value[:MAX_SHOWN - 10]!r}... ({len(value):,} characters)"


def _whole(value: str, least: int | None = None, most: int | None = None, why: str = "") -> int:
    """``value`` as a whole number from ``least`` to ``most``; the error says which bound, and shows ``value`` short.

    Numbers of more than :data:`MAX_DIGITS` digits are refused before ``int`` sees them (Python refuses
    more than 4,300 digits, with a message that would not help).
    """
    digits = value.strip().lstrip("+-").replace("_", "")
    negative = value.strip().startswith("-")
    if digits.isdigit() and len(digits) > MAX_DIGITS:
        if most is not None and not negative:
            raise argparse.ArgumentTypeError(f"must be at most {most:,}{why}, got {_shown(value)}")
        raise argparse.ArgumentTypeError(f"must be a whole number of at most {MAX_DIGITS} digits, got {_shown(value)}")
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {_shown(value)}") from None
    if least is not None and n < least:
        raise argparse.ArgumentTypeError(f"must be at least {least:,}, got {_shown(value)}")
    if most is not None and n > most:
        raise argparse.ArgumentTypeError(f"must be at most {most:,}{why}, got {_shown(value)}")
    return n


def _positive(value: str) -> int:
    return _whole(value, least=1)


def _integer(value: str) -> int:
    return _whole(value)


def _num_samples(value: str) -> int:
    from generator.planning.plan import MAX_NUM_SAMPLES, PLAN_BYTES_PER_PROGRAM  # noqa: PLC0415 - keeps --help fast

    memory = MAX_NUM_SAMPLES * PLAN_BYTES_PER_PROGRAM / 1e12
    return _whole(value, least=1, most=MAX_NUM_SAMPLES,
                  why=f" (a plan of more would hold over {memory:,.0f} TB in memory)")


def _ratios(value: str) -> dict[str, float]:
    try:
        parts = [float(x) for x in _csv(value)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes three numbers train,validation,test, got {_shown(value)}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"takes three numbers train,validation,test, got {_shown(value)}")
    if not all(math.isfinite(x) and x >= 0 for x in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise argparse.ArgumentTypeError(f"must be three non-negative numbers that sum to 1, got {_shown(value)}")
    return dict(zip(("train", "validation", "test"), parts))


def _twin_threshold(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.5 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0.5 to 1, got {_shown(value)}")
    return number


def _folder(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("needs a folder name, got an empty string")
    return Path(value)


def _output(value: str) -> Path | str:
    """A folder, or an fsspec URL (``s3://...``) kept as it is."""
    return value if "://" in value else _folder(value)


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``warp-ir``."""
    p = _Parser(prog="warp-ir", description="Build the warp-ir dataset: Warp kernels paired "
                                "with the C++/CUDA code Warp generates for them.")
    p.add_argument("-v", "--verbose", action="store_true", help="log every rejection and shard")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the dataset into a Hub-ready folder")
    b.add_argument("--out", required=True, type=_output,
                   help="output folder: new, empty, or made by an earlier warp-ir build (see --overwrite); with "
                   "--engine ray also an fsspec URL every node can write to (s3://bucket/warp-ir, file:///shared/x)")
    b.add_argument("--overwrite", action="store_true",
                   help="build into a folder that holds other files too: README.md, build_info.json and same-named "
                   "data files and figures are replaced (yours are moved to OUT/warp-ir-backup-<time>/), nothing else "
                   "is touched; never a project checkout (.git, pyproject.toml)")
    b.add_argument("--config", choices=("synthetic", "real"), default="synthetic",
                   help="synthetic: programs from the templates (data/); real: kernels mined from real Warp code (real/)")
    b.add_argument("--packages", type=_names, default=None,
                   help="real config: installed distributions to mine (default: warp-lang and every installed "
                   "distribution that depends on it)")
    b.add_argument("--test-packages", type=_names, default=None,
                   help="real config: packages whose rows form the test split, the rest is train (default mujoco-warp)")
    b.add_argument("--allow-license", type=_names, action="extend", default=None, metavar="SPDX",
                   help="real config: also mine code under these SPDX licenses (default: permissive ones only)")
    b.add_argument("--package-timeout", type=_seconds, default=None,
                   help="real config: seconds one package may take to mine (default 1800)")
    b.add_argument("--num-samples", type=_num_samples, default=1000,
                   help="distinct programs to draw (default 1000; at most 1,000,000,000)")
    b.add_argument("--seed", type=_integer, default=0)
    b.add_argument("--families", type=_names, default=None,
                   help="comma-separated families (default: every template family and 'synthesized', the "
                   "type-directed synthesizer)")
    b.add_argument("--targets", type=_targets, default=list(TARGETS), help="cpu,cuda (default both)")
    b.add_argument("--validate", choices=VALIDATION_LEVELS, default="codegen")
    b.add_argument("--num-proc", type=_positive, default=1, help="worker processes")
    b.add_argument("--shard-size", type=_positive, default=100, help="programs per shard")
    b.add_argument("--split-ratios", type=_ratios, default=None, help="train,validation,test (default 0.9,0.05,0.05)")
    b.add_argument("--fuzzy-dedup", action=argparse.BooleanOptionalAction, default=True,
                   help="drop a program whose near-twin is already kept (default: on)")
    b.add_argument("--twin-threshold", type=_twin_threshold, default=None,
                   help="estimated Jaccard of normalised 5-token shingles from which programs are near-twins "
                   "(kept in one split; default 0.85)")
    b.add_argument("--keep-cache", action="store_true", help="keep the cache and finished shards in OUT/.warp-ir-cache")
    b.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: datasets' builder with --num-proc processes; ray: Ray tasks, each writing one Parquet "
                   "file of the same rows (see --rows-per-file)")
    b.add_argument("--address", default=None, help="ray engine: address of a running Ray cluster "
                   "(default: start a local Ray instance)")
    b.add_argument("--rows-per-file", type=_positive, default=None,
                   help="ray engine: programs per Parquet file, each written by one task (default 2000)")
    b.add_argument("--max-in-flight", type=_positive, default=None,
                   help="ray engine: file tasks submitted at once (default: two per CPU of the cluster)")
    b.add_argument("--views", type=_views, default=None,
                   help="also write chat views, one configuration per evaluation task (chat/; synthetic config)")
    _add_length_options(b)

    w = sub.add_parser("views", help="write (or rewrite) the chat views of a built folder: chat/, card, build_info")
    w.add_argument("folder", type=_folder)
    _add_length_options(w)

    e = sub.add_parser("extract", help="extract the generated code of the kernels in a file or module; "
                       "imports (runs) the target's top-level code, in a child process with a time limit")
    e.add_argument("target", help="a .py file or an importable module name")
    e.add_argument("--targets", type=_targets, default=list(TARGETS))
    e.add_argument("--out", type=Path, default=None, help="JSONL file (default: standard output)")
    e.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists")
    e.add_argument("--timeout", type=_seconds, default=120.0,
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
    v.add_argument("--data", type=_folder, required=True, help="a folder warp-ir build wrote")
    v.add_argument("--config", choices=("synthetic", "real"), default="synthetic")
    v.add_argument("--split", default="test")
    v.add_argument("--k", type=_ks, default=None, help="pass@k for these k (default: 1,5,10)")
    v.add_argument("--num-proc", type=_positive, default=1, help="processes scoring at once")
    v.add_argument("--seed", type=_integer, default=0, help="seed of the inputs kernels are launched on")
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
    c.add_argument("--families", type=_names, default=None)
    c.add_argument("-n", type=_positive, default=50, help="programs per template")
    return p


def _ks(value: str) -> list[int]:
    ks = [_positive(k) for k in _csv(value)]
    if not ks:
        raise argparse.ArgumentTypeError(f"needs at least one k, got {_shown(value)}")
    return sorted(set(ks))


def _views(value: str) -> list[str]:
    kinds = _names(value)
    if any(k != "chat" for k in kinds):
        raise argparse.ArgumentTypeError(f"the only view is chat, got {_shown(value)}")
    return kinds


def _add_length_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokenizer", default=None, help="count tokens with this Hugging Face tokenizer (a Hub name, or "
                   "a local tokenizer.json or folder holding one): the card shows their percentiles")
    p.add_argument("--max-chars", type=_positive, default=None,
                   help="chat views: leave out (and count) chats longer than this many characters")
    p.add_argument("--max-tokens", type=_positive, default=None,
                   help="chat views: leave out (and count) chats longer than this many tokens (needs --tokenizer)")


def _view_options(args: argparse.Namespace, wanted: bool) -> ViewOptions | None:
    from warp_ir.views import ViewOptions  # noqa: PLC0415

    if not wanted:
        if args.max_chars is not None or args.max_tokens is not None:
            raise UsageError("--max-chars and --max-tokens limit the chat views: add --views chat")
        return None
    try:
        return ViewOptions(("chat",), args.max_chars, args.max_tokens, args.tokenizer)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def cmd_views(args: argparse.Namespace) -> int:
    from warp_ir.build import add_views  # noqa: PLC0415
    from warp_ir.lock import FolderLocked  # noqa: PLC0415

    options = _view_options(args, True)
    try:
        report = add_views(args.folder, options)
    except (ValueError, FolderLocked) as exc:
        raise UsageError(str(exc)) from exc
    for name, entry in report["tasks"].items():
        dropped = ", ".join(f"{k} {v}" for k, v in entry["dropped"].items()) or "none"
        print(f"{entry['config']} ({name}): " + ", ".join(f"{k} {v}" for k, v in entry["rows"].items())
              + f" rows; left out: {dropped}")
    return 0


# options of the real configuration -> WarpIRConfig fields
_REAL_OPTIONS = {"packages": "packages", "test_packages": "test_packages", "allow_license": "allow_licenses",
                 "package_timeout": "package_timeout"}


def cmd_build(args: argparse.Namespace) -> int:
    from datasets.exceptions import DatasetGenerationError  # noqa: PLC0415

    from generator.codegen.shard import ChildFailed, TemplatesChanged  # noqa: PLC0415
    from warp_ir.build import build  # noqa: PLC0415
    from warp_ir.lock import FolderLocked  # noqa: PLC0415
    from warp_ir.ray_engine.driver import RayTaskFailed  # noqa: PLC0415 - Ray itself is imported when it runs

    config = {"num_samples": args.num_samples, "seed": args.seed, "families": args.families,
              "targets": tuple(args.targets), "validate": args.validate, "shard_size": args.shard_size,
              "fuzzy_dedup": args.fuzzy_dedup}
    if args.twin_threshold is not None:
        config["twin_threshold"] = args.twin_threshold
    if args.split_ratios:
        config["split_ratios"] = args.split_ratios
    real_only = {option: key for option, key in _REAL_OPTIONS.items() if getattr(args, option)}
    if real_only and args.config != "real":
        raise UsageError(f"{', '.join('--' + o.replace('_', '-') for o in real_only)}: only for --config real")
    for option, key in real_only.items():
        value = getattr(args, option)
        config[key] = tuple(value) if isinstance(value, list) else value
    views = _view_options(args, bool(args.views))
    num_proc = _usable_num_proc(args.num_proc) if args.engine == "local" else args.num_proc
    if args.config == "synthetic":
        _warn_long_plan(args.num_samples)
    try:
        result = build(args.out, config_name=args.config, num_proc=num_proc, keep_cache=args.keep_cache,
                       engine=args.engine, address=args.address, overwrite=args.overwrite, views=views,
                       tokenizer=args.tokenizer, rows_per_file=args.rows_per_file,
                       max_in_flight=args.max_in_flight, **config)
    except (ValueError, FolderLocked) as exc:
        raise UsageError(str(exc)) from exc
    except (RayTaskFailed, ChildFailed, TemplatesChanged, DatasetGenerationError) as exc:
        # not the user's mistake: one line says it (datasets wraps what a shard raised: that is the line)
        cause = exc.__cause__ if isinstance(exc, DatasetGenerationError) else exc
        if not isinstance(cause, (RayTaskFailed, ChildFailed, TemplatesChanged)):
            raise
        print(f"warp-ir: error: {cause}", file=sys.stderr)
        return 1
    rejected = sum(result.rejected.values())
    print(f"wrote {args.out} ({args.config}): " + ", ".join(f"{k} {v}" for k, v in result.rows.items())
          + f" rows in {result.seconds:.1f} s; {rejected} rejected"
          + (f"; {result.reused} finished file(s) of an interrupted run kept" if result.reused else ""))
    if result.backup is not None:
        print(f"  files of yours that the build replaced were moved to {result.backup}")
    report = result.stats["build"].get("real_report")
    if report:
        t = report["totals"]
        print(f"  real code: {t['kernels_found']} kernels found, {t['extracted']} of {t['to_extract']} extracted "
              f"({(t['extracted_fraction'] or 0):.1%}), {t['failed_count']} failed, {t['generic_no_overload']} "
              f"generic without overload, {t['duplicates']} duplicates")
        for name, rep in report["packages"].items():
            print(f"    {name} {rep.get('version') or ''} ({rep.get('license') or 'no license'}) [{rep['status']}] "
                  f"-> {rep['split']}: found {rep.get('kernels_found', 0)}, extracted {rep.get('extracted', 0)} of "
                  f"{rep.get('to_extract', 0)}, failed {rep.get('failed_count', 0)}, duplicates {rep['duplicates']}, "
                  f"rows {rep['records']}")
    for reason, n in sorted(result.rejected.items(), key=lambda kv: -kv[1]):
        print(f"  {n:>5}  {reason}")
    for name, entry in result.stats["build"].get("views", {}).get("tasks", {}).items():
        print(f"  view {entry['config']}: {sum(entry['rows'].values())} rows"
              + "".join(f"; {reason} {n}" for reason, n in entry["dropped"].items()))
    return 0


def _usable_num_proc(asked: int) -> int:
    """``asked``, or the CPU cores this process may use when it asks for more (said on standard error)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if asked <= cores:
        return asked
    print(f"warp-ir: warning: --num-proc {asked:,} is more than the {cores} CPU core(s) this process may use: "
          f"using {cores}", file=sys.stderr)
    return cores


def _warn_long_plan(num_samples: int) -> None:
    """Say on standard error when planning ``num_samples`` programs would take more than a day (or much memory)."""
    from generator.planning.plan import PLAN_BYTES_PER_PROGRAM, PLAN_RATE  # noqa: PLC0415

    seconds = num_samples / PLAN_RATE
    if seconds <= 86_400:
        return
    print(f"warp-ir: warning: at about {PLAN_RATE} programs/s, planning {num_samples:,} programs alone would take "
          f"about {seconds / 86_400:,.1f} days and hold about {num_samples * PLAN_BYTES_PER_PROGRAM / 1e9:,.0f} GB "
          "in memory, before any is compiled (Ctrl-C stops it)", file=sys.stderr)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {_shown(value)}")
    return seconds


def _check_jsonl_out(out: Path | None, overwrite: bool) -> None:
    """``extract --out``: a file name, not an existing folder, and not an existing file unless ``overwrite``."""
    if out is None:
        return
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory: name a .jsonl file")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists: pass --overwrite to replace it")
    if out.parent.exists() and not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: {out.parent} is not a folder")


def cmd_extract(args: argparse.Namespace) -> int:
    from extraction import ChildError, extract_in_child  # noqa: PLC0415
    from common.atomic import write_atomic  # noqa: PLC0415

    _check_jsonl_out(args.out, args.overwrite)  # before the (slow) extraction, and again right before writing
    try:
        rows = extract_in_child(args.target, tuple(args.targets), args.timeout)
    except ChildError as exc:
        raise UsageError(str(exc)) from exc
    text = "\n".join(json.dumps(row) for row in rows) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    _check_jsonl_out(args.out, args.overwrite)
    try:
        write_atomic(args.out, text.encode())
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    print(f"wrote {len(rows)} kernel(s) to {args.out}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from warp_ir.lock import FolderLocked  # noqa: PLC0415
    from warp_ir.outdir import OutputError, opened  # noqa: PLC0415
    from warp_ir.stats import StatsError, compute_stats, diversity, format_diversity, format_stats  # noqa: PLC0415
    from warp_ir.tokens import (  # noqa: PLC0415
        TokenizerError, format_tokens, load_tokenizer, token_lengths, tokenizer_name,
    )

    try:
        tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
        with opened(args.folder, "stats"):
            stats = compute_stats(args.folder, args.config)
            if args.diversity:
                stats["diversity"] = diversity(args.folder, args.config)
            if tokenizer is not None:
                stats["tokens"] = token_lengths(args.folder, tokenizer, tokenizer_name(args.tokenizer), args.config)
    except (FileNotFoundError, StatsError, FolderLocked, OutputError, TokenizerError) as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps(stats, indent=1))
    else:
        print(format_stats(stats))
        if "diversity" in stats:
            print(format_diversity(stats["diversity"]))
        if "tokens" in stats:
            print(format_tokens(stats["tokens"]))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from warp_ir.evaluate import DEFAULT_KS, EvalError, evaluate  # noqa: PLC0415
    from warp_ir.lock import FolderLocked  # noqa: PLC0415
    from warp_ir.outdir import BUILD_INFO, OutputError, opened, read_build_info  # noqa: PLC0415

    if args.out is not None:
        if args.out.is_dir():
            raise UsageError(f"--out {args.out} is a folder, not a file")
        if args.out.exists() and not args.overwrite:
            raise UsageError(f"--out {args.out} exists: choose a new file, or pass --overwrite to replace it")
        if not args.out.parent.is_dir():
            raise UsageError(f"--out {args.out}: no folder {args.out.parent}")
    if args.data.is_dir() and read_build_info(args.data) is None:  # not ours: not even a lock file goes there
        raise UsageError(f"--data {args.data} is not a warp-ir build (no {BUILD_INFO} a build wrote)")
    try:
        with opened(args.data, "eval"):  # no build may replace the rows while they are scored
            report = evaluate(args.predictions, args.data, args.config, args.split, args.k or DEFAULT_KS,
                              args.num_proc, args.out, args.seed)
    except (EvalError, FolderLocked, OutputError) as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(report.to_json(), indent=1) if args.json else report.render())
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from warp_ir.lock import FolderLocked  # noqa: PLC0415
    from warp_ir.outdir import OutputError, opened  # noqa: PLC0415
    from warp_ir.publish import PublishError, plan_upload, publish  # noqa: PLC0415

    try:
        with opened(args.folder, "publish"):  # no build may start in the folder while it is uploaded
            if args.dry_run:  # no token, no HfApi, nothing sent
                plan = plan_upload(args.folder, args.repo)
            else:
                url = publish(args.folder, args.repo, private=args.private)
    except (PublishError, FolderLocked, OutputError) as exc:
        raise UsageError(str(exc)) from exc
    if not args.dry_run:
        print(f"published {args.folder} to {url}")
        return 0
    print(f"would upload {len(plan.files)} files of {args.folder} to datasets/{args.repo}:")
    for rel, size in plan.files:
        print(f"{size:>15,}  {rel}")
    print(f"{plan.size:>15,}  bytes in all ({plan.size / 1024**2:.1f} MiB)")
    print(plan.left_behind_line() or "left behind (not part of the build): nothing")
    print("dry run: nothing was sent")
    return 0


def cmd_check_templates(args: argparse.Namespace) -> int:
    from extraction import init_quiet  # noqa: PLC0415
    from generator.codegen.check import check_template  # noqa: PLC0415
    from generator.programs.templates import families, load_templates  # noqa: PLC0415

    known = families()
    unknown = [f for f in args.families or [] if f not in known]
    if unknown:
        raise UsageError(f"unknown families: {', '.join(unknown)} (known: {', '.join(known)})")
    init_quiet()
    failed = 0
    for t in load_templates():
        if args.families and t.family not in args.families:
            continue
        r = check_template(t, args.n)
        failed += r.failed
        status = "ok" if not r.failed and not r.missing_builtins else "FAIL"
        print(f"{status:4} {t.name:<40} {r.ok}/{args.n} accepted"
              + (f"; missing builtins: {sorted(r.missing_builtins)}" if r.missing_builtins else "")
              + "".join(f"\n       {n} x {reason}" for reason, n in r.reasons.items()))
    return 1 if failed else 0


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


PROGRESS_LOGGER = "warp_ir.progress"  # what a person waits on (planning): shown without -v


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each line (a test may have replaced it)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _show_progress(verbose: bool) -> None:
    """Show the ``warp_ir.progress`` logger's INFO lines on standard error, plain, when the rest logs at WARNING.

    With ``-v`` everything at INFO is shown already: the lines go through the root's handler, like the others.
    """
    progress = logging.getLogger(PROGRESS_LOGGER)
    for handler in [h for h in progress.handlers if isinstance(h, _StderrHandler)]:
        progress.removeHandler(handler)  # main() called again in one process: one handler, not two
    progress.setLevel(logging.NOTSET if verbose else logging.INFO)
    progress.propagate = verbose  # not through the root's handler as well, whose lines are for warnings
    if not verbose:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        progress.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``warp-ir`` console script; returns the exit status (2 for a user mistake)."""
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its one-line error (or the help)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    _show_progress(args.verbose)
    drop_secrets(args)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"warp-ir: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused (full disk, permissions, a file where a folder should be)
        where = f": {exc.filename}" if exc.filename else ""
        print(f"warp-ir: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("warp-ir: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
