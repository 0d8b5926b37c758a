"""The ``warp-ir`` commands: what each does with its parsed options (:mod:`warp_ir.cli` parses and dispatches)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from common.atomic import write_atomic
from warp_ir.cli_types import UsageError

if TYPE_CHECKING:
    from warp_ir.views import ViewOptions


def _view_options(args: argparse.Namespace, wanted: bool) -> ViewOptions | None:
    from warp_ir.views import ViewOptions  # noqa: PLC0415

    if not wanted:
        if args.max_chars is not None or args.max_tokens is not None:
            raise UsageError("--max-chars and --max-tokens limit the chat views: add --views chat")
        return None
    return ViewOptions(("chat",), args.max_chars, args.max_tokens, args.tokenizer)  # ConfigError: one line


def cmd_views(args: argparse.Namespace) -> int:
    from warp_ir.build import add_views  # noqa: PLC0415

    options = _view_options(args, True)
    assert options is not None  # asked for: never None
    report = add_views(args.folder, options)  # a mistake (OutputError, FolderLocked...) is one line
    for name, entry in report["tasks"].items():
        dropped = ", ".join(f"{k} {v}" for k, v in entry["dropped"].items()) or "none"
        print(f"{entry['config']} ({name}): " + ", ".join(f"{k} {v}" for k, v in entry["rows"].items())
              + f" rows; left out: {dropped}")
    return 0


# options of the real configuration -> generator.config.BuildConfig fields
_REAL_OPTIONS = {"packages": "packages", "test_packages": "test_packages", "allow_license": "allow_licenses",
                 "package_timeout": "package_timeout", "fem_rows": "include_fem"}


def cmd_build(args: argparse.Namespace) -> int:
    from warp_ir.build import build  # noqa: PLC0415

    config = {"num_samples": args.num_samples, "seed": args.seed, "families": args.families,
              "targets": tuple(args.targets), "validate": args.validate, "shard_size": args.shard_size,
              "fuzzy_dedup": args.fuzzy_dedup, "round_trip": args.round_trip}
    if args.twin_threshold is not None:
        config["twin_threshold"] = args.twin_threshold
    if args.unseen_templates is not None:
        config["unseen_templates"] = args.unseen_templates
    if args.split_ratios:
        config["split_ratios"] = args.split_ratios
    real_only = {option: key for option, key in _REAL_OPTIONS.items() if getattr(args, option)}
    if real_only and args.config != "real":
        raise UsageError(f"{', '.join('--' + o.replace('_', '-') for o in real_only)}: only for --config real")
    for option, key in real_only.items():
        value = getattr(args, option)
        config[key] = tuple(value) if isinstance(value, list) else value
    views = _view_options(args, bool(args.views))
    baseline_rows = args.baseline_rows
    if baseline_rows is None:  # a URL's rows are not read back here
        from warp_ir.request import is_url  # noqa: PLC0415
        from warp_ir.retrieval import default_rows  # noqa: PLC0415

        baseline_rows = 0 if is_url(str(args.out)) else default_rows()
    num_proc = _usable_num_proc(args.num_proc) if args.engine == "local" else args.num_proc
    if args.config == "synthetic":
        _warn_long_plan(args.num_samples)
    # a mistake (ConfigError, OutputError, FolderLocked...) is one line, exit 2; a failure (a child that died, a Ray
    # task that raised, datasets' DatasetGenerationError around either) is main()'s crash report, exit 1
    result = build(args.out, config_name=args.config, num_proc=num_proc, keep_cache=args.keep_cache,
                   engine=args.engine, address=args.address, overwrite=args.overwrite, views=views,
                   tokenizer=args.tokenizer, rows_per_file=args.rows_per_file,
                   max_in_flight=args.max_in_flight, baseline_rows=baseline_rows, **config)
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
    for entry in result.stats["build"].get("views", {}).get("tasks", {}).values():
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
    from extraction.child import extract_in_child  # noqa: PLC0415

    _check_jsonl_out(args.out, args.overwrite)  # before the (slow) extraction, and again right before writing
    rows = extract_in_child(args.target, tuple(args.targets), args.timeout)  # ChildError: one line
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
    from warp_ir.outdir import opened  # noqa: PLC0415
    from warp_ir.stats import compute_stats, diversity, format_diversity, format_stats  # noqa: PLC0415
    from warp_ir.tokens import format_tokens, load_tokenizer, token_lengths, tokenizer_name  # noqa: PLC0415

    # StatsError, TokenizerError, OutputError, FolderLocked: one line
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
    with opened(args.folder, "stats"):
        stats = compute_stats(args.folder, args.config)
        if args.diversity:
            stats["diversity"] = diversity(args.folder, args.config)
        if tokenizer is not None:
            stats["tokens"] = token_lengths(args.folder, tokenizer, tokenizer_name(args.tokenizer), args.config)
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
    from warp_ir.evaluate import DEFAULT_KS, evaluate  # noqa: PLC0415
    from warp_ir.outdir import BUILD_INFO, opened, read_build_info  # noqa: PLC0415

    if args.out is not None:
        if args.out.is_dir():
            raise UsageError(f"--out {args.out} is a folder, not a file")
        if args.out.exists() and not args.overwrite:
            raise UsageError(f"--out {args.out} exists: choose a new file, or pass --overwrite to replace it")
        if not args.out.parent.is_dir():
            raise UsageError(f"--out {args.out}: no folder {args.out.parent}")
    if args.data.is_dir() and read_build_info(args.data) is None:  # not ours: not even a lock file goes there
        raise UsageError(f"--data {args.data} is not a warp-ir build (no {BUILD_INFO} a build wrote)")
    with opened(args.data, "eval"):  # no build may replace the rows while they are scored (EvalError: one line)
        report = evaluate(args.predictions, args.data, args.config, args.split, args.k or DEFAULT_KS,
                          args.num_proc, args.out, args.seed, args.isolation)
    print(json.dumps(report.to_json(), indent=1) if args.json else report.render())
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from warp_ir.outdir import opened  # noqa: PLC0415
    from warp_ir.publish import plan_upload, publish  # noqa: PLC0415

    with opened(args.folder, "publish"):  # no build may start in the folder while it is uploaded
        if args.dry_run:  # no token, no HfApi, nothing sent
            plan = plan_upload(args.folder, args.repo)
        else:
            url = publish(args.folder, args.repo, private=args.private)
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
