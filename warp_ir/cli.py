"""The ``warp-ir`` command line: build, extract, stats, publish, check-templates."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from extraction.record import TARGETS, VALIDATION_LEVELS


class UsageError(Exception):
    """A user mistake: reported in one line, exit status 2."""


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _targets(value: str) -> list[str]:
    targets = _csv(value)
    bad = [t for t in targets if t not in TARGETS]
    if bad or not targets:
        raise argparse.ArgumentTypeError(f"targets must be among {','.join(TARGETS)}, got {value!r}")
    return targets


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return n


def _ratios(value: str) -> dict[str, float]:
    parts = [float(x) for x in _csv(value)]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("--split-ratios takes three numbers: train,validation,test")
    return dict(zip(("train", "validation", "test"), parts))


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``warp-ir``."""
    p = argparse.ArgumentParser(prog="warp-ir", description="Build the warp-ir dataset: Warp kernels paired "
                                "with the C++/CUDA code Warp generates for them.")
    p.add_argument("-v", "--verbose", action="store_true", help="log every rejection and shard")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the dataset into a Hub-ready folder")
    b.add_argument("--out", required=True, type=Path, help="output folder")
    b.add_argument("--config", choices=("synthetic", "real"), default="synthetic",
                   help="synthetic: programs from the templates (data/); real: kernels mined from real Warp code (real/)")
    b.add_argument("--packages", type=_csv, default=None,
                   help="real config: distributions to mine (default warp-lang,mujoco-warp)")
    b.add_argument("--num-samples", type=_positive, default=1000, help="distinct programs to draw (default 1000)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--families", type=_csv, default=None, help="comma-separated families (default: all)")
    b.add_argument("--targets", type=_targets, default=list(TARGETS), help="cpu,cuda (default both)")
    b.add_argument("--validate", choices=VALIDATION_LEVELS, default="codegen")
    b.add_argument("--num-proc", type=_positive, default=1, help="worker processes")
    b.add_argument("--shard-size", type=_positive, default=100, help="programs per shard")
    b.add_argument("--split-ratios", type=_ratios, default=None, help="train,validation,test (default 0.9,0.05,0.05)")
    b.add_argument("--keep-cache", action="store_true", help="keep the cache and finished shards in OUT/.warp-ir-cache")
    b.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: datasets' builder with --num-proc processes; ray: the same shards as Ray tasks")
    b.add_argument("--address", default=None, help="ray engine: address of a running Ray cluster "
                   "(default: start a local Ray instance)")

    e = sub.add_parser("extract", help="extract the generated code of the kernels in a file or module")
    e.add_argument("target", help="a .py file or an importable module name")
    e.add_argument("--targets", type=_targets, default=list(TARGETS))
    e.add_argument("--out", type=Path, default=None, help="JSONL file (default: standard output)")

    s = sub.add_parser("stats", help="statistics of a built folder")
    s.add_argument("folder", type=Path)
    s.add_argument("--config", choices=("synthetic", "real"), default="synthetic")
    s.add_argument("--json", action="store_true", help="print JSON")

    u = sub.add_parser("publish", help="upload a built folder to the Hugging Face Hub")
    u.add_argument("folder", type=Path)
    u.add_argument("--repo", required=True, help="ORG/NAME")
    u.add_argument("--private", action="store_true")

    c = sub.add_parser("check-templates", help="render and compile programs of each template")
    c.add_argument("--families", type=_csv, default=None)
    c.add_argument("-n", type=_positive, default=50, help="programs per template")
    return p


def cmd_build(args: argparse.Namespace) -> int:
    from warp_ir.build import build  # noqa: PLC0415

    config = {"num_samples": args.num_samples, "seed": args.seed, "families": args.families,
              "targets": tuple(args.targets), "validate": args.validate, "shard_size": args.shard_size}
    if args.split_ratios:
        config["split_ratios"] = args.split_ratios
    if args.packages:
        config["packages"] = tuple(args.packages)
    try:
        result = build(args.out, config_name=args.config, num_proc=args.num_proc, keep_cache=args.keep_cache,
                       engine=args.engine, address=args.address, **config)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    rejected = sum(result.rejected.values())
    print(f"wrote {args.out} ({args.config}): " + ", ".join(f"{k} {v}" for k, v in result.rows.items())
          + f" rows in {result.seconds:.1f} s; {rejected} rejected")
    report = result.stats["build"].get("real_report")
    if report:
        t = report["totals"]
        print(f"  real code: {t['kernels_found']} kernels found, {t['extracted']} of {t['to_extract']} extracted "
              f"({(t['extracted_fraction'] or 0):.1%}), {t['failed_count']} failed, {t['generic_no_overload']} "
              f"generic without overload, {t['duplicates']} duplicates")
        for name, rep in report["packages"].items():
            print(f"    {name} {rep['version'] or ''} [{rep['status']}]: found {rep['kernels_found']}, "
                  f"extracted {rep['extracted']}, failed {rep['failed_count']}")
    for reason, n in sorted(result.rejected.items(), key=lambda kv: -kv[1]):
        print(f"  {n:>5}  {reason}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from extraction import ExtractionError, LoadError, extract_target  # noqa: PLC0415

    try:
        records = extract_target(args.target, tuple(args.targets))
    except (LoadError, ExtractionError) as exc:
        raise UsageError(str(exc)) from exc
    lines = [json.dumps(r.to_row()) for r in records]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {len(records)} kernel(s) to {args.out}")
    else:
        print("\n".join(lines))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from warp_ir.stats import compute_stats, format_stats  # noqa: PLC0415

    try:
        stats = compute_stats(args.folder, args.config)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(stats, indent=1) if args.json else format_stats(stats))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from warp_ir.publish import PublishError, publish  # noqa: PLC0415

    try:
        url = publish(args.folder, args.repo, private=args.private)
    except PublishError as exc:
        raise UsageError(str(exc)) from exc
    print(f"published {args.folder} to {url}")
    return 0


def cmd_check_templates(args: argparse.Namespace) -> int:
    from extraction import init_quiet  # noqa: PLC0415
    from generator.check import check_template  # noqa: PLC0415
    from generator.templates import families, load_templates  # noqa: PLC0415

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
            "check-templates": cmd_check_templates}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``warp-ir`` console script."""
    parser = make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"warp-ir: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("warp-ir: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
